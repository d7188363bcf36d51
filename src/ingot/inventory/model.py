"""What a parsed inventory is: Ironic API create bodies plus notes, with secrets kept out of reprs.

The bodies are plain dicts shaped exactly like Ironic v1 requests (``POST /v1/nodes``,
``/v1/ports``, ``/v1/portgroups``, ``/v1/chassis``), so the importer can send them unchanged
once it knows the UUIDs that link them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ingot.inventory.problems import Problem, Where

MASK = "******"

# Substrings of driver_info keys that hold secrets (Ironic masks the same kinds of fields).
_SECRET_MARKERS = ("password", "secret", "token", "_key", "passphrase", "community")


def is_secret_key(key: str) -> bool:
    """True for keys like ``ipmi_password`` or ``snmp_auth_key`` whose values must not be shown."""
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS) or lowered.endswith("_pass")


def redact(value: Any) -> Any:
    """Return a deep copy of ``value`` with every secret-looking key's value replaced by MASK."""
    if isinstance(value, Mapping):
        return {
            k: (MASK if isinstance(k, str) and is_secret_key(k) and v else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


@dataclass(frozen=True)
class NodeRequest:
    """One node to create, with its ports and port groups.

    ``node`` is a ``POST /v1/nodes`` body. ``ports`` and ``portgroups`` are ``POST`` bodies
    without ``node_uuid`` (the importer adds it). ``port_portgroups`` maps a port's MAC to the
    index in ``portgroups`` of the group it belongs to, because the group's UUID is only known
    once it is created. ``chassis_index`` points into ``Inventory.chassis`` the same way.
    ``notes`` say what was translated (old driver names, defaults); they never hold secrets.
    """

    node: dict[str, Any]
    ports: list[dict[str, Any]] = field(default_factory=list)
    portgroups: list[dict[str, Any]] = field(default_factory=list)
    port_portgroups: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: str = ""
    chassis_index: int | None = None
    where: Where | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str | None:
        name = self.node.get("name")
        return str(name) if name is not None else None

    @property
    def macs(self) -> list[str]:
        return [str(p["address"]) for p in self.ports if p.get("address")]

    def redacted(self) -> dict[str, Any]:
        """The request as a dict safe to print or export: secrets masked."""
        return {
            "node": redact(self.node),
            "ports": redact(self.ports),
            "portgroups": redact(self.portgroups),
            "notes": list(self.notes),
            "source": self.source,
        }

    def __repr__(self) -> str:
        return (
            f"NodeRequest(node={redact(self.node)!r}, ports={self.ports!r}, "
            f"portgroups={redact(self.portgroups)!r}, notes={self.notes!r}, "
            f"source={self.source!r})"
        )


@dataclass(frozen=True)
class ChassisRequest:
    """A ``POST /v1/chassis`` body from an Ironic ``baremetal create`` file."""

    chassis: dict[str, Any]
    source: str = ""


@dataclass(frozen=True)
class Inventory:
    """Everything one file asks for, in creation order: chassis, then nodes with their ports.

    ``ports`` and ``portgroups`` hold top-level entries of a ``baremetal create`` file that point
    at nodes outside the file (by ``node_uuid``). ``problems`` is only non-empty when parsing was
    asked to skip invalid nodes; it then lists why each skipped node was left out.
    """

    source: str
    format: str
    nodes: list[NodeRequest] = field(default_factory=list)
    chassis: list[ChassisRequest] = field(default_factory=list)
    ports: list[dict[str, Any]] = field(default_factory=list)
    portgroups: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"Inventory(source={self.source!r}, format={self.format!r}, "
            f"nodes={len(self.nodes)}, chassis={len(self.chassis)}, "
            f"problems={len(self.problems)})"
        )
