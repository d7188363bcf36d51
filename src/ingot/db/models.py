"""SQLAlchemy tables. Column names are Ironic's field names, so the API maps them one to one.

Schema changes go through Alembic migrations in ``ingot/db/migrations`` only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Timestamped:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, onupdate=utcnow
    )


class Chassis(Timestamped, Base):
    __tablename__ = "chassis"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Node(Timestamped, Base):
    __tablename__ = "nodes"
    __table_args__ = (
        Index("ix_nodes_provision_state", "provision_state"),
        Index("ix_nodes_conductor_group", "conductor_group"),
        Index("ix_nodes_reservation", "reservation"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str | None] = mapped_column(String(255), unique=True)
    chassis_id: Mapped[int | None] = mapped_column(ForeignKey("chassis.id"))
    driver: Mapped[str] = mapped_column(String(255))
    driver_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    driver_internal_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    instance_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    network_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    instance_uuid: Mapped[str | None] = mapped_column(String(36), unique=True)
    instance_name: Mapped[str | None] = mapped_column(String(255))
    power_state: Mapped[str | None] = mapped_column(String(15))
    target_power_state: Mapped[str | None] = mapped_column(String(15))
    provision_state: Mapped[str] = mapped_column(String(15))
    target_provision_state: Mapped[str | None] = mapped_column(String(15))
    provision_updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    maintenance: Mapped[bool] = mapped_column(Boolean, default=False)
    maintenance_reason: Mapped[str | None] = mapped_column(Text)
    fault: Mapped[str | None] = mapped_column(String(255))
    reservation: Mapped[str | None] = mapped_column(String(255))
    conductor_affinity: Mapped[int | None] = mapped_column(Integer)
    conductor_group: Mapped[str] = mapped_column(String(255), default="")
    console_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    inspection_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    inspection_finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    clean_step: Mapped[dict[str, Any]] = mapped_column(default=dict)
    deploy_step: Mapped[dict[str, Any]] = mapped_column(default=dict)
    service_step: Mapped[dict[str, Any]] = mapped_column(default=dict)
    raid_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    target_raid_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    resource_class: Mapped[str | None] = mapped_column(String(80))
    automated_clean: Mapped[bool | None] = mapped_column(Boolean)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    protected_reason: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(255))
    lessee: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    allocation_id: Mapped[int | None] = mapped_column(Integer)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    retired_reason: Mapped[str | None] = mapped_column(Text)
    boot_mode: Mapped[str | None] = mapped_column(String(16))
    secure_boot: Mapped[bool | None] = mapped_column(Boolean)
    shard: Mapped[str | None] = mapped_column(String(255))
    parent_node: Mapped[str | None] = mapped_column(String(36))
    disable_power_off: Mapped[bool] = mapped_column(Boolean, default=False)
    health: Mapped[str | None] = mapped_column(String(255))
    # one column per hardware interface kind, as Ironic
    bios_interface: Mapped[str | None] = mapped_column(String(255))
    boot_interface: Mapped[str | None] = mapped_column(String(255))
    console_interface: Mapped[str | None] = mapped_column(String(255))
    deploy_interface: Mapped[str | None] = mapped_column(String(255))
    firmware_interface: Mapped[str | None] = mapped_column(String(255))
    inspect_interface: Mapped[str | None] = mapped_column(String(255))
    management_interface: Mapped[str | None] = mapped_column(String(255))
    network_interface: Mapped[str | None] = mapped_column(String(255))
    power_interface: Mapped[str | None] = mapped_column(String(255))
    raid_interface: Mapped[str | None] = mapped_column(String(255))
    rescue_interface: Mapped[str | None] = mapped_column(String(255))
    storage_interface: Mapped[str | None] = mapped_column(String(255))
    vendor_interface: Mapped[str | None] = mapped_column(String(255))


class NodeTrait(Base):
    __tablename__ = "node_traits"
    node_id: Mapped[int] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    trait: Mapped[str] = mapped_column(String(255), primary_key=True)


class Portgroup(Timestamped, Base):
    __tablename__ = "portgroups"
    __table_args__ = (UniqueConstraint("node_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"))
    address: Mapped[str | None] = mapped_column(String(18), unique=True)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    internal_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    standalone_ports_supported: Mapped[bool] = mapped_column(Boolean, default=True)
    mode: Mapped[str | None] = mapped_column(String(255))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    physical_network: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(80))


class Port(Timestamped, Base):
    __tablename__ = "ports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(18), unique=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), index=True)
    portgroup_id: Mapped[int | None] = mapped_column(ForeignKey("portgroups.id"))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    internal_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    local_link_connection: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pxe_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    physical_network: Mapped[str | None] = mapped_column(String(64))
    is_smartnic: Mapped[bool] = mapped_column(Boolean, default=False)
    category: Mapped[str | None] = mapped_column(String(80))
    vendor: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)


class Conductor(Timestamped, Base):
    __tablename__ = "conductors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), unique=True)
    conductor_group: Mapped[str] = mapped_column(String(255), default="")
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    drivers: Mapped[list[Any]] = mapped_column(default=list)
    rpc_url: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NodeHistory(Base):
    __tablename__ = "node_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    conductor: Mapped[str | None] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(255))
    severity: Mapped[str] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(Text)
    user: Mapped[str | None] = mapped_column(String(255))


class VolumeConnector(Timestamped, Base):
    __tablename__ = "volume_connectors"
    __table_args__ = (UniqueConstraint("type", "connector_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    connector_id: Mapped[str] = mapped_column(String(255))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class VolumeTarget(Timestamped, Base):
    __tablename__ = "volume_targets"
    __table_args__ = (UniqueConstraint("node_id", "boot_index"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), index=True)
    volume_type: Mapped[str] = mapped_column(String(64))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    boot_index: Mapped[int] = mapped_column(Integer)
    volume_id: Mapped[str] = mapped_column(String(36))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DeployTemplate(Timestamped, Base):
    """Deploy templates and runbooks share one shape: a named, ordered list of steps."""

    __tablename__ = "deploy_templates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    steps: Mapped[list[Any]] = mapped_column(default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Runbook(Timestamped, Base):
    __tablename__ = "runbooks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    steps: Mapped[list[Any]] = mapped_column(default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    disable_ramdisk: Mapped[bool] = mapped_column(Boolean, default=False)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(255))


class NodeInventory(Timestamped, Base):
    """What inspection found: the agent's inventory and processing data, one row per node."""

    __tablename__ = "node_inventory"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), unique=True, index=True
    )
    inventory: Mapped[dict[str, Any]] = mapped_column(default=dict)
    plugin_data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Allocation(Timestamped, Base):
    """A request for a node by resource class, traits and capabilities, as Ironic's allocations.

    While active, the node's ``instance_uuid`` is the allocation's UUID and its
    ``allocation_id`` points here; the node is freed when the allocation is deleted.
    """

    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str | None] = mapped_column(String(255), unique=True)
    node_id: Mapped[int | None] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(15))
    owner: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    resource_class: Mapped[str | None] = mapped_column(String(80))
    traits: Mapped[list[Any]] = mapped_column(default=list)
    candidate_nodes: Mapped[list[Any]] = mapped_column(default=list)
    # Ingot extension: Nova-style capability requirements, e.g. {"profile": "compute"}.
    capabilities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class InspectionRule(Timestamped, Base):
    """A rule applied to a node's inspection data: if all conditions hold, run the actions."""

    __tablename__ = "inspection_rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    phase: Mapped[str] = mapped_column(String(16), default="main")
    conditions: Mapped[list[Any]] = mapped_column(default=list)
    actions: Mapped[list[Any]] = mapped_column(default=list)
