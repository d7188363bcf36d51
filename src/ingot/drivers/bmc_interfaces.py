"""Power and management interfaces shared by BMC protocols (IPMI, Redfish).

A protocol module supplies a client factory; the client speaks ``get_power``/``set_power``
('on'|'off'|'soft'|'cycle') and boot-device calls, blocking, so they run in threads here.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

from ingot import states
from ingot.drivers import interfaces as base
from ingot.errors import InvalidInput

if TYPE_CHECKING:
    from ingot.conductor.task import Task

_ACTIONS = {states.POWER_ON: "on", states.POWER_OFF: "off", states.SOFT_POWER_OFF: "soft"}


class BmcClient(Protocol):
    def get_power(self) -> str: ...

    def set_power(self, state: Any, wait_timeout: float = ...) -> None: ...

    def get_boot_device(self) -> tuple[Any, bool | None]: ...

    def get_boot_mode(self) -> Any: ...


class BmcInterface:
    """Validation and the client factory; subclasses set ``properties``/``required``."""

    properties: ClassVar[dict[str, str]] = {}
    required: ClassVar[tuple[str, ...]] = ()

    def client(self, task: Task) -> Any:
        raise NotImplementedError

    def validate(self, task: Task) -> None:
        base.Interface.validate(cast(base.Interface, self), task)
        self.client(task)


def _wait(task: Task, timeout: float | None) -> float:
    return timeout or task.conductor.services.settings.conductor.power_state_change_timeout


class BmcPower(BmcInterface, base.PowerInterface):
    async def get_power_state(self, task: Task) -> str:
        state = await asyncio.to_thread(self.client(task).get_power)
        return states.POWER_ON if state == "on" else states.POWER_OFF

    async def set_power_state(self, task: Task, state: str, timeout: float | None = None) -> None:
        action = _ACTIONS.get(state)
        if action is None:
            raise InvalidInput(f"The {self.name} power interface can not set {state!r}.")
        await asyncio.to_thread(self.client(task).set_power, action, _wait(task, timeout))

    async def reboot(self, task: Task, timeout: float | None = None) -> None:
        await asyncio.to_thread(self.client(task).set_power, "cycle", _wait(task, timeout))

    def supported_power_states(self) -> list[str]:
        return [states.POWER_ON, states.POWER_OFF, states.REBOOT, states.SOFT_POWER_OFF]


class BmcManagement(BmcInterface, base.ManagementInterface):
    async def get_boot_device(self, task: Task) -> dict[str, Any]:
        device, persistent = await asyncio.to_thread(self.client(task).get_boot_device)
        return {"boot_device": device, "persistent": persistent}

    async def get_boot_mode(self, task: Task) -> str | None:
        mode = await asyncio.to_thread(self.client(task).get_boot_mode)
        return str(mode) if mode else None
