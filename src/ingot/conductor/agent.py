"""The agent's side of the protocol: lookup, heartbeat and inspection data.

Lookup issues the agent token (once per ramdisk boot; later lookups see it masked). A
heartbeat records the agent's address and, when the node waits for the agent, finishes the
pending agent command and resumes the flow with the node's lock held by the worker.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ingot import states
from ingot.conductor import clean, deploy, outcome
from ingot.conductor.task import Task, load_task
from ingot.db import models
from ingot.db.queries import get_node
from ingot.drivers.agent import client
from ingot.drivers.agent.deploy import PENDING, power_off_agent
from ingot.errors import Forbidden, InvalidInput, NodeLocked, NotFound

if TYPE_CHECKING:
    from ingot.conductor.service import Conductor

TOKEN = "agent_secret_token"
_LOOKUP_STATES = states.LOOKUP_ALLOWED_STATES | {states.INSPECTWAIT}


def lookup(conductor: Conductor, macs: list[str], node_uuid: str | None) -> dict[str, Any]:
    """Find the node an agent runs on and hand it its token (Ironic's ``GET /v1/lookup``)."""
    settings = conductor.services.settings

    def find_and_issue(session: Session) -> dict[str, Any]:
        node: models.Node | None = None
        if node_uuid:
            node = get_node(session, node_uuid)
        elif macs:
            node = session.scalars(
                select(models.Node)
                .join(models.Port, models.Port.node_id == models.Node.id)
                .where(models.Port.address.in_(macs))
            ).first()
        if node is None:
            raise NotFound(
                f"No node has a port with MAC {', '.join(macs) or '(none)'}; enroll the node's "
                "provisioning NIC with `baremetal port create <MAC> --node <node>`."
            )
        if node.provision_state not in _LOOKUP_STATES:
            raise NotFound(
                f"Node {node.uuid} is in state '{node.provision_state}', where no agent is "
                "expected; nothing to do for this ramdisk."
            )
        info = dict(node.driver_internal_info)
        token = "******"
        if not info.get(TOKEN):
            if node.reservation is not None:
                raise NodeLocked(node.uuid, node.reservation)  # the agent retries
            token = secrets.token_urlsafe(32)
            info[TOKEN] = token
            session.execute(
                update(models.Node)
                .where(models.Node.id == node.id, models.Node.reservation.is_(None))
                .values(driver_internal_info=info)
                .execution_options(synchronize_session=False)
            )
        return {
            "node": {
                "uuid": node.uuid,
                "properties": node.properties,
                "instance_info": {
                    k: v for k, v in node.instance_info.items() if k != "configdrive"
                },
                "driver_internal_info": {
                    k: v for k, v in node.driver_internal_info.items() if not k.startswith("agent_")
                },
                "links": [],
            },
            "config": {
                "heartbeat_timeout": settings.agent.heartbeat_timeout,
                "agent_token": token,
                "agent_token_required": True,
                "metrics": {"backend": "noop"},
                "metrics_statsd": {},
            },
        }

    return conductor.services.db.run_write(find_and_issue)


def check_token(node: models.Node, token: str | None) -> None:
    expected = node.driver_internal_info.get(TOKEN)
    if not expected:
        raise Forbidden(
            f"Node {node.uuid} has no agent token issued; the agent must look up first."
        )
    if not token or not hmac.compare_digest(str(expected), str(token)):
        raise Forbidden(f"Invalid or missing agent token for node {node.uuid}.")


def heartbeat(
    conductor: Conductor,
    ident: str,
    callback_url: str,
    agent_version: str | None,
    token: str | None,
) -> None:
    """Record the heartbeat; continue a waiting flow. 409 while the node is busy."""
    if not isinstance(callback_url, str) or not callback_url.startswith(("http://", "https://")):
        raise InvalidInput("A heartbeat needs 'callback_url', the agent's http(s) URL.")
    task = load_task(conductor, ident, lock=True)
    try:
        check_token(task.node, token)
        task.set_internal("agent_url", callback_url)
        task.set_internal("agent_version", agent_version)
        task.set_internal("agent_last_heartbeat", dt.datetime.now(dt.UTC).isoformat())
        task.save()
        state = task.node.provision_state
        if state not in (
            states.DEPLOYWAIT,
            states.CLEANWAIT,
            states.SERVICEWAIT,
            states.RESCUEWAIT,
        ):
            task.release()
            return
    except BaseException:
        task.release()
        raise
    conductor.spawn(task, _continue, f"continuing after the agent's heartbeat in '{state}'")


async def _continue(task: Task) -> None:
    pending = task.node.driver_internal_info.get(PENDING)
    if pending:
        result = await client.command_status(task, pending["id"])
        status = result.get("command_status")
        if status == client.RUNNING:
            return
        task.set_internal(PENDING, None)
        if status == client.FAILED:
            outcome.fail(
                task, f"Agent command {pending['name']} failed: {client.error_text(result)}"
            )
            return
    state = task.node.provision_state
    if state == states.DEPLOYWAIT:
        await deploy.resume(task)
    elif state == states.CLEANWAIT:
        await clean.resume(task)
    elif state == states.RESCUEWAIT:
        outcome.advance(task, "resume", "The rescue ramdisk called back")
        await task.rescue.finalize(task)
        outcome.advance(task, "done", "Node is in rescue mode")
    elif state == states.SERVICEWAIT:
        from ingot.conductor.provision import resume_service

        await resume_service(task)


def continue_inspection(conductor: Conductor, data: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/continue_inspection``: store the inventory and finish inspection."""
    inventory = data.get("inventory")
    if not isinstance(inventory, dict):
        raise InvalidInput("Inspection data needs an 'inventory' object.")
    macs = [str(i.get("mac_address", "")).lower() for i in inventory.get("interfaces", [])]
    with conductor.services.db.read() as session:
        node = session.scalars(
            select(models.Node)
            .join(models.Port, models.Port.node_id == models.Node.id)
            .where(
                models.Port.address.in_(macs),
                models.Node.provision_state.in_((states.INSPECTWAIT, states.INSPECTING)),
            )
        ).first()
        if node is None:
            node = (
                session.scalars(
                    select(models.Node).where(models.Node.provision_state == states.INSPECTWAIT)
                ).first()
                if not macs
                else None
            )
        if node is None:
            raise NotFound(f"No node waiting for inspection has a port with MAC {', '.join(macs)}.")
        ident = node.uuid
    # A fast agent can post while the inspect flow still holds the lock (state "inspecting"):
    # load_task then raises NodeLocked (409) and the agent retries.
    task = load_task(conductor, ident, lock=True)
    if task.node.provision_state != states.INSPECTWAIT:
        task.release()
        raise NodeLocked(task.node.uuid, "the inspection that is starting")
    from ingot.conductor.inspection import apply_inventory
    from ingot.conductor.rules import RuleFailed

    try:
        apply_inventory(task, inventory, data)
    except RuleFailed as exc:
        # An inspection rule's "fail" action: the node fails inspection, the agent is told.
        task.dirty.clear()
        outcome.fail(task, f"Inspection rule failed the node: {exc.message}")
        task.release()
        raise
    except BaseException:
        task.release()
        raise

    async def finish(t: Task) -> None:
        await power_off_agent(t, timeout=5)
        await t.boot.clean_up_ramdisk(t)
        t.update(inspection_finished_at=dt.datetime.now(dt.UTC))
        outcome.advance(t, "done", "Inspection completed")

    conductor.spawn(task, finish, "finishing inspection")
    return {"uuid": ident}
