"""``fake`` implementations of every interface kind, as Ironic's ``fake-hardware`` has.

They do no I/O but keep real state: the power state and boot device a client sets are what
it reads back, so API and scale tests exercise the whole conductor path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ingot import states
from ingot.conductor.steps import clean_step, deploy_step
from ingot.drivers import interfaces as base
from ingot.errors import DriverError, InvalidInput

if TYPE_CHECKING:
    from ingot.conductor.task import Task

FAKE_STATE_KEY = "fake_power_state"
FAKE_BOOT_KEY = "fake_boot_device"


class FakePower(base.PowerInterface):
    name = "fake"

    async def get_power_state(self, task: Task) -> str:
        state = task.node.driver_internal_info.get(FAKE_STATE_KEY)
        return str(state) if state else (task.node.power_state or states.POWER_OFF)

    async def set_power_state(self, task: Task, state: str, timeout: float | None = None) -> None:
        if state in (states.SOFT_POWER_OFF, states.POWER_OFF):
            target = states.POWER_OFF
        elif state == states.POWER_ON:
            target = states.POWER_ON
        else:
            raise InvalidInput(f"The fake power interface can not set power state {state!r}.")
        task.set_internal(FAKE_STATE_KEY, target)

    def supported_power_states(self) -> list[str]:
        return [
            states.POWER_ON,
            states.POWER_OFF,
            states.REBOOT,
            states.SOFT_REBOOT,
            states.SOFT_POWER_OFF,
        ]


class FakeManagement(base.ManagementInterface):
    name = "fake"

    def supported_boot_devices(self) -> list[str]:
        return ["pxe", "disk", "cdrom", "bios", "safe"]

    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        if device not in self.supported_boot_devices():
            raise InvalidInput(
                f"Boot device {device!r} is not supported by node {task.node.uuid}; "
                f"use one of {', '.join(self.supported_boot_devices())}."
            )
        task.set_internal(FAKE_BOOT_KEY, {"boot_device": device, "persistent": persistent})

    async def get_boot_device(self, task: Task) -> dict[str, Any]:
        found = task.node.driver_internal_info.get(FAKE_BOOT_KEY)
        return dict(found) if found else {"boot_device": None, "persistent": None}

    async def get_boot_mode(self, task: Task) -> str | None:
        return task.node.boot_mode or "uefi"

    async def set_boot_mode(self, task: Task, mode: str) -> None:
        task.node.boot_mode = mode


class FakeBoot(base.BootInterface):
    name = "fake"


class FakeDeploy(base.DeployInterface):
    name = "fake"

    @deploy_step(priority=100)
    async def deploy(self, task: Task) -> str | None:
        return None

    @clean_step(priority=0, argsinfo={"message": {"description": "Error text", "required": False}})
    async def fail(self, task: Task, message: str = "fake step failure") -> None:
        """A manual clean step that always fails: how tests prove a failed step is handled."""
        raise DriverError(message)


class FakeInspect(base.InspectInterface):
    name = "fake"

    async def inspect_hardware(self, task: Task) -> str | None:
        return None


class FakeConsole(base.ConsoleInterface):
    name = "fake"


class FakeRaid(base.RaidInterface):
    name = "fake"


class FakeBios(base.BiosInterface):
    name = "fake"


class FakeFirmware(base.FirmwareInterface):
    name = "fake"


class FakeRescue(base.RescueInterface):
    name = "fake"


class FakeStorage(base.StorageInterface):
    name = "fake"


class FakeVendor(base.VendorInterface):
    name = "fake"


class NoopNetwork(base.NoopMixin, base.NetworkInterface):
    name = "noop"


class FlatNetwork(base.NetworkInterface):
    """Every port on one provisioning network; nothing to switch."""

    name = "flat"


class NoopStorage(base.NoopMixin, base.StorageInterface):
    name = "noop"


WANTED_BOOT_KEY = "wanted_boot_device"


class NoopManagement(base.NoopMixin, base.ManagementInterface):
    """For machines whose boot order an operator sets once by hand (manual-management).

    The device the conductor wanted is remembered, so a manual power prompt can tell the
    operator where the server must boot from; nothing is sent to the machine.
    """

    name = "noop"

    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        task.set_internal(WANTED_BOOT_KEY, {"boot_device": device, "persistent": persistent})

    async def get_boot_device(self, task: Task) -> dict[str, Any]:
        return {"boot_device": None, "persistent": None}


class NoBios(base.NoopMixin, base.BiosInterface):
    name = "no-bios"


class NoConsole(base.NoopMixin, base.ConsoleInterface):
    name = "no-console"


class NoFirmware(base.NoopMixin, base.FirmwareInterface):
    name = "no-firmware"


class NoInspect(base.NoopMixin, base.InspectInterface):
    name = "no-inspect"

    async def inspect_hardware(self, task: Task) -> str | None:
        raise InvalidInput(
            f"Node {task.node.uuid} uses the no-inspect interface; set inspect_interface "
            "to 'agent' to inspect it."
        )


class NoRaid(base.NoopMixin, base.RaidInterface):
    name = "no-raid"


class NoRescue(base.NoopMixin, base.RescueInterface):
    name = "no-rescue"


class NoVendor(base.NoopMixin, base.VendorInterface):
    name = "no-vendor"
