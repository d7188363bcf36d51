"""The state strings are part of the API contract: clients compare them literally."""

from __future__ import annotations

import pytest

from ingot import states as st


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (st.ENROLL, "enroll"),
        (st.VERIFYING, "verifying"),
        (st.MANAGEABLE, "manageable"),
        (st.INSPECTWAIT, "inspect wait"),
        (st.INSPECTFAIL, "inspect failed"),
        (st.CLEANWAIT, "clean wait"),
        (st.CLEANFAIL, "clean failed"),
        (st.CLEANHOLD, "clean hold"),
        (st.DEPLOYWAIT, "wait call-back"),
        (st.DEPLOYFAIL, "deploy failed"),
        (st.DEPLOYHOLD, "deploy hold"),
        (st.RESCUEWAIT, "rescue wait"),
        (st.UNRESCUEFAIL, "unrescue failed"),
        (st.ADOPTFAIL, "adopt failed"),
        (st.SERVICEWAIT, "service wait"),
        (st.SERVICEHOLD, "service hold"),
        (st.POWER_ON, "power on"),
        (st.POWER_OFF, "power off"),
        (st.REBOOT, "rebooting"),
        (st.SOFT_REBOOT, "soft rebooting"),
        (st.SOFT_POWER_OFF, "soft power off"),
    ],
)
def test_strings_are_ironics(value: str, expected: str) -> None:
    assert value == expected


def test_all_states_count() -> None:
    # 6 stable + 24 others, as listed in the issue.
    assert len(st.ALL_STATES) == 30
    assert st.DELETED not in st.ALL_STATES


def test_stable_and_unstable_are_disjoint() -> None:
    assert not st.STABLE_STATES & st.UNSTABLE_STATES
    assert st.UNSTABLE_STATES <= st.ALL_STATES


@pytest.mark.parametrize(
    "subset",
    [
        st.FAILURE_STATES,
        st.HOLD_STATES,
        st.WAIT_STATES,
        st.STUCK_STATES_TREATED_AS_FAIL,
        st.DELETE_ALLOWED_STATES,
        st.UPDATE_ALLOWED_STATES,
        st.INTERFACE_UPDATE_ALLOWED_STATES,
        st.LOOKUP_ALLOWED_STATES,
        st.FASTTRACK_LOOKUP_ALLOWED_STATES,
    ],
)
def test_sets_hold_only_real_states(subset: frozenset[str]) -> None:
    assert subset <= st.ALL_STATES


def test_every_wait_state_has_a_timeout_setting() -> None:
    assert st.WAIT_TIMEOUTS == {
        "wait call-back": "deploy_callback_timeout",
        "clean wait": "clean_callback_timeout",
        "inspect wait": "inspect_wait_timeout",
        "rescue wait": "rescue_callback_timeout",
        "service wait": "service_callback_timeout",
    }


def test_failure_states_end_in_failed() -> None:
    assert all(s.endswith(" failed") for s in st.FAILURE_STATES)
