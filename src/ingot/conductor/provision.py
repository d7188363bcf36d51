"""``PUT /v1/nodes/{node}/states/provision``: accept a verb, then run its flow in a worker.

Accepting is synchronous (lock, check the transition, record the new state) so the client
gets 400/409 at once; the flow runs after the 202 with the lock handed to the worker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ingot import fsm, states
from ingot.conductor import clean, deploy, outcome, stepper
from ingot.conductor.steps import collect_steps, validate_user_steps
from ingot.conductor.task import Task, locked_task
from ingot.errors import InvalidInput, InvalidState

if TYPE_CHECKING:
    from ingot.conductor.service import Conductor

Flow = Callable[[Task], Awaitable[None]]


async def _verify(task: Task) -> None:
    """enroll -> verifying: the BMC answers with these credentials."""
    for kind in ("power", "management"):
        task.interfaces[kind].validate(task)
    power = await task.power.get_power_state(task)
    task.update(power_state=power)
    outcome.advance(task, "done", f"Node verified; power state is {power}")


async def _inspect(task: Task) -> None:
    task.interfaces["inspect"].validate(task)
    task.update(inspection_started_at=dt.datetime.now(dt.UTC), inspection_finished_at=None)
    result = await task.inspect.inspect_hardware(task)
    if result == states.INSPECTWAIT:
        outcome.advance(task, "wait", "Inspection waits for the agent")
        return
    task.update(inspection_finished_at=dt.datetime.now(dt.UTC))
    outcome.advance(task, "done", "Inspection completed")


async def _adopt(task: Task) -> None:
    for kind in ("power", "deploy", "boot"):
        task.interfaces[kind].validate(task)
    await task.boot.prepare_instance(task)
    outcome.advance(task, "done", "Node adopted")


async def _rescue(task: Task) -> None:
    if await task.interfaces["rescue"].rescue(task) == states.RESCUEWAIT:  # type: ignore[attr-defined]
        outcome.advance(task, "wait", "Rescue waits for the rescue ramdisk to boot")
        return
    task.set_internal("rescue_password", None)
    outcome.advance(task, "done", "Node is in rescue mode")


async def _unrescue(task: Task) -> None:
    await task.rescue.unrescue(task)
    task.set_internal("rescue_password", None)
    outcome.advance(task, "done", "Node left rescue mode")


async def _service(task: Task, resume: bool = False) -> None:
    if await stepper.run_flow(task, "service", resume=resume):
        outcome.advance(task, "done", "Servicing completed")


async def resume_service(task: Task) -> None:
    await _service(task, resume=True)


def _steps_arg(args: dict[str, Any], key: str) -> list[dict[str, Any]] | None:
    value = args.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidInput(f"'{key}' must be a list of steps.")
    return value


def _configdrive(task: Task, value: Any) -> str | None:
    """What instance_info stores for a request's configdrive: a URL or gzip+base64 ISO.

    A JSON configdrive without ``network_data`` gets the node's ``network_data``, as Ironic.
    """
    from ingot.configdrive import macs_by_name, resolve_configdrive

    if isinstance(value, dict) and "network_data" not in value and task.node.network_data:
        value = {**value, "network_data": task.node.network_data}
    drive = resolve_configdrive(
        value,
        node_uuid=task.node.uuid,
        node_name=task.node.name,
        port_macs=macs_by_name(task.macs),
    )
    return drive.instance_info_value() if drive is not None else None


def _prepare(conductor: Conductor, task: Task, verb: str, args: dict[str, Any]) -> Flow | None:
    """Check the verb's arguments and return the flow to run (None: nothing to run)."""
    node = task.node
    if verb in ("active", "deploy", "rebuild"):
        if args.get("configdrive") is not None:
            info = dict(node.instance_info)
            info["configdrive"] = _configdrive(task, args["configdrive"])
            task.update(instance_info=info)
        steps = _steps_arg(args, "deploy_steps")
        return lambda t: deploy.start(t, steps)
    if verb in ("deleted", "undeploy"):
        return deploy.undeploy
    if verb == "provide":
        return clean.start
    if verb == "clean":
        steps = _steps_arg(args, "clean_steps")
        if not steps:
            raise InvalidInput(
                "Manual cleaning needs 'clean_steps', e.g. "
                '[{"interface": "deploy", "step": "erase_devices_metadata"}].'
            )
        clean.plan(task, steps)  # validate now so the client gets the 400
        return lambda t: clean.start(t, steps)
    if verb == "manage" and node.provision_state == states.ENROLL:
        return _verify
    if verb == "inspect":
        return _inspect
    if verb == "adopt":
        return _adopt
    if verb == "rescue":
        password = args.get("rescue_password")
        if not password or not isinstance(password, str):
            raise InvalidInput("The 'rescue' action needs a non-empty 'rescue_password'.")
        task.set_internal("rescue_password", password)
        return _rescue
    if verb == "unrescue":
        return _unrescue
    if verb == "service":
        steps = _steps_arg(args, "service_steps")
        if not steps:
            raise InvalidInput("The 'service' action needs 'service_steps'.")
        checked = validate_user_steps(steps, collect_steps(task.interfaces, "service"), "service")
        stepper.store_steps(task, "service", checked)
        return _service
    if verb == "unhold":
        return _resume_flow(node.target_provision_state)
    return None


def _resume_flow(target: str | None) -> Flow:
    if target in (states.AVAILABLE, states.MANAGEABLE):
        return clean.resume
    if target == states.ACTIVE:
        return deploy.resume
    return resume_service


def accept(conductor: Conductor, ident: str, verb: str, args: dict[str, Any]) -> None:
    """Lock the node, check and record the transition, and start the flow in a worker.

    Locking, checking and recording are one transaction: a refused request rolls back with
    its lock, and an accepted one costs a single commit before its flow starts.
    """

    def txn(session: Session) -> tuple[Task, Flow | None]:
        task = locked_task(session, conductor, ident)
        return task, _accept(session, conductor, task, verb, args)

    task, flow = conductor.services.db.run_write(txn)
    if flow is not None:
        conductor.spawn(task, flow, f"'{verb}'")


def _accept(
    session: Session, conductor: Conductor, task: Task, verb: str, args: dict[str, Any]
) -> Flow | None:
    node = task.node
    if node.maintenance and verb not in ("manage", "abort", "deleted", "undeploy", "unhold"):
        raise InvalidState(
            f"Node {node.uuid} is in maintenance mode ({node.maintenance_reason or 'no reason'}"
            f"); unset maintenance before '{verb}'."
        )
    if node.protected and verb in ("deleted", "undeploy", "rebuild"):
        raise InvalidState(
            f"Node {node.uuid} is protected and cannot be undeployed, rebuilt or deleted. "
            "Unset protected first."
        )
    if verb == "abort":
        _abort(session, task)
        return None
    old = node.provision_state
    new, target = fsm.begin(old, verb, node.uuid)
    flow = _prepare(conductor, task, verb, args)
    task.set_provision(new, target)
    task.update(last_error=None)
    task.save_in(session, f"'{verb}' accepted: {old} -> {new}", release=flow is None)
    return flow


def _abort(session: Session, task: Task) -> None:
    node = task.node
    old = node.provision_state
    new, target = fsm.begin(old, "abort", node.uuid)
    task.set_provision(new, target, error=f"Operation in state '{old}' was aborted by request")
    for kind in ("clean", "deploy", "service"):
        task.update(**{f"{kind}_step": {}})
        stepper.store_steps(task, kind, [])
    task.save_in(session, f"Aborted in state {old}; now {new}", release=True)
