"""The transition table, row by row, and everything outside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingot import fsm
from ingot import states as st
from ingot.errors import InvalidInput, InvalidState

DOCS = Path(__file__).resolve().parents[2] / "docs" / "states.md"

EVENTS = sorted({t.event for t in fsm.TRANSITIONS})
USER_ROWS = [t for t in fsm.TRANSITIONS if t.who == "user"]
LEGAL = {(t.source, t.event) for t in fsm.TRANSITIONS}
ILLEGAL = [(s, e) for s in sorted(st.ALL_STATES) for e in EVENTS if (s, e) not in LEGAL]


def test_table_has_no_duplicate_keys() -> None:
    keys = [(t.source, t.event) for t in fsm.TRANSITIONS]
    assert len(keys) == len(set(keys))


def test_table_uses_only_known_states() -> None:
    for t in fsm.TRANSITIONS:
        assert t.source in st.ALL_STATES, t
        assert t.target in st.ALL_STATES, t


def test_every_state_is_reachable_and_has_a_way_out() -> None:
    sources = {t.source for t in fsm.TRANSITIONS}
    targets = {t.target for t in fsm.TRANSITIONS}
    assert sources == st.ALL_STATES
    assert targets | {st.ENROLL} == st.ALL_STATES


@pytest.mark.parametrize("row", fsm.TRANSITIONS, ids=lambda t: f"{t.source}-{t.event}")
def test_every_legal_transition(row: fsm.Transition) -> None:
    assert fsm.next_state(row.source, row.event) == row.target


@pytest.mark.parametrize(("state", "event"), ILLEGAL)
def test_every_pair_outside_the_table_is_refused(state: str, event: str) -> None:
    with pytest.raises(InvalidState, match=f'while it is in state "{state}"'):
        fsm.next_state(state, event)


@pytest.mark.parametrize("state", sorted(st.ALL_STATES))
@pytest.mark.parametrize("verb", sorted(fsm.VERBS))
def test_every_verb_in_every_state(state: str, verb: str) -> None:
    event = fsm.VERBS[verb]
    row = next((t for t in USER_ROWS if t.source == state and t.event == event), None)
    if row is None:
        with pytest.raises(InvalidState, match=f'"{verb}" can not be performed'):
            fsm.begin(state, verb, node="n1")
        assert verb not in fsm.allowed_verbs(state)
    else:
        new, _target = fsm.begin(state, verb, node="n1")
        assert new == row.target
        assert verb in fsm.allowed_verbs(state)


def test_deploy_on_enroll_names_state_and_allowed_verbs() -> None:
    with pytest.raises(InvalidState) as err:
        fsm.begin(st.ENROLL, "deploy", node="node-7")
    assert str(err.value) == (
        'The requested action "deploy" can not be performed on node node-7 while it is in '
        'state "enroll". Allowed actions from this state: manage.'
    )
    assert err.value.status == 400


def test_busy_state_says_to_wait() -> None:
    with pytest.raises(InvalidState, match="wait for the current operation"):
        fsm.begin(st.DEPLOYING, "undeploy")


def test_conductor_events_are_not_verbs() -> None:
    # "manage" ends manual cleaning inside the conductor; a user cannot send it mid-clean.
    assert fsm.next_state(st.CLEANING, "manage") == st.MANAGEABLE
    with pytest.raises(InvalidState):
        fsm.begin(st.CLEANING, "manage")
    with pytest.raises(InvalidInput, match="not a provision action"):
        fsm.begin(st.DEPLOYING, "done")


def test_unknown_state_is_refused() -> None:
    with pytest.raises(InvalidState, match='unknown provision state "bogus"'):
        fsm.next_state("bogus", "manage", node="n1")


@pytest.mark.parametrize(
    ("state", "verb", "expected"),
    [
        (st.ENROLL, "manage", (st.VERIFYING, st.MANAGEABLE)),
        (st.MANAGEABLE, "provide", (st.CLEANING, st.AVAILABLE)),
        (st.MANAGEABLE, "clean", (st.CLEANING, st.MANAGEABLE)),
        (st.MANAGEABLE, "inspect", (st.INSPECTING, st.MANAGEABLE)),
        (st.AVAILABLE, "active", (st.DEPLOYING, st.ACTIVE)),
        (st.AVAILABLE, "deploy", (st.DEPLOYING, st.ACTIVE)),
        (st.AVAILABLE, "manage", (st.MANAGEABLE, None)),
        (st.ACTIVE, "deleted", (st.DELETING, st.AVAILABLE)),
        (st.ACTIVE, "undeploy", (st.DELETING, st.AVAILABLE)),
        (st.ACTIVE, "rescue", (st.RESCUING, st.RESCUE)),
        (st.RESCUE, "unrescue", (st.UNRESCUING, st.ACTIVE)),
        (st.SERVICEFAIL, "abort", (st.ACTIVE, None)),
        (st.CLEANWAIT, "abort", (st.CLEANFAIL, st.AVAILABLE)),
    ],
)
def test_begin_records_target(state: str, verb: str, expected: tuple[str, str | None]) -> None:
    assert fsm.begin(state, verb) == expected


def test_manual_clean_keeps_its_target_through_wait_and_failure() -> None:
    state, target = fsm.begin(st.MANAGEABLE, "clean")
    state, target = fsm.advance(state, "wait", target)
    assert (state, target) == (st.CLEANWAIT, st.MANAGEABLE)
    state, target = fsm.advance(state, "fail", target)
    assert (state, target) == (st.CLEANFAIL, st.MANAGEABLE)


def test_whole_lifecycle() -> None:
    state, target = fsm.begin(st.ENROLL, "manage")
    state, target = fsm.advance(state, "done", target)
    assert (state, target) == (st.MANAGEABLE, None)
    state, target = fsm.begin(state, "provide")
    state, target = fsm.advance(state, "done", target)
    assert (state, target) == (st.AVAILABLE, None)
    state, target = fsm.begin(state, "active")
    state, target = fsm.advance(state, "wait", target)
    assert (state, target) == (st.DEPLOYWAIT, st.ACTIVE)
    state, target = fsm.advance(state, "resume", target)
    state, target = fsm.advance(state, "done", target)
    assert (state, target) == (st.ACTIVE, None)
    state, target = fsm.begin(state, "deleted")
    state, target = fsm.advance(state, "clean", target)
    assert (state, target) == (st.CLEANING, st.AVAILABLE)
    assert fsm.advance(state, "done", target) == (st.AVAILABLE, None)


def test_advance_falls_back_to_default_target() -> None:
    assert fsm.advance(st.DEPLOYING, "wait", None) == (st.DEPLOYWAIT, st.ACTIVE)


@pytest.mark.parametrize("state", sorted(st.ALL_STATES))
def test_target_of_matches_stability(state: str) -> None:
    assert fsm.is_stable(state) == (fsm.target_of(state) is None)


def test_docs_states_md_is_generated() -> None:
    assert DOCS.read_text() == fsm.render_diagram(), (
        "docs/states.md is stale; run: python -m ingot.fsm > docs/states.md"
    )


def test_diagram_has_every_transition() -> None:
    text = fsm.render_diagram()
    assert text.count("\n| `") >= len(fsm.TRANSITIONS)
    assert "stateDiagram-v2" in text
    assert 'state "wait call-back" as wait_call_back' in text
