"""One call from what an operator writes (keys, user data file, interface list) to a drive.

Used by ``ingot configdrive build`` and deployment plans, where Ingot (not a client) fills in
meta_data. Unlike the API path this sets a hostname, and for Ignition user data also puts the
SSH keys and hostname into the Ignition config, because CoreOS never reads meta_data's keys
unless Afterburn runs for the platform.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ingot.configdrive.ignition import merge_ignition, parse_ignition
from ingot.configdrive.iso import build_iso
from ingot.configdrive.metadata import build_meta_data
from ingot.configdrive.network import build_network_data
from ingot.configdrive.network_check import validate_network_data
from ingot.configdrive.request import ConfigDrive
from ingot.configdrive.userdata import UserDataKind, validate_user_data


def compose_configdrive(
    *,
    node_uuid: str,
    node_name: str | None = None,
    hostname: str | None = None,
    public_keys: Sequence[str] = (),
    user_data: bytes | None = None,
    network: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
    port_macs: Mapping[str, str] | None = None,
    meta_extra: Mapping[str, Any] | None = None,
    vendor_data: Mapping[str, Any] | None = None,
    ignition_user: str = "core",
) -> ConfigDrive:
    """Build a complete drive for a node; raises InvalidInput naming the bad field.

    ``network`` is the friendly interface list (needs ``port_macs``) or a ready
    network_data.json object.
    """
    meta = build_meta_data(
        node_uuid=node_uuid,
        node_name=node_name,
        hostname=hostname,
        public_keys=public_keys,
        extra=meta_extra,
    )
    kind = validate_user_data(user_data)
    if kind is UserDataKind.IGNITION and user_data is not None:
        config = parse_ignition(user_data)
        if config is not None and (public_keys or hostname):
            merged = merge_ignition(
                config, ssh_keys=list(public_keys), hostname=hostname, user=ignition_user
            )
            user_data = json.dumps(merged).encode("utf-8")
    network_data: dict[str, Any] | None = None
    if isinstance(network, Mapping):
        validate_network_data(network, field="network")
        network_data = dict(network)
    elif network:
        network_data = build_network_data(network, port_macs=port_macs or {})
    image = build_iso(meta, user_data=user_data, network_data=network_data, vendor_data=vendor_data)
    return ConfigDrive(source="built", image=image, user_data_kind=kind)
