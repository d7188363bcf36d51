"""Agent configuration from the kernel command line, as IPA reads it, plus lab flags.

IPA maps every ``ipa-<option>=<value>`` kernel argument to its option ``<option>``
(dashes become underscores); ``BOOTIF=01-aa-bb-cc-dd-ee-ff`` (set by PXELINUX/iPXE) names
the boot NIC. Only :mod:`ingot_agent.cli` reads files, argv and the environment.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class AgentConfig:
    """Everything the agent needs; built once by the CLI and passed down."""

    api_url: str | None = None
    listen_host: str = "0.0.0.0"
    listen_port: int = 9999
    advertise_host: str | None = None
    advertise_port: int | None = None
    boot_mac: str | None = None
    node_uuid: str | None = None
    insecure: bool = False
    debug: bool = False
    global_request_id: str | None = None
    inspection_callback_url: str | None = None
    agent_token: str | None = None
    lookup_timeout: float = 300.0
    lookup_interval: float = 1.0
    heartbeat_interval: float | None = None
    hardware: str = "linux"
    root_dir: Path | None = None
    standalone: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def parse_cmdline(text: str) -> dict[str, str]:
    """Split a kernel command line into ``key -> value`` (flags without ``=`` map to "")."""
    params: dict[str, str] = {}
    for word in shlex.split(text):
        key, _, value = word.partition("=")
        params[key] = value
    return params


def bootif_to_mac(value: str) -> str | None:
    """``01-52-54-00-00-00-30`` (PXELINUX: ARP type 1 then the MAC) -> ``52:54:00:00:00:30``."""
    parts = value.strip().lower().split("-")
    if len(parts) == 7 and parts[0] == "01":
        parts = parts[1:]
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        return None
    return ":".join(parts)


def config_from_cmdline(text: str) -> dict[str, object]:
    """Translate IPA's kernel arguments into :class:`AgentConfig` keyword arguments."""
    params = parse_cmdline(text)
    out: dict[str, object] = {}
    ipa = {k[4:].replace("-", "_"): v for k, v in params.items() if k.startswith("ipa-")}
    if "api_url" in ipa:
        out["api_url"] = ipa.pop("api_url")
    for key in ("listen_host", "advertise_host", "global_request_id", "agent_token"):
        if key in ipa:
            out[key] = ipa.pop(key)
    if "inspection_callback_url" in ipa:
        out["inspection_callback_url"] = ipa.pop("inspection_callback_url")
    for key in ("listen_port", "advertise_port"):
        if key in ipa:
            out[key] = int(ipa.pop(key))
    for key in ("lookup_timeout", "lookup_interval"):
        if key in ipa:
            out[key] = float(ipa.pop(key))
    for key in ("insecure", "debug", "standalone"):
        if key in ipa:
            out[key] = ipa.pop(key).lower() in TRUE_WORDS
    if "BOOTIF" in params:
        out["boot_mac"] = bootif_to_mac(params["BOOTIF"])
    out["extra"] = ipa
    return out
