"""``clean.*`` and ``deploy.*``: steps with priorities, as Ironic's agent interfaces expect."""

from __future__ import annotations

from typing import Any

from ingot_agent.commands import command
from ingot_agent.context import AgentContext
from ingot_agent.deploy_image import deploy
from ingot_agent.erase import erase_device, erase_metadata
from ingot_agent.errors import CleaningError, InvalidCommandParamsError
from ingot_agent.image_source import parse_image_info

MANAGER = "GenericHardwareManager"


def _step(name: str, priority: int, **extra: Any) -> dict[str, Any]:
    return {
        "step": name,
        "priority": priority,
        "interface": "deploy",
        "reboot_requested": False,
        "abortable": True,
        **extra,
    }


CLEAN_STEPS = [_step("erase_devices", 10), _step("erase_devices_metadata", 99)]
DEPLOY_STEPS = [
    _step(
        "write_image",
        0,
        argsinfo={
            "image_info": {"description": "image to write", "required": True},
            "configdrive": {"description": "config drive URL or gzip+base64", "required": False},
        },
    ),
    _step("erase_devices_metadata", 0),
]


def _versions(ctx: AgentContext) -> dict[str, str]:
    return {ctx.hardware.name: ctx.hardware.version}


def _step_name(step: Any) -> str:
    if not isinstance(step, dict) or not step.get("step"):
        raise InvalidCommandParamsError("step must be an object with a 'step' name")
    return str(step["step"])


class CleanExtension:
    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx

    @command("get_clean_steps")
    def get_clean_steps(self, node: Any = None, ports: Any = None) -> dict[str, Any]:
        self.ctx.update_node(node)
        return {
            "clean_steps": {MANAGER: list(CLEAN_STEPS)},
            "hardware_manager_version": _versions(self.ctx),
        }

    @command("execute_clean_step", run_async=True)
    def execute_clean_step(
        self,
        step: Any,
        node: Any = None,
        ports: Any = None,
        clean_version: Any = None,
        **_ignored: Any,
    ) -> dict[str, Any]:
        self.ctx.update_node(node)
        name = _step_name(step)
        args = dict(step.get("args") or {})
        if name == "erase_devices_metadata":
            result: Any = self._each_disk(lambda d: erase_metadata(d))
        elif name == "erase_devices":
            result = self._erase_devices(args)
        else:
            raise InvalidCommandParamsError(
                f"unknown clean step {name!r}; this agent has {[s['step'] for s in CLEAN_STEPS]}"
            )
        return {"clean_result": result, "clean_step": step}

    def _each_disk(self, action: Any) -> list[str]:
        out: list[str] = []
        for device in self.ctx.hardware.list_block_devices():
            value = action(device)
            out.extend(value if isinstance(value, list) else [value])
        return out

    def _erase_devices(self, args: dict[str, Any]) -> list[str]:
        info = self.ctx.node.get("driver_internal_info") or {}
        method = args.get("method") or info.get("agent_erase_method")
        iterations = int(args.get("iterations", info.get("agent_erase_devices_iterations", 1)))
        zeroize = bool(args.get("zeroize", info.get("agent_erase_devices_zeroize", True)))
        results = []
        for device in self.ctx.hardware.list_block_devices():
            is_file = self.ctx.hardware.is_block_device_file(device)
            chosen = method or ("discard" if is_file else "shred")
            try:
                results.append(erase_device(device, chosen, iterations, zeroize, is_file))
            except OSError as exc:
                raise CleaningError(f"erasing {device.name} failed: {exc}") from exc
        return results


class DeployExtension:
    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx

    @command("get_deploy_steps")
    def get_deploy_steps(self, node: Any = None, ports: Any = None) -> dict[str, Any]:
        self.ctx.update_node(node)
        return {
            "deploy_steps": {MANAGER: list(DEPLOY_STEPS)},
            "hardware_manager_version": _versions(self.ctx),
        }

    @command("execute_deploy_step", run_async=True)
    def execute_deploy_step(
        self,
        step: Any,
        node: Any = None,
        ports: Any = None,
        deploy_version: Any = None,
        **_ignored: Any,
    ) -> dict[str, Any]:
        self.ctx.update_node(node)
        name = _step_name(step)
        args = dict(step.get("args") or {})
        if name == "write_image":
            info = parse_image_info(args.get("image_info"))
            self.ctx.partition_uuids = {}
            result: Any = deploy(self.ctx, info, args.get("configdrive"))
        elif name == "erase_devices_metadata":
            result = [m for d in self.ctx.hardware.list_block_devices() for m in erase_metadata(d)]
        else:
            raise InvalidCommandParamsError(
                f"unknown deploy step {name!r}; this agent has {[s['step'] for s in DEPLOY_STEPS]}"
            )
        return {"deploy_result": result, "deploy_step": step}
