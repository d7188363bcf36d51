"""Cleaning: automated (on provide and after undeploy) and manual (``clean`` with steps)."""

from __future__ import annotations

from typing import Any

from ingot import states
from ingot.conductor import outcome, stepper
from ingot.conductor.steps import (
    apply_overrides,
    collect_steps,
    enabled_steps,
    validate_user_steps,
)
from ingot.conductor.task import Task


def automated_clean_enabled(task: Task) -> bool:
    """The node's ``automated_clean`` wins over ``[conductor] automated_clean``."""
    if task.node.automated_clean is not None:
        return bool(task.node.automated_clean)
    return task.conductor.services.settings.conductor.automated_clean


def _priority_settings(task: Task, available: list[Any]) -> list[dict[str, Any]]:
    """``[deploy] erase_devices_priority`` and ``erase_devices_metadata_priority``, as Ironic."""
    cfg = task.conductor.services.settings.deploy
    wanted = {
        "erase_devices": cfg.erase_devices_priority,
        "erase_devices_metadata": cfg.erase_devices_metadata_priority,
    }
    present = {(s.interface, s.step) for s in available}
    return [
        {"interface": "deploy", "step": step, "priority": priority}
        for step, priority in wanted.items()
        if ("deploy", step) in present
    ]


def plan(task: Task, manual_steps: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    available = collect_steps(task.interfaces, "clean")
    if manual_steps is None:
        return enabled_steps(apply_overrides(available, _priority_settings(task, available)))
    return validate_user_steps(manual_steps, available, "clean")


async def start(task: Task, manual_steps: list[dict[str, Any]] | None = None) -> None:
    """Run cleaning; manual cleaning ends in manageable, automated cleaning in available."""
    manual = manual_steps is not None
    if not manual and not automated_clean_enabled(task):
        outcome.advance(task, "done", "Automated cleaning is disabled; node is available")
        return
    steps = plan(task, manual_steps)
    stepper.store_steps(task, "clean", steps)
    task.set_internal("clean_manual", manual or None)
    # Without steps nothing is awaited before the node comes to rest: write it all at once.
    task.save(
        f"Starting {'manual' if manual else 'automated'} cleaning with steps: "
        f"{stepper.describe(steps)}",
        defer=not steps,
    )
    if steps and await task.deploy.prepare_cleaning(task) == states.CLEANWAIT:
        task.set_internal("cleaning_ramdisk", True)
        outcome.advance(task, "wait", "Cleaning waits for the agent ramdisk to boot")
        return
    await _run(task, resume=False)


async def resume(task: Task) -> None:
    """Continue after the step that was waiting (agent callback or unhold)."""
    await _run(task, resume=True)


async def _run(task: Task, *, resume: bool) -> None:
    if not await stepper.run_flow(task, "clean", resume=resume):
        return
    if task.node.driver_internal_info.get("cleaning_ramdisk"):
        await task.deploy.tear_down_cleaning(task)
        task.set_internal("cleaning_ramdisk", None)
    manual = bool(task.node.driver_internal_info.get("clean_manual"))
    task.set_internal("clean_manual", None)
    outcome.advance(task, "manage" if manual else "done", "Cleaning completed")
