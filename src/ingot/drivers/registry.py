"""Which hardware types and interface implementations this Ingot runs, from the settings.

Built once at start-up; unknown or unavailable names in ``enabled_*`` settings are a
ConfigError then, not a surprise at the first deploy.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ingot.drivers.hardware_types import HARDWARE_TYPES
from ingot.drivers.interfaces import KINDS, Interface
from ingot.errors import ConfigError, InvalidInput
from ingot.settings import IngotSettings

# (kind, implementation name) -> "module:Class". Names absent here are not implemented.
IMPLEMENTATIONS: dict[tuple[str, str], str] = {
    **{
        (kind, "fake"): f"ingot.drivers.fake:Fake{kind.capitalize()}"
        for kind in KINDS
        if kind != "network"
    },
    ("network", "noop"): "ingot.drivers.fake:NoopNetwork",
    ("network", "flat"): "ingot.drivers.fake:FlatNetwork",
    ("storage", "noop"): "ingot.drivers.fake:NoopStorage",
    ("management", "noop"): "ingot.drivers.fake:NoopManagement",
    ("bios", "no-bios"): "ingot.drivers.fake:NoBios",
    ("console", "no-console"): "ingot.drivers.fake:NoConsole",
    ("firmware", "no-firmware"): "ingot.drivers.fake:NoFirmware",
    ("inspect", "no-inspect"): "ingot.drivers.fake:NoInspect",
    ("raid", "no-raid"): "ingot.drivers.fake:NoRaid",
    ("rescue", "no-rescue"): "ingot.drivers.fake:NoRescue",
    ("vendor", "no-vendor"): "ingot.drivers.fake:NoVendor",
    ("boot", "pxe"): "ingot.drivers.pxe:PxeBoot",
    ("boot", "ipxe"): "ingot.drivers.pxe:IpxeBoot",
    ("boot", "http"): "ingot.drivers.pxe:HttpBoot",
    ("deploy", "direct"): "ingot.drivers.agent.deploy:DirectDeploy",
    ("inspect", "agent"): "ingot.drivers.agent.inspect:AgentInspect",
    ("power", "ipmitool"): "ingot.drivers.ipmi.interfaces:IpmiPower",
    ("management", "ipmitool"): "ingot.drivers.ipmi.interfaces:IpmiManagement",
    ("power", "manual"): "ingot.drivers.manual:ManualPower",
    ("rescue", "agent"): "ingot.drivers.agent.rescue:AgentRescue",
    ("power", "redfish"): "ingot.drivers.redfish.interfaces:RedfishPower",
    ("management", "redfish"): "ingot.drivers.redfish.interfaces:RedfishManagement",
}


def _load(path: str) -> type[Interface]:
    module, _, cls = path.partition(":")
    loaded = getattr(importlib.import_module(module), cls)
    assert isinstance(loaded, type) and issubclass(loaded, Interface)
    return loaded


@dataclass
class HardwareType:
    """An enabled hardware type: per kind, the enabled implementations in preference order."""

    name: str
    interfaces: dict[str, list[str]]

    def default(self, kind: str) -> str:
        return self.interfaces[kind][0]


class DriverRegistry:
    """Enabled hardware types and interface instances (one instance per implementation).

    Names are checked at start-up; the implementations' modules load on first use.
    """

    def __init__(self, settings: IngotSettings) -> None:
        self._instances: dict[tuple[str, str], Interface] = {}
        enabled_impls = {
            kind: list(getattr(settings.default, f"enabled_{kind}_interfaces")) for kind in KINDS
        }
        for kind, names in enabled_impls.items():
            for name in names:
                if (kind, name) not in IMPLEMENTATIONS:
                    known = sorted(n for k, n in IMPLEMENTATIONS if k == kind)
                    raise ConfigError(
                        f"enabled_{kind}_interfaces lists {name!r}, which this Ingot does not "
                        f"have. Available {kind} interfaces: {', '.join(known)}."
                    )
        self._enabled = {(k, n) for k, names in enabled_impls.items() for n in names}
        self.types: dict[str, HardwareType] = {}
        for type_name in settings.default.enabled_hardware_types:
            supported = HARDWARE_TYPES.get(type_name)
            if supported is None:
                raise ConfigError(
                    f"enabled_hardware_types lists unknown hardware type {type_name!r}. "
                    f"Known types: {', '.join(sorted(HARDWARE_TYPES))}."
                )
            usable: dict[str, list[str]] = {}
            for kind in KINDS:
                usable[kind] = [n for n in supported[kind] if n in enabled_impls[kind]]
                if not usable[kind]:
                    raise ConfigError(
                        f"Hardware type {type_name!r} has no enabled {kind} interface: it "
                        f"supports {', '.join(supported[kind])} but enabled_{kind}_interfaces "
                        f"is {', '.join(enabled_impls[kind]) or 'empty'}."
                    )
            self.types[type_name] = HardwareType(type_name, usable)

    def hardware_type(self, name: str) -> HardwareType:
        found = self.types.get(name)
        if found is None:
            raise InvalidInput(
                f"Cannot create node with driver {name!r}: no such enabled hardware type. "
                f"Enabled types: {', '.join(sorted(self.types))}."
            )
        return found

    def interface(self, kind: str, name: str) -> Interface:
        """The implementation, imported on first use: an Ingot that never talks Redfish does
        not carry sushy and its dependencies in memory."""
        found = self._instances.get((kind, name))
        if found is None:
            if (kind, name) not in self._enabled:
                raise ConfigError(f"The {kind} interface {name!r} is not enabled.")
            found = self._instances[(kind, name)] = _load(IMPLEMENTATIONS[(kind, name)])()
        return found

    def check_interface(self, hw_type: str, kind: str, name: str) -> None:
        """400 when ``name`` is not an enabled ``kind`` interface for ``hw_type``."""
        usable = self.hardware_type(hw_type).interfaces[kind]
        if name not in usable:
            raise InvalidInput(
                f"Could not find a suitable {kind}_interface {name!r} for hardware type "
                f"{hw_type!r}. Enabled and supported: {', '.join(usable)}."
            )

    def properties(self, hw_type: str) -> dict[str, str]:
        """driver_info keys any interface of the type reads, for /drivers/{name}/properties."""
        out: dict[str, Any] = {}
        for kind, names in self.hardware_type(hw_type).interfaces.items():
            for name in names:
                impl = self.interface(kind, name)
                for key, text in impl.properties.items():
                    out[key] = text + (" Required." if key in impl.required else " Optional.")
        return dict(sorted(out.items()))
