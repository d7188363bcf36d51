"""The ``agent`` inspect interface: boot the agent, which posts its inventory to
``/v1/continue_inspection`` (Ironic's built-in inspection)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingot import states
from ingot.drivers import interfaces as base
from ingot.drivers.agent.deploy import boot_agent

if TYPE_CHECKING:
    from ingot.conductor.task import Task


class AgentInspect(base.InspectInterface):
    name = "agent"

    def validate(self, task: Task) -> None:
        task.interfaces["boot"].validate(task)

    async def inspect_hardware(self, task: Task) -> str | None:
        api = task.conductor.services.settings.agent_api_url.rstrip("/")
        await boot_agent(
            task, "inspect", {"ipa-inspection-callback-url": f"{api}/v1/continue_inspection"}
        )
        return states.INSPECTWAIT
