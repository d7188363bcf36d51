"""Typed base classes, one per hardware-interface kind.

A node has one implementation per kind. Methods are ``async``: implementations that call a
blocking library (pyghmi, sushy) run it in a thread so the conductor's loop stays free.
``validate`` raises ``InvalidInput`` naming the missing or wrong ``driver_info`` key.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from ingot import states
from ingot.errors import InvalidInput

if TYPE_CHECKING:
    from ingot.conductor.task import Task

KINDS = (
    "bios",
    "boot",
    "console",
    "deploy",
    "firmware",
    "inspect",
    "management",
    "network",
    "power",
    "raid",
    "rescue",
    "storage",
    "vendor",
)

BOOT_DEVICES = ("pxe", "disk", "cdrom", "bios", "safe", "wanboot", "uefi_http")


class Interface(ABC):
    """Common base: a kind, an implementation name, and the driver_info keys it reads."""

    kind: ClassVar[str]
    name: ClassVar[str]
    # driver_info key -> description; keys listed in ``required`` must be present.
    properties: ClassVar[dict[str, str]] = {}
    required: ClassVar[tuple[str, ...]] = ()

    def validate(self, task: Task) -> None:
        """Check the node has what this interface needs; raise InvalidInput if not."""
        missing = [key for key in self.required if not task.node.driver_info.get(key)]
        if missing:
            raise InvalidInput(
                f"Node {task.node.uuid} is missing driver_info {', '.join(missing)} needed by "
                f"the {self.name} {self.kind} interface. Set it with: baremetal node set "
                f"{task.node.uuid} " + " ".join(f"--driver-info {m}=..." for m in missing)
            )


class PowerInterface(Interface):
    kind = "power"

    @abstractmethod
    async def get_power_state(self, task: Task) -> str:
        """The node's power state: states.POWER_ON or states.POWER_OFF."""

    @abstractmethod
    async def set_power_state(self, task: Task, state: str, timeout: float | None = None) -> None:
        """Set power on/off (or soft off) and return once the BMC reports it."""

    async def reboot(self, task: Task, timeout: float | None = None) -> None:
        await self.set_power_state(task, states.POWER_OFF, timeout)
        await self.set_power_state(task, states.POWER_ON, timeout)

    def supported_power_states(self) -> list[str]:
        return [states.POWER_ON, states.POWER_OFF, states.REBOOT]


class ManagementInterface(Interface):
    kind = "management"

    def supported_boot_devices(self) -> list[str]:
        return ["pxe", "disk"]

    @abstractmethod
    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        """Set the next boot device (once, or persistently)."""

    @abstractmethod
    async def get_boot_device(self, task: Task) -> dict[str, Any]:
        """``{"boot_device": ..., "persistent": ...}``; device None when unknown."""

    async def get_boot_mode(self, task: Task) -> str | None:
        return None

    async def set_boot_mode(self, task: Task, mode: str) -> None:
        raise InvalidInput(
            f"The {self.name} management interface can not change the boot mode of node "
            f"{task.node.uuid}; set it in the firmware setup instead."
        )


class BootInterface(Interface):
    kind = "boot"

    async def prepare_ramdisk(self, task: Task, params: dict[str, Any]) -> None:
        """Make the node boot the agent ramdisk next time it network-boots."""

    async def clean_up_ramdisk(self, task: Task) -> None:
        """Remove what prepare_ramdisk wrote."""

    async def prepare_instance(self, task: Task) -> None:
        """Make the node boot the deployed instance."""

    async def clean_up_instance(self, task: Task) -> None:
        """Remove what prepare_instance wrote."""


class DeployInterface(Interface):
    kind = "deploy"

    async def prepare(self, task: Task) -> None:
        """Get the node ready for deploy steps (network, boot files)."""

    @abstractmethod
    async def deploy(self, task: Task) -> str | None:
        """The core deploy step; returns states.DEPLOYWAIT when it waits for the agent."""

    async def tear_down(self, task: Task) -> None:
        """Undo a deployment: power off and clean up."""

    async def clean_up(self, task: Task) -> None:
        """Remove anything prepare() created."""

    async def take_over(self, task: Task) -> None:
        """Re-create per-conductor state after a takeover."""

    async def prepare_cleaning(self, task: Task) -> str | None:
        """Get ready to run clean steps; return states.CLEANWAIT to wait for the agent."""
        return None

    async def tear_down_cleaning(self, task: Task) -> None:
        """Undo prepare_cleaning once the steps are done."""


class InspectInterface(Interface):
    kind = "inspect"

    @abstractmethod
    async def inspect_hardware(self, task: Task) -> str | None:
        """Inspect; return states.INSPECTWAIT when results come asynchronously."""


class NetworkInterface(Interface):
    kind = "network"


class StorageInterface(Interface):
    kind = "storage"


class ConsoleInterface(Interface):
    kind = "console"


class RaidInterface(Interface):
    kind = "raid"


class BiosInterface(Interface):
    kind = "bios"


class FirmwareInterface(Interface):
    kind = "firmware"


class RescueInterface(Interface):
    kind = "rescue"

    async def rescue(self, task: Task) -> str | None:
        """Boot the rescue system; return states.RESCUEWAIT to wait for it to call back."""
        return None

    async def finalize(self, task: Task) -> None:
        """Hand the node over to the rescue system once it called back."""

    async def unrescue(self, task: Task) -> None:
        """Boot the deployed instance again."""


class VendorInterface(Interface):
    kind = "vendor"


class NoopMixin:
    """For ``no-*``/``noop`` implementations: always valid, do nothing."""

    def validate(self, task: Task) -> None:
        return None
