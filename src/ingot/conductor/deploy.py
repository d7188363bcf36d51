"""Deploying (``deploy``/``active``, ``rebuild``) and tearing down (``undeploy``/``deleted``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ingot.conductor import clean, outcome, stepper
from ingot.conductor.steps import apply_overrides, collect_steps, enabled_steps, validate_user_steps
from ingot.conductor.task import Task
from ingot.db import models


def _template_overrides(task: Task) -> list[dict[str, Any]]:
    """Steps of deploy templates whose name is one of the instance's requested traits."""
    wanted = task.node.instance_info.get("traits") or []
    if not wanted:
        return []
    with task.conductor.services.db.read() as session:
        templates = session.scalars(
            select(models.DeployTemplate).where(models.DeployTemplate.name.in_(wanted))
        ).all()
    return [dict(step) for template in templates for step in template.steps]


def plan(task: Task, user_steps: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    available = collect_steps(task.interfaces, "deploy")
    overrides = _template_overrides(task)
    if user_steps:
        overrides += validate_user_steps(user_steps, available, "deploy")
    return enabled_steps(apply_overrides(available, overrides))


async def start(task: Task, user_steps: list[dict[str, Any]] | None = None) -> None:
    """From ``deploying``: validate, plan and run the deploy steps."""
    for kind in ("power", "deploy", "boot"):
        task.interfaces[kind].validate(task)
    steps = plan(task, user_steps)
    stepper.store_steps(task, "deploy", steps)
    # Written with the first step's save (or the failure): the node is already 'deploying'
    # in the database, and a conductor that dies in prepare() fails it either way.
    task.save(f"Starting deployment with steps: {stepper.describe(steps)}", defer=True)
    await task.deploy.prepare(task)
    await _run(task, resume=False)


async def resume(task: Task) -> None:
    await _run(task, resume=True)


async def _run(task: Task, *, resume: bool) -> None:
    if await stepper.run_flow(task, "deploy", resume=resume):
        outcome.advance(task, "done", "Deployment completed successfully")


def _release_allocation(task: Task) -> None:
    """Undeploying frees the node from its allocation, as Ironic does."""
    if task.node.allocation_id is None:
        return
    allocation_id = task.node.allocation_id

    def write(session: Session) -> None:
        session.execute(delete(models.Allocation).where(models.Allocation.id == allocation_id))

    task.write(write)
    task.update(allocation_id=None)


async def undeploy(task: Task) -> None:
    """From ``deleting``: tear the instance down, then clean automatically."""
    await task.deploy.tear_down(task)
    await task.boot.clean_up_instance(task)
    await task.deploy.clean_up(task)
    info = dict(task.node.instance_info)
    _release_allocation(task)
    task.update(instance_info={}, instance_uuid=None, instance_name=None, deploy_step={})
    for key in ("deploy_steps", "deploy_step_index", "agent_url", "agent_secret_token"):
        task.set_internal(key, None)
    task.set_internal("last_instance_image", info.get("image_source"))
    # clean.start saves (or comes to rest) before its first I/O: one transaction for both.
    outcome.advance(task, "clean", "Instance torn down; cleaning", defer=True)
    await clean.start(task)
