"""Drive imported nodes through manage -> inspect -> provide, each node at its own pace.

At most ``concurrency`` nodes are in flight; a node moves to its next step as soon as the last
one is done, and drops out (with its ``last_error``) when one fails. A node already past a
step skips it: an ``available`` node is not managed or inspected again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ingot.client import JSON, IngotClient, provision_outcome
from ingot.errors import IngotError

STEP_TARGETS = {"manage": "manageable", "inspect": "manageable", "provide": "available"}
# States from which `manage` is the way back to manageable.
MANAGE_FROM = ("enroll", "inspect failed", "clean failed")


@dataclass
class Job:
    ident: str  # node UUID
    label: str
    steps: list[str]
    step: int = 0
    started: float = 0.0
    node: JSON = field(default_factory=dict)
    error: str = ""
    skipped: str = ""

    @property
    def verb(self) -> str | None:
        return self.steps[self.step] if self.step < len(self.steps) else None


def steps_for(state: str, wanted: Sequence[str]) -> tuple[list[str], str]:
    """The steps a node in ``state`` still needs for ``wanted``, and why any were skipped.

    Inspect and provide need a manageable node, so an enrolled node is managed first even
    without --manage (as TripleO's import does).
    """
    if not wanted:
        return [], ""
    if state in MANAGE_FROM:
        return ["manage", *[s for s in wanted if s != "manage"]], ""
    if state == "manageable":
        return [s for s in wanted if s != "manage"], ""
    if state == "available":
        return [], f"already available; {', '.join(wanted)} skipped"
    return [], f"in state {state!r}; {', '.join(wanted)} skipped"


def drive(
    api: IngotClient,
    jobs: list[Job],
    *,
    concurrency: int = 20,
    step_timeout: float = 1800.0,
    interval: float = 1.0,
    on_progress: Callable[[list[Job]], None] | None = None,
) -> list[Job]:
    """Run every job to its end; failures are recorded on the job, never raised."""
    waiting = [j for j in jobs if j.verb is not None]
    active: list[Job] = []
    while waiting or active:
        while waiting and len(active) < concurrency:
            job = waiting.pop(0)
            if _start(api, job):
                active.append(job)
        if not active:
            continue
        states = api.node_states([j.ident for j in active])
        for job in list(active):
            job.node = states[job.ident]
            verb = job.verb
            assert verb is not None
            outcome = provision_outcome(job.node, STEP_TARGETS[verb])
            if outcome == "failed":
                job.error = f"{verb}: {job.node.get('provision_state')}: " + str(
                    job.node.get("last_error") or "no last_error recorded"
                )
            elif outcome == "busy" and time.monotonic() - job.started > step_timeout:
                job.error = (
                    f"{verb}: still {job.node.get('provision_state')} after {step_timeout:g}s"
                )
            elif outcome == "done":
                job.step += 1
                if job.verb is not None and _start(api, job):
                    continue
            else:
                continue
            active.remove(job)
        if on_progress is not None:
            on_progress(jobs)
        if active:
            time.sleep(interval)
    return jobs


def _start(api: IngotClient, job: Job) -> bool:
    verb = job.verb
    assert verb is not None
    try:
        api.set_provision_state(job.ident, verb)
    except IngotError as exc:
        job.error = f"{verb}: {exc.message}"
        return False
    job.started = time.monotonic()
    return True
