"""Moving a node on after its work: done, wait, hold, or fail with ``last_error``."""

from __future__ import annotations

import logging

from ingot import fsm, states
from ingot.conductor.task import Task
from ingot.db import history

LOG = logging.getLogger(__name__)
_RESTING = states.STABLE_STATES | states.WAIT_STATES | states.HOLD_STATES | states.FAILURE_STATES
"""States in which a flow ends: their save is written together with the lock's release."""


def advance(task: Task, event: str, message: str | None = None, *, defer: bool = False) -> None:
    """Fire a conductor event, record why, and save.

    The save waits for the lock's release when the node comes to rest, or when ``defer`` says
    the caller saves again before any I/O (two writes become one transaction).
    """
    node = task.node
    old = node.provision_state
    state, target = fsm.advance(old, event, node.target_provision_state, node.uuid)
    task.set_provision(state, target)
    if event == "done" or fsm.is_stable(state):
        task.update(last_error=None)
    text = message or f"{old} -> {state}"
    task.save(text, defer=defer or state in _RESTING)
    LOG.info("node %s: %s (%s)", node.uuid, text, event)


def fail(task: Task, message: str, event: str = "fail") -> None:
    """Move the node to its failed state with ``last_error`` and an ERROR history entry."""
    node = task.node
    old = node.provision_state
    state, target = fsm.advance(old, event, node.target_provision_state, node.uuid)
    task.set_provision(state, target, error=message)
    for kind in ("clean", "deploy", "service"):
        if getattr(node, f"{kind}_step"):
            task.update(**{f"{kind}_step": {}})
    task.save(message, severity=history.ERROR, defer=state in _RESTING)
    LOG.warning("node %s: %s -> %s: %s", node.uuid, old, state, message)
