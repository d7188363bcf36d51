"""Run an ordered list of clean, deploy or service steps, resumable after a wait.

The list and the index of the running step live in ``driver_internal_info``
(``<kind>_steps``, ``<kind>_step_index``) as in Ironic, so a step that hands work to the agent
can return a *wait* state and the flow resumes at the next step when the agent calls back —
even on another conductor after a takeover.
"""

from __future__ import annotations

import inspect
from typing import Any

from ingot import states
from ingot.conductor import outcome
from ingot.conductor.steps import FLOW_STEPS, StepKind
from ingot.conductor.task import Task
from ingot.errors import DriverError, InvalidInput

WAIT = "wait"
HOLD = "hold"
_WAIT_STATES = {states.CLEANWAIT, states.DEPLOYWAIT, states.SERVICEWAIT}


_LABELS = {"clean": "Cleaning", "deploy": "Deployment", "service": "Servicing"}
_WAIT_OF = {"clean": states.CLEANWAIT, "deploy": states.DEPLOYWAIT, "service": states.SERVICEWAIT}


async def run_flow(task: Task, kind: StepKind, *, resume: bool) -> bool:
    """Run (or resume) the stored steps and settle the node if they pause.

    Returns True when every step has run (the caller finishes the operation), False when
    the node was moved to its wait or hold state.
    """
    label = _LABELS[kind]
    if resume and task.node.provision_state == _WAIT_OF[kind]:
        outcome.advance(task, "resume", f"Resuming {label.lower()}")
    result = await run_steps(task, kind, resume=resume)
    if result == WAIT:
        outcome.advance(task, "wait", f"{label} waits for the agent")
        return False
    if result == HOLD:
        outcome.advance(task, "hold", f"{label} is on hold; send 'unhold' to continue")
        return False
    return True


def store_steps(task: Task, kind: StepKind, steps: list[dict[str, Any]]) -> None:
    task.set_internal(f"{kind}_steps", steps)
    task.set_internal(f"{kind}_step_index", None)


def describe(steps: list[dict[str, Any]]) -> str:
    return ", ".join(f"{s['interface']}.{s['step']}" for s in steps) or "none"


async def run_steps(task: Task, kind: StepKind, *, resume: bool = False) -> str | None:
    """Run the stored steps from the start (or after the current one when ``resume``).

    Returns WAIT or HOLD when the flow must pause, None when every step has run. A step that
    raises propagates; the caller fails the node with the message.
    """
    steps: list[dict[str, Any]] = list(task.node.driver_internal_info.get(f"{kind}_steps", []))
    index = task.node.driver_internal_info.get(f"{kind}_step_index")
    start = (index + 1) if (resume and index is not None) else 0
    for i in range(start, len(steps)):
        step = steps[i]
        task.set_internal(f"{kind}_step_index", i)
        task.update(**{f"{kind}_step": step})
        task.save()
        outcome = await _run_one(task, step)
        if outcome in (WAIT, HOLD):
            return outcome
    task.update(**{f"{kind}_step": {}})
    task.set_internal(f"{kind}_step_index", None)
    task.set_internal(f"{kind}_steps", None)
    return None


async def _run_one(task: Task, step: dict[str, Any]) -> str | None:
    name = step["step"]
    args = dict(step.get("args") or {})
    if name in FLOW_STEPS:
        return await _flow_step(task, name, args)
    impl = task.interfaces.get(step["interface"])
    method = getattr(impl, name, None) if impl is not None else None
    if method is None or not inspect.iscoroutinefunction(method):
        raise InvalidInput(
            f"Node {task.node.uuid}: step {step['interface']}.{name} does not exist on the "
            f"{getattr(impl, 'name', '?')} {step['interface']} interface."
        )
    result = await method(task, **args)
    return WAIT if result in _WAIT_STATES else None


async def _flow_step(task: Task, name: str, args: dict[str, Any]) -> str | None:
    """The steps the conductor runs itself, on any interface: hold, wait, power."""
    if name == "hold":
        return HOLD
    if name == "wait":
        seconds = float(args.get("seconds", 0))
        if seconds <= 0:
            return WAIT
        import asyncio

        await asyncio.sleep(min(seconds, 3600))
        return None
    target = {"power_on": states.POWER_ON, "power_off": states.POWER_OFF}.get(name)
    if name == "reboot":
        await task.power.reboot(task)
        target = states.POWER_ON
    elif target is not None:
        await task.power.set_power_state(task, target)
    else:
        raise DriverError(f"Unknown flow step {name}")
    task.update(power_state=target)
    return None
