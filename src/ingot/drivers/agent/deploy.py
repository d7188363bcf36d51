"""The ``direct`` deploy interface: the agent streams the image to disk, Ironic-style steps.

Deploy steps, highest priority first: ``deploy`` (boot the agent ramdisk, wait for it),
``write_image`` (agent ``standby.prepare_image``), ``prepare_instance_boot`` (local boot),
``tear_down_agent`` (power off) and ``boot_instance`` (power on). Clean steps
``erase_devices_metadata`` and ``erase_devices`` run on the agent. A step that hands work to
the agent records it as ``agent_pending_command`` and returns the wait state; the agent's
next heartbeat finishes it (see ``ingot.conductor.agent``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, ClassVar

from ingot import states
from ingot.conductor.steps import clean_step, deploy_step
from ingot.drivers import interfaces as base
from ingot.drivers.agent import client
from ingot.errors import DriverError, InvalidInput

if TYPE_CHECKING:
    from ingot.conductor.task import Task

PENDING = "agent_pending_command"


async def boot_agent(task: Task, purpose: str, extra: dict[str, str] | None = None) -> None:
    """Network-boot the node into the agent ramdisk; a new boot gets a new agent token."""
    for key in ("agent_url", "agent_secret_token", "agent_version", PENDING):
        task.set_internal(key, None)
    await task.boot.prepare_ramdisk(task, {"purpose": purpose, **(extra or {})})
    power = await task.power.get_power_state(task)
    if power == states.POWER_ON:
        await task.power.reboot(task)
    else:
        await task.power.set_power_state(task, states.POWER_ON)
    task.update(power_state=states.POWER_ON)
    task.save(f"Booting the agent ramdisk for {purpose}")


async def power_off_agent(task: Task, timeout: float | None = None) -> None:
    """Ask the agent to power off (clean shutdown), then make sure through the BMC."""
    if timeout is None:
        timeout = task.conductor.services.settings.agent.power_off_timeout
    if task.node.driver_internal_info.get("agent_url"):
        with contextlib.suppress(DriverError):  # the BMC below still powers the node off
            await client.run_command(task, "standby.power_off", {})
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if await task.power.get_power_state(task) == states.POWER_OFF:
                break
            await asyncio.sleep(0.5)
    if await task.power.get_power_state(task) != states.POWER_OFF:
        await task.power.set_power_state(task, states.POWER_OFF)
    task.update(power_state=states.POWER_OFF)
    for key in ("agent_url", "agent_secret_token"):
        task.set_internal(key, None)


async def start_command(task: Task, name: str, params: dict[str, Any], wait_state: str) -> str:
    result = await client.run_command(task, name, params)
    status = result.get("command_status")
    if status == client.FAILED:
        raise DriverError(f"Agent command {name} failed: {client.error_text(result)}")
    if status == client.SUCCEEDED:
        return ""
    task.set_internal(PENDING, {"id": result["id"], "name": name})
    return wait_state


def image_info(task: Task) -> dict[str, Any]:
    """What ``standby.prepare_image`` needs, from instance_info (Ironic's keys).

    Images the conductor serves (file:// URLs and paths; http(s) with image_download_source
    ``local``) were fetched, verified and published by the boot interface's prepare_ramdisk
    (:mod:`ingot.images.staging`): the agent gets the boot server's URL and their sha256.
    Raises InvalidInput naming the instance_info field that is wrong.
    """
    from ingot.images import staging

    node = task.node
    mode = staging.download_source(
        node.instance_info,
        node.driver_info,
        task.conductor.services.settings.agent.image_download_source,
    )
    request = staging.image_request(node.instance_info, node_uuid=node.uuid, source_mode=mode)
    staged = staging.StagedImage.from_internal(
        node.driver_internal_info.get(staging.INTERNAL_KEY), request
    )
    image = staging.agent_image_info(request, staged)
    image["node_uuid"] = node.uuid
    root_hints = node.properties.get("root_device")
    if root_hints:
        image["root_device"] = root_hints
    return image


class DirectDeploy(base.DeployInterface):
    name = "direct"
    properties: ClassVar[dict[str, str]] = {
        "deploy_kernel": "URL or path of the agent kernel.",
        "deploy_ramdisk": "URL or path of the agent ramdisk.",
    }

    def validate(self, task: Task) -> None:
        if not task.ports:
            raise InvalidInput(
                f"Node {task.node.uuid} does not have any port associated with it; add its "
                f"provisioning NIC: baremetal port create <MAC> --node {task.node.uuid}"
            )
        if task.node.provision_state in (states.AVAILABLE, states.DEPLOYING, states.ACTIVE):
            image_info(task)
        source = str(task.node.instance_info.get("image_source", ""))
        has_checksum = any(
            task.node.instance_info.get(k) for k in ("image_checksum", "image_os_hash_value")
        )
        if source.startswith(("http://", "https://")) and not has_checksum:
            raise InvalidInput(
                f"Node {task.node.uuid}: image {source} has no checksum; set "
                "instance_info.image_checksum (sha256/sha512 hex, or a URL of a checksum file)."
            )

    @deploy_step(priority=100)
    async def deploy(self, task: Task) -> str | None:
        await boot_agent(task, "deploy")
        return states.DEPLOYWAIT

    @deploy_step(priority=80)
    async def write_image(self, task: Task) -> str | None:
        params: dict[str, Any] = {"image_info": image_info(task)}
        configdrive = task.node.instance_info.get("configdrive")
        if configdrive:
            params["configdrive"] = configdrive
        return await start_command(task, "standby.prepare_image", params, states.DEPLOYWAIT) or None

    @deploy_step(priority=60)
    async def prepare_instance_boot(self, task: Task) -> None:
        await task.boot.prepare_instance(task)

    @deploy_step(priority=40)
    async def tear_down_agent(self, task: Task) -> None:
        # prepare_instance_boot already replaced the ramdisk boot files with local boot ones.
        await power_off_agent(task)

    @deploy_step(priority=20)
    async def boot_instance(self, task: Task) -> None:
        await task.power.set_power_state(task, states.POWER_ON)
        task.update(power_state=states.POWER_ON)

    async def tear_down(self, task: Task) -> None:
        await task.power.set_power_state(task, states.POWER_OFF)
        task.update(power_state=states.POWER_OFF)

    # --- cleaning on the agent ----------------------------------------------------------

    async def prepare_cleaning(self, task: Task) -> str | None:
        await boot_agent(task, "clean")
        return states.CLEANWAIT

    async def tear_down_cleaning(self, task: Task) -> None:
        await power_off_agent(task)
        await task.boot.clean_up_ramdisk(task)

    @clean_step(priority=99, abortable=True)
    async def erase_devices_metadata(self, task: Task) -> str | None:
        return await self._agent_clean_step(task, "erase_devices_metadata")

    @clean_step(priority=10, abortable=True)
    async def erase_devices(self, task: Task) -> str | None:
        return await self._agent_clean_step(task, "erase_devices")

    async def _agent_clean_step(self, task: Task, step: str) -> str | None:
        params = {
            "step": {"interface": "deploy", "step": step, "priority": 0, "args": {}},
            "node": {"uuid": task.node.uuid, "driver_internal_info": {}},
            "ports": [{"address": p.address} for p in task.ports],
            "clean_version": {},
        }
        return (
            await start_command(task, "clean.execute_clean_step", params, states.CLEANWAIT) or None
        )
