"""BMC access fields (address, port, user, password, system) turned into ``driver_info``.

Every format names these fields differently (``pm_addr``, ``baremetal_ipmi_ip``, CSV column 3);
``BmcFields`` carries the values with the names the operator wrote, so problems point at the
operator's own field names. Passwords are never echoed in problems or notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ingot.inventory import field_checks as check
from ingot.inventory.driver_names import IPMI, REDFISH
from ingot.inventory.problems import ProblemLog, Where


@dataclass(frozen=True)
class Field:
    """A value with the field name it was written under (None: not in the file)."""

    name: str
    value: Any = None

    @property
    def given(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class BmcFields:
    address: Field
    port: Field
    username: Field
    password: Field
    system_id: Field


def driver_info(
    hardware_type: str, bmc: BmcFields, where: Where, log: ProblemLog, notes: list[str]
) -> dict[str, Any]:
    """``driver_info`` for the hardware type; records problems for missing or bad fields."""
    if hardware_type == IPMI:
        placeholder_note(bmc, notes)
        return _ipmi(bmc, where, log)
    if hardware_type == REDFISH:
        placeholder_note(bmc, notes)
        return _redfish(bmc, where, log, notes)
    given = [f.name for f in (bmc.address, bmc.port, bmc.username, bmc.password) if f.given]
    if given:
        notes.append(
            f"{', '.join(given)} ignored: hardware type '{hardware_type}' does not talk to a BMC"
        )
    return {}


def placeholder_note(bmc: BmcFields, notes: list[str]) -> None:
    """Warn about a password like ``$YOURIPMIPASS``: a template variable nobody filled in."""
    value = bmc.password.value
    if isinstance(value, str) and value.startswith("$"):
        notes.append(
            f"{bmc.password.name} looks like an unexpanded variable (starts with '$'); "
            "set the real password before managing the node"
        )


def _require_credentials(bmc: BmcFields, where: Where, log: ProblemLog) -> None:
    for f in (bmc.username, bmc.password):
        if not f.given:
            log.add(
                where,
                f.name,
                "missing BMC credentials",
                f'add {f.name} (use "" if this BMC really allows an empty user or password)',
            )


def _ipmi(bmc: BmcFields, where: Where, log: ProblemLog) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if not bmc.address.given:
        log.add(
            where,
            bmc.address.name,
            "missing the BMC address for an IPMI node",
            f"add {bmc.address.name} with the BMC's IP address or host name",
        )
    else:
        host = check.bmc_host(log, where, bmc.address.name, bmc.address.value)
        if host is not None:
            info["ipmi_address"] = host
    if bmc.port.given:
        port = check.whole_number(log, where, bmc.port.name, bmc.port.value, "UDP port")
        if port is not None:
            info["ipmi_port"] = port
    _require_credentials(bmc, where, log)
    if bmc.username.given:
        info["ipmi_username"] = str(bmc.username.value)
    if bmc.password.given:
        info["ipmi_password"] = str(bmc.password.value)
    return info


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _redfish(bmc: BmcFields, where: Where, log: ProblemLog, notes: list[str]) -> dict[str, Any]:
    info: dict[str, Any] = {}
    address = _redfish_address(bmc, where, log, notes)
    if address is not None:
        info["redfish_address"] = address
    if bmc.system_id.given:
        info["redfish_system_id"] = str(bmc.system_id.value)
    else:
        notes.append(
            f"no {bmc.system_id.name}: the BMC must expose exactly one System "
            "(otherwise add the path, like /redfish/v1/Systems/1)"
        )
    # TripleO stopped requiring Redfish credentials: emulators and some BMCs need none.
    if bmc.username.given:
        info["redfish_username"] = str(bmc.username.value)
    if bmc.password.given:
        info["redfish_password"] = str(bmc.password.value)
    return info


def _redfish_address(bmc: BmcFields, where: Where, log: ProblemLog, notes: list[str]) -> str | None:
    """The address as TripleO passes it: as written, scheme optional (Ironic assumes https).

    Only http and https make sense. A separate port field, which TripleO silently drops for
    Redfish, is folded into the address instead, with a note.
    """
    name = bmc.address.name
    if not bmc.address.given:
        log.add(
            where,
            name,
            "missing the BMC address for a Redfish node",
            f"add {name}, like https://10.0.0.5 or 10.0.0.5:8000",
        )
        return None
    text = str(bmc.address.value).strip()
    has_scheme = bool(_SCHEME.match(text))
    parts = urlsplit(text if has_scheme else f"https://{text}")
    hostname = parts.hostname or ""
    try:
        written_port = parts.port
        why = ""
    except ValueError:
        written_port, why = None, "its port is not a number"
    if parts.scheme.lower() not in ("http", "https"):
        why = f"scheme {parts.scheme!r} is neither http nor https"
    elif not hostname:
        why = "it has no host"
    if why:
        log.add(
            where,
            name,
            f"not a Redfish address ({why})",
            "give http(s)://host[:port] or just host[:port] (https is assumed)",
        )
        return None
    if bmc.port.given:
        port = check.whole_number(log, where, bmc.port.name, bmc.port.value, "TCP port")
        if port is None:
            return None
        if written_port is not None:
            if written_port != port:
                log.add(
                    where,
                    bmc.port.name,
                    f"port {port} disagrees with port {written_port} in {name}",
                    f"remove {bmc.port.name} or make the two agree",
                )
            return text
        host = f"[{hostname}]" if ":" in hostname else hostname
        netloc = f"{host}:{port}"
        rebuilt = f"{parts.scheme}://{netloc}{parts.path}" if has_scheme else netloc + parts.path
        notes.append(f"{bmc.port.name} {port} folded into redfish_address")
        return rebuilt
    return text


def bmc_identity(driver: str, info: dict[str, Any]) -> str | None:
    """A key that tells whether two nodes point at the same BMC endpoint (None: no BMC).

    Like TripleO's unique id: the Redfish scheme is ignored, the system path is included.
    """
    if driver == IPMI and "ipmi_address" in info:
        parts = [str(info["ipmi_address"]).lower(), str(info.get("ipmi_port", 623))]
        for key in ("ipmi_target_address", "ipmi_target_channel"):
            if info.get(key) is not None:
                parts.append(str(info[key]))
        return "ipmi:" + ":".join(parts)
    if driver == REDFISH and "redfish_address" in info:
        address = _SCHEME.sub("", str(info["redfish_address"]), count=1).rstrip("/").lower()
        system = str(info.get("redfish_system_id", "")).lstrip("/")
        return f"redfish:{address}/{system}"
    return None
