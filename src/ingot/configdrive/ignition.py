"""Ignition (CoreOS, Flatcar, RHCOS) user data: recognise it and add SSH keys and a hostname.

Ignition configs go on the config drive untouched as ``user_data``; Ignition reads them there,
and refuses the whole config on the first syntax error, so a config that *looks* like Ignition
but is not valid JSON is rejected here with the line and column (operators paste YAML-ish JSON
with trailing commas, as in seed 004). Versions: 2.x (``passwd.users[].sshAuthorizedKeys``,
files need ``filesystem: root``) and 3.x (files need ``overwrite`` to replace an image file).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ingot.errors import InvalidInput

SUPPORTED_MAJORS = (2, 3)
_MENTIONS_IGNITION = re.compile(r"[\"']ignition")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(-experimental)?$")


def looks_like_ignition(data: bytes | str) -> bool:
    """True for a JSON object that mentions ``ignition``: what Ignition would try to parse."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text.lstrip().startswith("{") and _MENTIONS_IGNITION.search(text) is not None


def parse_ignition(data: bytes | str, *, field: str = "user_data") -> dict[str, Any] | None:
    """Return the parsed Ignition config, or None when ``data`` is not Ignition at all.

    Raises InvalidInput when it looks like Ignition but is not valid JSON, or has no
    ``ignition.version``, or a version Ignition no longer reads (1.x) or does not exist yet.
    """
    if not looks_like_ignition(data):
        return None
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{field} looks like an Ignition config but is not valid JSON: {exc.msg} at line "
            f"{exc.lineno} column {exc.colno}{_hint(text, exc.pos)}"
        ) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("ignition"), dict):
        if isinstance(doc, dict) and "ignitionVersion" in doc:
            raise InvalidInput(
                f"{field} is an Ignition 1 config (ignitionVersion); current CoreOS and RHCOS "
                "only read spec 2.x/3.x: convert it, e.g. with 'butane'"
            )
        return None
    ignition_major(doc, field=field)
    return doc


def ignition_major(doc: Mapping[str, Any], *, field: str = "user_data") -> int:
    """The spec major version (2 or 3) of a parsed config; InvalidInput if absent or unknown."""
    version = doc.get("ignition", {}).get("version")
    match = _VERSION.match(version) if isinstance(version, str) else None
    if match is None:
        raise InvalidInput(
            f"{field}.ignition.version is {version!r}; Ignition needs a spec version string "
            "such as '3.4.0' (Fedora CoreOS) or '2.2.0' (RHCOS 4.1-4.5)"
        )
    major = int(match.group(1))
    if major not in SUPPORTED_MAJORS:
        raise InvalidInput(
            f"{field}.ignition.version {version!r} is not a spec Ingot knows (2.x, 3.x)"
        )
    return major


def merge_ignition(
    config: Mapping[str, Any],
    *,
    ssh_keys: Sequence[str] = (),
    hostname: str | None = None,
    user: str = "core",
) -> dict[str, Any]:
    """Return a copy of ``config`` with ``ssh_keys`` authorised for ``user`` and the hostname set.

    Keys already present are not repeated; an ``/etc/hostname`` the config writes itself wins.
    The input is not modified.
    """
    doc = copy.deepcopy(dict(config))
    major = ignition_major(doc)
    if ssh_keys:
        users = doc.setdefault("passwd", {}).setdefault("users", [])
        entry = next((u for u in users if u.get("name") == user), None)
        if entry is None:
            entry = {"name": user}
            users.append(entry)
        keys = entry.setdefault("sshAuthorizedKeys", [])
        keys.extend(k for k in ssh_keys if k not in keys)
    if hostname:
        files = doc.setdefault("storage", {}).setdefault("files", [])
        if not any(f.get("path") == "/etc/hostname" for f in files):
            files.append(_hostname_file(hostname, major))
    return doc


def _hostname_file(hostname: str, major: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": "/etc/hostname",
        "mode": 0o644,
        "contents": {"source": f"data:,{hostname}%0A"},
    }
    if major == 2:
        entry["filesystem"] = "root"
    else:
        entry["overwrite"] = True
    return entry


def _hint(text: str, pos: int) -> str:
    before = text[:pos].rstrip()
    if before.endswith(",") and text[pos:].lstrip()[:1] in ("}", "]"):
        return " (a trailing comma before a closing bracket; JSON does not allow it: remove it)"
    if text[pos : pos + 1] == "'":
        return " (JSON strings need double quotes)"
    return ""
