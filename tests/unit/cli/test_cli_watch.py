"""``ingot watch`` rendering: manual power requests are shown only while a node is busy."""

from __future__ import annotations

from rich.console import Console

from ingot.cli.watch import render

ASK = "ACTION NEEDED: POWER ON (press the power button) server n1 (MAC aa:aa:aa:aa:aa:aa)."


def text_of(nodes: list[dict[str, object]]) -> str:
    console = Console(width=200, record=True)
    console.print(render(nodes, "Nodes"))
    return console.export_text()


def node(target: str | None) -> dict[str, object]:
    return {
        "uuid": "u1",
        "name": "n1",
        "power_state": "power off",
        "provision_state": "wait call-back" if target else "available",
        "target_provision_state": target,
        "maintenance": False,
        "last_error": None,
        "driver_internal_info": {"manual_power_request": {"action": "power on", "message": ASK}},
    }


def test_busy_manual_node_shows_the_request() -> None:
    out = text_of([node("active")])
    assert "wait call-back -> active" in out and ASK in out


def test_stable_node_hides_an_old_request() -> None:
    assert ASK not in text_of([node(None)])
