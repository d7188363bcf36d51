"""Power and management actions: accepted synchronously, power changes finish in a worker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ingot import states
from ingot.conductor.task import Task, load_task
from ingot.db import history
from ingot.errors import InvalidInput, InvalidState

if TYPE_CHECKING:
    from ingot.conductor.service import Conductor

_SOFT = (states.SOFT_POWER_OFF, states.SOFT_REBOOT)


def accept_power(conductor: Conductor, ident: str, target: str, timeout: int | None) -> None:
    """Lock, check the target, record ``target_power_state`` and change power in a worker."""
    if target not in states.POWER_TARGETS:
        raise InvalidInput(
            f"Invalid power state target {target!r}; use one of "
            + ", ".join(sorted(states.POWER_TARGETS))
        )
    if timeout is not None and (not isinstance(timeout, int) or timeout < 1):
        raise InvalidInput("'timeout' must be a positive whole number of seconds.")
    task = load_task(conductor, ident, lock=True)
    try:
        supported = task.power.supported_power_states()
        if target not in supported:
            raise InvalidInput(
                f"Node {task.node.uuid}'s {task.power.name} power interface does not support "
                f"{target!r}; it supports {', '.join(supported)}."
            )
        if task.node.disable_power_off and target in (states.POWER_OFF, states.SOFT_POWER_OFF):
            raise InvalidState(
                f"Node {task.node.uuid} has disable_power_off set; it can not be powered off."
            )
        task.interfaces["power"].validate(task)
        task.update(target_power_state=target, last_error=None)
        task.save()
    except BaseException:
        task.release()
        raise

    async def change(t: Task) -> None:
        try:
            if target in (states.REBOOT, states.SOFT_REBOOT):
                await t.power.reboot(t, timeout)
                final = states.POWER_ON
            else:
                await t.power.set_power_state(t, target, timeout)
                final = states.POWER_OFF if target in _SOFT else target
            t.update(power_state=final, target_power_state=None)
            t.save(f"Power state set to {final}", event_type="power")
        except Exception as exc:
            t.dirty.clear()
            t.update(target_power_state=None, last_error=f"Failed to change power state to "
                                                         f"'{target}': {exc}")  # fmt: skip
            t.save(f"Power change to {target} failed: {exc}", severity=history.ERROR,
                   event_type="power")  # fmt: skip

    conductor.spawn(task, change, f"power {target}")


async def set_boot_device(conductor: Conductor, ident: str, device: str, persistent: bool) -> None:
    task = load_task(conductor, ident, lock=True)
    try:
        supported = task.management.supported_boot_devices()
        if device not in supported:
            raise InvalidInput(
                f"Boot device {device!r} is not supported by node {task.node.uuid}; use one of "
                + ", ".join(supported)
            )
        task.interfaces["management"].validate(task)
        await task.management.set_boot_device(task, device, persistent)
        task.save()
    finally:
        task.release()


async def get_boot_device(conductor: Conductor, ident: str) -> dict[str, Any]:
    task = load_task(conductor, ident, lock=False)
    task.interfaces["management"].validate(task)
    return await task.management.get_boot_device(task)


async def set_boot_mode(conductor: Conductor, ident: str, mode: str) -> None:
    if mode not in ("uefi", "bios"):
        raise InvalidInput(f"Invalid boot mode {mode!r}: use 'uefi' or 'bios'.")
    task = load_task(conductor, ident, lock=True)
    try:
        await task.management.set_boot_mode(task, mode)
        task.update(boot_mode=mode)
        task.save(f"Boot mode set to {mode}", event_type="management")
    finally:
        task.release()
