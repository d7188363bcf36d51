"""The ``manual`` power interface: for servers without a usable BMC (TripleO's ``fake_pxe``).

Ingot cannot press the button, so it tells the operator exactly what to do and when: each
request is logged, recorded in the node's history and in ``driver_internal_info``
(``manual_power_request``, which ``ingot watch`` shows), and the recorded state is assumed.
The agent's lookup and heartbeat confirm that a server really booted the ramdisk; a deploy
that waits in vain fails at the callback timeout with a message saying so.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from ingot import states
from ingot.drivers import interfaces as base
from ingot.drivers.fake import FAKE_BOOT_KEY, WANTED_BOOT_KEY
from ingot.errors import InvalidInput

if TYPE_CHECKING:
    from ingot.conductor.task import Task

LOG = logging.getLogger(__name__)
REQUEST_KEY = "manual_power_request"
STATE_KEY = "manual_power_state"

_WORDS = {
    states.POWER_ON: "POWER ON (press the power button)",
    states.POWER_OFF: "POWER OFF (hold the power button, or shut the OS down)",
    states.SOFT_POWER_OFF: "SHUT DOWN the operating system",
    states.REBOOT: "RESET / power-cycle",
}


_DEVICES = {
    "pxe": "the network (PXE)",
    "disk": "its local disk",
    "cdrom": "its CD/DVD drive",
}


def _ask(task: Task, state: str) -> None:
    node = task.node
    info = node.driver_internal_info
    boot = info.get(WANTED_BOOT_KEY) or info.get(FAKE_BOOT_KEY) or {}
    device = boot.get("boot_device")
    where = ""
    if device and state in (states.POWER_ON, states.REBOOT):
        where = f" and make it boot from {_DEVICES.get(device, device)}"
    text = (
        f"ACTION NEEDED: {_WORDS.get(state, state)} server {node.name or node.uuid} "
        f"(MAC {', '.join(task.macs) or 'unknown'}){where}."
    )
    LOG.warning("%s", text, extra={"node": node.uuid})
    task.set_internal(
        REQUEST_KEY, {"action": state, "at": dt.datetime.now(dt.UTC).isoformat(), "message": text}
    )
    task.save(text, event_type="power")


class ManualPower(base.PowerInterface):
    name = "manual"

    def validate(self, task: Task) -> None:
        return None

    async def get_power_state(self, task: Task) -> str:
        recorded = task.node.driver_internal_info.get(STATE_KEY)
        return str(recorded or task.node.power_state or states.POWER_OFF)

    async def set_power_state(self, task: Task, state: str, timeout: float | None = None) -> None:
        if state not in _WORDS:
            raise InvalidInput(f"The manual power interface can not set {state!r}.")
        _ask(task, state)
        final = states.POWER_OFF if state == states.SOFT_POWER_OFF else state
        task.set_internal(STATE_KEY, final)

    async def reboot(self, task: Task, timeout: float | None = None) -> None:
        _ask(task, states.REBOOT)
        task.set_internal(STATE_KEY, states.POWER_ON)

    def supported_power_states(self) -> list[str]:
        return [states.POWER_ON, states.POWER_OFF, states.REBOOT, states.SOFT_POWER_OFF]
