"""The ``agent`` rescue interface: boot the agent ramdisk, give it the rescue password, and
leave it running as the rescue system; unrescue boots the instance from disk again."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from ingot import states
from ingot.drivers import interfaces as base
from ingot.drivers.agent import client
from ingot.drivers.agent.deploy import boot_agent
from ingot.errors import DriverError

if TYPE_CHECKING:
    from ingot.conductor.task import Task


def sha512_crypt_like(password: str) -> str:
    """A salted SHA-512 digest of the password; the plain text never leaves the conductor
    beyond the agent's token-protected API, and is dropped after use."""
    salt = secrets.token_hex(8)
    return f"sha512:{salt}:{hashlib.sha512((salt + password).encode()).hexdigest()}"


class AgentRescue(base.RescueInterface):
    name = "agent"

    def validate(self, task: Task) -> None:
        task.interfaces["boot"].validate(task)

    async def rescue(self, task: Task) -> str | None:
        await boot_agent(task, "rescue")
        return states.RESCUEWAIT

    async def finalize(self, task: Task) -> None:
        password = task.node.driver_internal_info.get("rescue_password")
        if not password:
            raise DriverError(f"Node {task.node.uuid} has no rescue password recorded.")
        result = await client.run_command(
            task,
            "rescue.finalize_rescue",
            {"rescue_password": sha512_crypt_like(str(password)), "hashed": True},
            wait=True,
        )
        if result.get("command_status") == client.FAILED:
            raise DriverError(f"Agent could not finalize rescue: {client.error_text(result)}")
        task.set_internal("rescue_password", None)
        await task.boot.clean_up_ramdisk(task)

    async def unrescue(self, task: Task) -> None:
        await task.power.set_power_state(task, states.POWER_OFF)
        await task.boot.prepare_instance(task)
        await task.power.set_power_state(task, states.POWER_ON)
        task.update(power_state=states.POWER_ON)
        for key in ("agent_url", "agent_secret_token"):
            task.set_internal(key, None)
