"""The ONE table of API microversions: what each minor version added, and negotiation.

Clients say which version they speak with ``X-OpenStack-Ironic-API-Version: 1.N`` or
``OpenStack-API-Version: baremetal 1.N`` (``latest`` allowed). No header means the minimum,
as Ironic does; anything outside [MIN, MAX] is a 406.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingot.errors import InvalidInput, NotAcceptable

MIN_MINOR = 1
MAX_MINOR = 115
MIN_VERSION = f"1.{MIN_MINOR}"
MAX_VERSION = f"1.{MAX_MINOR}"

# Feature name -> the first minor version that has it. Field names of resources are listed
# as "<resource>.<field>" and hidden from older clients.
FEATURES: dict[str, int] = {
    "available_state": 2,
    "node.driver_internal_info": 3,
    "manageable_state": 4,
    "node.name": 5,
    "inspect": 6,
    "node.inspection_started_at": 6,
    "node.inspection_finished_at": 6,
    "node.clean_step": 7,
    "fields_param": 8,
    "provision_state_filter": 9,
    "enroll_state": 11,
    "node.raid_config": 12,
    "node.target_raid_config": 12,
    "abort_verb": 13,
    "node.states_link": 14,
    "manual_clean": 15,
    "driver_filter": 16,
    "adopt_verb": 17,
    "port.internal_info": 18,
    "port.local_link_connection": 19,
    "port.pxe_enabled": 19,
    "node.network_interface": 20,
    "node.resource_class": 21,
    "lookup_heartbeat": 22,
    "portgroups": 23,
    "port.portgroup_uuid": 24,
    "node.portgroups_link": 24,
    "unset_chassis_uuid": 25,
    "portgroup.mode": 26,
    "portgroup.properties": 26,
    "soft_power": 27,
    "vifs": 28,
    "inject_nmi": 29,
    "dynamic_drivers": 30,
    "node.boot_interface": 31,
    "node.console_interface": 31,
    "node.deploy_interface": 31,
    "node.inspect_interface": 31,
    "node.management_interface": 31,
    "node.power_interface": 31,
    "node.raid_interface": 31,
    "node.vendor_interface": 31,
    "volume": 32,
    "node.volume_link": 32,
    "node.storage_interface": 33,
    "port.physical_network": 34,
    "rebuild_configdrive": 35,
    "agent_version_heartbeat": 36,
    "node.traits": 37,
    "node.rescue_interface": 38,
    "rescue_verbs": 38,
    "inspect_wait": 39,
    "node.bios_interface": 40,
    "node.fault": 42,
    "detail_param": 43,
    "node.deploy_step": 44,
    "reset_interfaces": 45,
    "node.conductor_group": 46,
    "node.automated_clean": 47,
    "node.protected": 48,
    "node.protected_reason": 48,
    "node.conductor": 49,
    "conductors": 49,
    "node.owner": 50,
    "node.description": 51,
    "node.allocation_uuid": 52,
    "allocations": 52,
    "port.is_smartnic": 53,
    "deploy_templates": 55,
    "configdrive_dict": 56,
    "allocation_update": 57,
    "allocation_backfill": 58,
    "configdrive_vendor_data": 59,
    "allocation.owner": 60,
    "node.retired": 61,
    "node.retired_reason": 61,
    "agent_token": 62,
    "node.lessee": 65,
    "node.network_data": 66,
    "heartbeat_verify_ca": 68,
    "deploy_steps_param": 69,
    "disable_ramdisk": 70,
    "deploy_undeploy_verbs": 73,
    "node.boot_mode": 75,
    "node.secure_boot": 75,
    "change_boot_mode": 76,
    "driver_fields": 77,
    "history": 78,
    "node.shard": 82,
    "shards": 82,
    "node.parent_node": 83,
    "continue_inspection": 84,
    "unhold_verb": 85,
    "node.firmware_interface": 86,
    "node.service_step": 87,
    "service_verb": 87,
    "port.name": 88,
    "runbooks": 92,
    "node.disable_power_off": 95,
    "inspection_rules": 96,
    "port.description": 97,
    "port.vendor": 100,
    "port.category": 101,
    "portgroup.physical_network": 102,
    "portgroup.category": 103,
    "node.instance_name": 104,
    "node.health": 109,
    "port.available_for_dynamic_portgroup": 111,
}

_HEADER_RE = re.compile(r"^\s*(\d+)\.(\d+)\s*$")


@dataclass(frozen=True, order=True)
class Version:
    """A negotiated API version (major is always 1)."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def has(self, feature: str) -> bool:
        """True when this version includes ``feature`` (unknown features are always on)."""
        return self.minor >= FEATURES.get(feature, 0)


MIN = Version(1, MIN_MINOR)
MAX = Version(1, MAX_MINOR)


def parse(ironic_header: str | None, openstack_header: str | None) -> Version:
    """Pick the version from the request headers; 406 outside the range, 400 if malformed."""
    raw = ironic_header
    if raw is None and openstack_header:
        service, _, value = openstack_header.strip().partition(" ")
        if service.lower() == "baremetal":
            raw = value
    if raw is None or not raw.strip():
        return MIN
    if raw.strip().lower() == "latest":
        return MAX
    match = _HEADER_RE.match(raw)
    if match is None:
        raise InvalidInput(
            f"Invalid value for X-OpenStack-Ironic-API-Version header: {raw!r}. "
            "Use 'major.minor' such as '1.115', or 'latest'."
        )
    version = Version(int(match.group(1)), int(match.group(2)))
    if version.major != 1:
        raise NotAcceptable(
            f"Mutually exclusive versions requested. Version {version} requested but not "
            f"supported by this service. The supported version range is: [{MIN}, {MAX}]."
        )
    if not MIN <= version <= MAX:
        raise NotAcceptable(
            f"Version {version} was requested but the minor version is not supported by this "
            f"service. The supported version range is: [{MIN}, {MAX}]."
        )
    return version
