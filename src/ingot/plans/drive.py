"""Per-node config drives for a plan: the role's half plus the node's host name.

The drive goes to the provision API as a JSON object (``meta_data``, ``user_data``,
``network_data``), so the server builds the ISO and resolves the friendly interface list
against the node's own port MACs. Before anything is deployed, :func:`drive_problems` builds
each role's drive locally with stand-in MACs, so a broken user data file or interface list
fails the plan at load time instead of on the twentieth node.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ingot.configdrive import MAX_IMAGE_BYTES, compose_configdrive
from ingot.configdrive.ignition import merge_ignition, parse_ignition
from ingot.configdrive.metadata import build_meta_data
from ingot.configdrive.userdata import UserDataKind, validate_user_data
from ingot.errors import IngotError
from ingot.plans.model import DriveSpec, Plan, Role

_STANDIN_UUID = "00000000-0000-4000-8000-000000000000"


def node_drive(
    spec: DriveSpec, *, node_uuid: str, node_name: str | None, hostname: str
) -> dict[str, Any]:
    """The ``configdrive`` object of the deploy request for one node.

    Ignition user data gets the keys and host name merged in, because CoreOS never reads
    meta_data's keys. Without a ``network`` the key is left out, so the server falls back to
    the node's own ``network_data``, as Ironic does.
    """
    meta = build_meta_data(
        node_uuid=node_uuid, node_name=node_name, hostname=hostname,
        public_keys=list(spec.ssh_keys), extra=spec.meta_data,
    )  # fmt: skip
    drive: dict[str, Any] = {"meta_data": meta}
    user_data = spec.user_data
    if user_data is not None:
        kind = validate_user_data(user_data.encode("utf-8"), field="config_drive.user_data")
        if kind is UserDataKind.IGNITION:
            config = parse_ignition(user_data)
            if config is not None:
                merged = merge_ignition(config, ssh_keys=list(spec.ssh_keys), hostname=hostname)
                user_data = json.dumps(merged)
        drive["user_data"] = user_data
    if spec.network is not None:
        drive["network_data"] = spec.network
    return drive


def standin_macs(network: list[Any] | Mapping[str, Any] | None) -> dict[str, str]:
    """A made-up MAC for every interface name an interface list mentions."""
    names: list[str] = []
    if isinstance(network, list):
        for entry in network:
            if isinstance(entry, Mapping):
                names.append(str(entry.get("device", "")))
                backend = entry.get("backend", [])
                names += [backend] if isinstance(backend, str) else [str(b) for b in backend]
    names = [n for n in dict.fromkeys(names) if n]
    return {name: f"02:00:00:00:{i // 256:02x}:{i % 256:02x}" for i, name in enumerate(names)}


def drive_problems(plan: Plan, role: Role) -> list[str]:
    """Build the role's first drive locally; the problems as "role 'x': config_drive: ..."."""
    spec = role.config_drive
    try:
        hostname = role.hostname(plan.name, 0)
        drive = node_drive(spec, node_uuid=_STANDIN_UUID, node_name=None, hostname=hostname)
        image = compose_configdrive(
            node_uuid=_STANDIN_UUID,
            hostname=hostname,
            public_keys=list(spec.ssh_keys),
            user_data=drive["user_data"].encode("utf-8") if "user_data" in drive else None,
            network=spec.network,
            port_macs=standin_macs(spec.network),
            meta_extra=spec.meta_data,
        ).image
    except IngotError as exc:
        return [f"role '{role.name}': config_drive: {exc.message}"]
    if image is not None and len(image) > MAX_IMAGE_BYTES:
        return [
            f"role '{role.name}': config_drive: {len(image)} bytes is over the "
            f"{MAX_IMAGE_BYTES}-byte limit; shrink user_data"
        ]
    return []
