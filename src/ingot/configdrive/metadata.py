"""``meta_data.json``: who the instance is (uuid, name, hostname) and who may log in (keys).

Two entry points: :func:`apply_ironic_defaults` does exactly what Ironic's conductor does to a
user-supplied ``meta_data`` (fill ``uuid`` and ``name`` from the node, nothing else), and
:func:`build_meta_data` assembles a complete document for Ingot's own CLI and deployment
plans, shaped like metalsmith's (keys as a dict, ``launch_index``, ``availability_zone``...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ingot.errors import InvalidInput

# Key types OpenSSH accepts in authorized_keys (incl. FIDO "sk-" keys and certificates).
_SSH_KEY = re.compile(
    r"^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-\S+|\S+-cert-v01@openssh\.com)"
    r"\s+[A-Za-z0-9+/=]+"
)
# RFC 1123 labels; cloud-init writes this to /etc/hostname.
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def apply_ironic_defaults(
    meta_data: Mapping[str, Any], *, node_uuid: str, node_name: str | None
) -> dict[str, Any]:
    """Return a copy with ``uuid`` and (if the node has one) ``name`` defaulted, as Ironic does.

    cloud-init requires ``uuid`` (it becomes the instance-id); values the caller set win.
    """
    out = dict(meta_data)
    out.setdefault("uuid", node_uuid)
    if node_name:
        out.setdefault("name", node_name)
    return out


def build_meta_data(
    *,
    node_uuid: str,
    node_name: str | None = None,
    hostname: str | None = None,
    public_keys: Sequence[str] | Mapping[str, str] = (),
    availability_zone: str = "",
    project_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A full ``meta_data.json`` for a node; ``hostname`` defaults to the name, then the uuid.

    ``public_keys`` may be a list (stored as ``{"0": key, ...}`` because CirrOS and older
    cloud-init only read the dict form) or a name -> key mapping. ``extra`` keys are merged
    last but cannot override uuid. Raises InvalidInput for a malformed key or hostname.
    """
    keys = normalize_public_keys(public_keys)
    host = hostname or node_name or node_uuid
    check_hostname(host)
    doc: dict[str, Any] = {
        "uuid": node_uuid,
        "hostname": host,
        "public_keys": keys,
        "launch_index": 0,
        "availability_zone": availability_zone,
        "files": [],
        "meta": {},
    }
    if node_name:
        doc["name"] = node_name
    if project_id:
        doc["project_id"] = project_id
    if extra:
        if "uuid" in extra and extra["uuid"] != node_uuid:
            raise InvalidInput(
                f"meta_data uuid {extra['uuid']!r} differs from node {node_uuid}; "
                "drop 'uuid' from the extra meta data (it is always the node's)"
            )
        doc.update(extra)
    return doc


def normalize_public_keys(keys: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    """Return keys as ``{"name": "ssh-... AAAA..."}``, checking each looks like an SSH key."""
    if isinstance(keys, str):
        keys = [k for k in keys.splitlines() if k.strip() and not k.startswith("#")]
    items = keys.items() if isinstance(keys, Mapping) else ((str(i), k) for i, k in enumerate(keys))
    out: dict[str, str] = {}
    for name, key in items:
        if not isinstance(key, str) or not _SSH_KEY.match(key.strip()):
            shown = key[:40] if isinstance(key, str) else type(key).__name__
            raise InvalidInput(
                f"public_keys[{name}] is not an SSH public key (got {shown!r}); pass the "
                "contents of a .pub file, e.g. 'ssh-ed25519 AAAA... user@host'"
            )
        out[str(name)] = key.strip()
    return out


def check_hostname(hostname: str) -> None:
    """Raise InvalidInput unless ``hostname`` is a valid (optionally dotted) host name."""
    labels = hostname.rstrip(".").split(".")
    if len(hostname) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise InvalidInput(
            f"hostname {hostname!r} is not a valid host name; use letters, digits and '-' "
            "in dot-separated labels of at most 63 characters (e.g. 'compute-01.example.com')"
        )
