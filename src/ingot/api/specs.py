"""The field declarations of every API resource, in the order Ironic shows them."""

from __future__ import annotations

from ingot.api.resource import Field, ResourceSpec


def _iface(kind: str) -> Field:
    return Field(f"{kind}_interface", feature=f"node.{kind}_interface")


_SORTABLE_NODE = frozenset(
    {
        "uuid", "name", "created_at", "updated_at", "provision_state", "provision_updated_at",
        "power_state", "driver", "maintenance", "instance_uuid", "resource_class",
        "conductor_group", "owner", "lessee", "shard", "inspection_started_at",
        "inspection_finished_at", "retired", "protected", "fault", "instance_name",
    }
)  # fmt: skip

NODE = ResourceSpec(
    "node",
    [
        Field("uuid", "uuid", patch=False, detail_only=False),
        Field("created_at", "datetime", create=False, patch=False),
        Field("updated_at", "datetime", create=False, patch=False),
        Field("automated_clean", "bool", feature="node.automated_clean"),
        _iface("bios"),
        _iface("boot"),
        Field("boot_mode", create=False, patch=False, feature="node.boot_mode"),
        Field("clean_step", "dict", create=False, patch=False, feature="node.clean_step"),
        Field("conductor_group", max_length=255, feature="node.conductor_group"),
        Field("console_enabled", "bool", create=False, patch=False),
        _iface("console"),
        _iface("deploy"),
        Field("deploy_step", "dict", create=False, patch=False, feature="node.deploy_step"),
        Field("description", max_length=4096, feature="node.description"),
        Field("disable_power_off", "bool", feature="node.disable_power_off"),
        Field("driver", nullable=False),
        Field("driver_info", "dict"),
        Field("driver_internal_info", "dict", create=False, patch=False,
              feature="node.driver_internal_info"),
        Field("extra", "dict"),
        Field("fault", create=False, patch=False, feature="node.fault"),
        _iface("firmware"),
        Field("health", create=False, patch=False, feature="node.health"),
        Field("inspection_finished_at", "datetime", create=False, patch=False,
              feature="node.inspection_finished_at"),
        Field("inspection_started_at", "datetime", create=False, patch=False,
              feature="node.inspection_started_at"),
        _iface("inspect"),
        Field("instance_info", "dict"),
        Field("instance_name", max_length=255, feature="node.instance_name"),
        Field("instance_uuid", "uuid", detail_only=False),
        Field("last_error", create=False, patch=False),
        Field("lessee", max_length=255, feature="node.lessee"),
        Field("maintenance", "bool", create=False, detail_only=False),
        Field("maintenance_reason", create=False),
        _iface("management"),
        Field("name", max_length=255, feature="node.name", detail_only=False),
        Field("network_data", "dict", feature="node.network_data"),
        _iface("network"),
        Field("owner", max_length=255, feature="node.owner"),
        Field("parent_node", max_length=36, feature="node.parent_node"),
        _iface("power"),
        Field("power_state", create=False, patch=False, detail_only=False),
        Field("properties", "dict"),
        Field("protected", "bool", create=False, feature="node.protected"),
        Field("protected_reason", create=False, feature="node.protected_reason"),
        Field("provision_state", create=False, patch=False, detail_only=False),
        Field("provision_updated_at", "datetime", create=False, patch=False),
        Field("raid_config", "dict", create=False, patch=False, feature="node.raid_config"),
        _iface("raid"),
        _iface("rescue"),
        Field("reservation", create=False, patch=False),
        Field("resource_class", max_length=80, feature="node.resource_class"),
        Field("retired", "bool", feature="node.retired"),
        Field("retired_reason", feature="node.retired_reason"),
        Field("secure_boot", "bool", create=False, patch=False, feature="node.secure_boot"),
        Field("service_step", "dict", create=False, patch=False, feature="node.service_step"),
        Field("shard", max_length=255, feature="node.shard"),
        _iface("storage"),
        Field("target_power_state", create=False, patch=False),
        Field("target_provision_state", create=False, patch=False),
        Field("target_raid_config", "dict", create=False, patch=False,
              feature="node.target_raid_config"),
        Field("traits", "list", create=False, patch=False, column=False, feature="node.traits"),
        _iface("vendor"),
        Field("links", "list", create=False, patch=False, column=False, detail_only=False),
        Field("conductor", create=False, patch=False, column=False, feature="node.conductor"),
        Field("allocation_uuid", create=False, patch=False, column=False,
              feature="node.allocation_uuid"),
        Field("chassis_uuid", "uuid", column=False),
        Field("ports", "list", create=False, patch=False, column=False),
        Field("states", "list", create=False, patch=False, column=False,
              feature="node.states_link"),
        Field("portgroups", "list", create=False, patch=False, column=False,
              feature="node.portgroups_link"),
        Field("volume", "list", create=False, patch=False, column=False,
              feature="node.volume_link"),
    ],
    sort_keys=_SORTABLE_NODE,
)  # fmt: skip

PORT = ResourceSpec(
    "port",
    [
        Field("uuid", "uuid", patch=False, detail_only=False),
        Field("created_at", "datetime", create=False, patch=False),
        Field("updated_at", "datetime", create=False, patch=False),
        Field("address", "mac", nullable=False, detail_only=False),
        Field("extra", "dict"),
        Field("internal_info", "dict", create=False, patch=False, feature="port.internal_info"),
        Field("is_smartnic", "bool", feature="port.is_smartnic"),
        Field("local_link_connection", "dict", feature="port.local_link_connection"),
        Field("physical_network", max_length=64, feature="port.physical_network"),
        Field("pxe_enabled", "bool", feature="port.pxe_enabled"),
        Field("node_uuid", "str", column=False),
        Field("name", max_length=255, feature="port.name"),
        Field("description", feature="port.description"),
        Field("vendor", max_length=32, feature="port.vendor"),
        Field("category", max_length=80, feature="port.category"),
        Field("available_for_dynamic_portgroup", "bool", create=False, patch=False,
              column=False, feature="port.available_for_dynamic_portgroup"),
        Field("links", "list", create=False, patch=False, column=False, detail_only=False),
        Field("portgroup_uuid", "uuid", column=False, feature="port.portgroup_uuid"),
    ],
    sort_keys=frozenset({"uuid", "address", "created_at", "updated_at", "pxe_enabled", "name"}),
)  # fmt: skip

PORTGROUP = ResourceSpec(
    "portgroup",
    [
        Field("uuid", "uuid", patch=False, detail_only=False),
        Field("created_at", "datetime", create=False, patch=False),
        Field("updated_at", "datetime", create=False, patch=False),
        Field("address", "mac", detail_only=False),
        Field("extra", "dict"),
        Field("internal_info", "dict", create=False, patch=False),
        Field("mode", feature="portgroup.mode"),
        Field("name", max_length=255, detail_only=False),
        Field("node_uuid", "str", column=False),
        Field("properties", "dict", feature="portgroup.properties"),
        Field("standalone_ports_supported", "bool"),
        Field("physical_network", max_length=64, feature="portgroup.physical_network"),
        Field("category", max_length=80, feature="portgroup.category"),
        Field("links", "list", create=False, patch=False, column=False, detail_only=False),
        Field("ports", "list", create=False, patch=False, column=False),
    ],
    sort_keys=frozenset({"uuid", "address", "name", "created_at", "updated_at"}),
)  # fmt: skip

CHASSIS = ResourceSpec(
    "chassis",
    [
        Field("uuid", "uuid", patch=False, detail_only=False),
        Field("created_at", "datetime", create=False, patch=False),
        Field("updated_at", "datetime", create=False, patch=False),
        Field("description", max_length=255, detail_only=False),
        Field("extra", "dict"),
        Field("links", "list", create=False, patch=False, column=False, detail_only=False),
        Field("nodes", "list", create=False, patch=False, column=False),
    ],
    sort_keys=frozenset({"uuid", "description", "created_at", "updated_at"}),
)  # fmt: skip

VOLUME_CONNECTOR = ResourceSpec(
    "volume connector",
    [
        Field("uuid", "uuid", patch=False, detail_only=False),
        Field("created_at", "datetime", create=False, patch=False),
        Field("updated_at", "datetime", create=False, patch=False),
        Field("type", nullable=False, detail_only=False),
        Field("connector_id", nullable=False, detail_only=False),
        Field("node_uuid", "str", column=False, detail_only=False),
        Field("extra", "dict"),
        Field("links", "list", create=False, patch=False, column=False, detail_only=False),
    ],
    sort_keys=frozenset({"uuid", "type", "connector_id", "created_at", "updated_at"}),
)  # fmt: skip

VOLUME_TARGET = ResourceSpec(
    "volume target",
    [
        Field("uuid", "uuid", patch=False, detail_only=False),
        Field("created_at", "datetime", create=False, patch=False),
        Field("updated_at", "datetime", create=False, patch=False),
        Field("volume_type", nullable=False, detail_only=False),
        Field("properties", "dict"),
        Field("boot_index", "int", nullable=False, detail_only=False),
        Field("volume_id", nullable=False, detail_only=False),
        Field("node_uuid", "str", column=False, detail_only=False),
        Field("extra", "dict"),
        Field("links", "list", create=False, patch=False, column=False, detail_only=False),
    ],
    sort_keys=frozenset({"uuid", "volume_type", "boot_index", "volume_id", "created_at"}),
)  # fmt: skip


def _steps_resource(name: str, *extra: Field) -> ResourceSpec:
    return ResourceSpec(
        name,
        [
            Field("uuid", "uuid", patch=False, detail_only=False),
            Field("created_at", "datetime", create=False, patch=False),
            Field("updated_at", "datetime", create=False, patch=False),
            Field("name", nullable=False, max_length=255, detail_only=False),
            Field("steps", "list", nullable=False),
            Field("extra", "dict"),
            *extra,
            Field("links", "list", create=False, patch=False, column=False, detail_only=False),
        ],
        sort_keys=frozenset({"uuid", "name", "created_at", "updated_at"}),
    )


DEPLOY_TEMPLATE = _steps_resource("deploy template")
RUNBOOK = _steps_resource(
    "runbook",
    Field("disable_ramdisk", "bool"),
    Field("public", "bool"),
    Field("owner", max_length=255),
)


def _shown(*fields: Field) -> list[Field]:
    """Allocations and inspection rules show every field in lists, as Ironic does."""
    return [Field(**{**f.__dict__, "detail_only": False}) for f in fields]


ALLOCATION = ResourceSpec(
    "allocation",
    _shown(
        Field("uuid", "uuid", patch=False),
        Field("created_at", "datetime", create=False, patch=False),
        Field("updated_at", "datetime", create=False, patch=False),
        Field("name", max_length=255),
        Field("node_uuid", create=False, patch=False, column=False),
        Field("state", create=False, patch=False),
        Field("last_error", create=False, patch=False),
        Field("resource_class", max_length=80, patch=False),
        Field("traits", "list", patch=False),
        Field("candidate_nodes", "list", patch=False),
        Field("owner", max_length=255, patch=False, feature="allocation.owner"),
        Field("extra", "dict"),
        # Ingot extension: Nova-style capabilities, e.g. {"profile": "compute"}
        Field("capabilities", "dict", patch=False),
        Field("links", "list", create=False, patch=False, column=False),
    ),
    sort_keys=frozenset(
        {"uuid", "name", "created_at", "updated_at", "state", "resource_class", "owner"}
    ),
)

INSPECTION_RULE = ResourceSpec(
    "inspection rule",
    _shown(
        Field("uuid", "uuid", patch=False),
        Field("created_at", "datetime", create=False, patch=False),
        Field("updated_at", "datetime", create=False, patch=False),
        Field("description", max_length=255),
        Field("priority", "int", nullable=False),
        Field("sensitive", "bool", nullable=False),
        Field("phase", max_length=16, nullable=False),
        Field("conditions", "list"),
        Field("actions", "list", nullable=False),
        Field("built_in", "bool", create=False, patch=False, column=False),
        Field("links", "list", create=False, patch=False, column=False),
    ),
    sort_keys=frozenset({"uuid", "priority", "phase", "description", "created_at"}),
)
