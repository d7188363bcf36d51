"""The command API over real HTTP on 127.0.0.1, as Ironic's agent client uses it."""

from __future__ import annotations

import pytest

from conftest import http, run_command
from ingot_agent.agent import Agent


def base(agent: Agent) -> str:
    return f"http://127.0.0.1:{agent.server.port}"


def test_status_is_open(agent: Agent) -> None:
    status, body = http("GET", base(agent) + "/v1/status")
    assert status == 200
    assert set(body) == {"started_at", "version"}


def test_sync_command_result_has_ipa_fields(agent: Agent) -> None:
    result = run_command(agent, "system.get_inventory", {})
    assert set(result) == {
        "id",
        "command_name",
        "command_params",
        "command_status",
        "command_error",
        "command_result",
    }
    assert result["command_name"] == "get_inventory"
    assert result["command_status"] == "SUCCEEDED"
    assert result["command_result"]["inventory"]["cpu"]["count"] == 4


def test_commands_are_listed_and_fetched(agent: Agent) -> None:
    first = run_command(agent, "standby.sync", {})
    status, listing = http("GET", base(agent) + "/v1/commands/")
    assert status == 200
    assert [c["id"] for c in listing["commands"]] == [first["id"]]
    status, one = http("GET", base(agent) + f"/v1/commands/{first['id']}?wait=true")
    assert status == 200 and one["command_status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"name": "nodots", "params": {}}, 400, "<extension>.<command>"),
        ({"name": "nosuch.thing", "params": {}}, 404, "extension 'nosuch'"),
        ({"name": "standby.nosuch", "params": {}}, 400, "unknown command"),
        ({"name": "standby.sync", "params": {"bogus": 1}}, 400, "bogus"),
        ({"name": "standby.sync"}, 400, "params"),
    ],
)
def test_bad_commands_are_refused(
    agent: Agent, body: dict[str, object], status: int, words: str
) -> None:
    got, answer = http("POST", base(agent) + "/v1/commands/?wait=true", body)
    assert got == status
    assert words in answer["faultstring"]


def test_unknown_command_id_is_404(agent: Agent) -> None:
    status, body = http("GET", base(agent) + "/v1/commands/nope")
    assert status == 404 and "nope" in body["faultstring"]


def test_token_required_once_issued(agent: Agent) -> None:
    agent.api.agent_token = "s3cret"
    url = base(agent) + "/v1/commands/?wait=true"
    status, body = http("POST", url, {"name": "standby.sync", "params": {}})
    assert status == 401 and "agent_token" in body["faultstring"]
    status, _ = http("POST", url + "&agent_token=wrong", {"name": "standby.sync", "params": {}})
    assert status == 401
    assert run_command(agent, "standby.sync", {}, token="s3cret")["command_status"] == "SUCCEEDED"
    # GETs without a token still work (older conductors poll without one) ...
    assert http("GET", base(agent) + "/v1/commands/")[0] == 200
    # ... until a GET presents one; from then on a bad one is refused, as in IPA.
    assert http("GET", base(agent) + "/v1/commands/?agent_token=s3cret")[0] == 200
    assert http("GET", base(agent) + "/v1/commands/?agent_token=bad")[0] == 401


def test_failed_command_reports_typed_error(agent: Agent) -> None:
    result = run_command(
        agent,
        "clean.execute_clean_step",
        {"step": {"step": "no_such_step"}, "node": {}, "ports": []},
    )
    assert result["command_status"] == "FAILED"
    assert result["command_error"]["type"] == "InvalidCommandParamsError"
    assert "no_such_step" in result["command_error"]["details"]


def test_busy_agent_refuses_second_command(agent: Agent) -> None:
    import threading

    gate = threading.Event()

    class Slow:
        from ingot_agent.commands import command

        @command("wait", run_async=True)
        def wait(self) -> str:
            gate.wait(10)
            return "done"

    agent.runner.register("slow", Slow())
    first = run_command(agent, "slow.wait", {}, wait=False)
    assert first["command_status"] == "RUNNING"
    status, body = http(
        "POST", base(agent) + "/v1/commands/", {"name": "standby.sync", "params": {}}
    )
    assert status == 409 and "busy" in body["faultstring"]
    gate.set()
    status, done = http("GET", base(agent) + f"/v1/commands/{first['id']}?wait=true")
    assert done["command_result"] == {"result": "wait: done"}
