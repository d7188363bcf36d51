"""``[json_rpc] auth_strategy``: conductors refuse calls without the shared credentials, the API
sends them, and an unauthenticated endpoint off loopback is refused at start."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ingot.app_runtime import api_only, build_services, running_conductor
from ingot.conductor.jsonrpc import RemoteError, RpcClient, RpcServer
from ingot.conductor.rpc_auth import RpcCredentials, check_rpc_exposure, credentials
from ingot.errors import ConfigError
from ingot.settings import IngotSettings, JsonRpcSection, load_settings
from tests.unit.api.test_smoke_api import wait_state

SECRET = "s3cret-rpc-pw"
GOOD = RpcCredentials("ingot", SECRET)
BASIC = {"auth_strategy": "http_basic", "http_basic_username": "ingot",
         "http_basic_password": SECRET}  # fmt: skip
INGOT = Path(sys.executable).parent / "ingot"


def _basic(pair: str) -> str:
    return "Basic " + base64.b64encode(pair.encode()).decode()


CHECKS: list[tuple[str | None, str | None]] = [
    (GOOD.header(), None),
    (None, "no credentials"),
    ("", "no credentials"),
    ("Bearer abc", "unsupported scheme 'Bearer'"),
    ("Basic !!!not-base64", "malformed"),
    (_basic("ingot:wrong"), "wrong username or password (user 'ingot')"),
    (_basic(f"other:{SECRET}"), "wrong username or password (user 'other')"),
    (_basic("ingot"), "wrong username or password"),  # no colon, no password
    (_basic(f"ingot:{SECRET}x"), "wrong username or password"),
]


@pytest.mark.parametrize(("header", "why"), CHECKS)
def test_credentials_check(header: str | None, why: str | None) -> None:
    result = GOOD.check(header)
    if why is None:
        assert result is None
    else:
        assert result is not None and why in result and SECRET not in result


def test_the_password_is_not_in_reprs() -> None:
    assert SECRET not in repr(GOOD)
    section = JsonRpcSection.model_validate(BASIC)
    assert SECRET not in repr(section) and SECRET not in str(section.model_dump())


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, None),
        (BASIC, GOOD),
        ({**BASIC, "http_basic_password": ""}, ConfigError),
        ({**BASIC, "http_basic_password": None}, ConfigError),
        ({**BASIC, "http_basic_username": None}, ConfigError),
    ],
)
def test_credentials_from_settings(values: dict[str, Any], expected: Any) -> None:
    section = JsonRpcSection.model_validate(values)
    if expected is ConfigError:
        with pytest.raises(ConfigError, match="http_basic_password is unset"):
            credentials(section)
    else:
        assert credentials(section) == expected


@pytest.mark.parametrize(
    ("values", "host", "refused"),
    [
        ({}, "127.0.0.1", False),
        ({}, "::1", False),
        ({}, "localhost", False),
        ({}, "0.0.0.0", True),
        ({}, "10.1.2.3", True),
        ({"allow_open_rpc": True}, "0.0.0.0", False),
        (BASIC, "10.1.2.3", False),
    ],
)
def test_exposure(values: dict[str, Any], host: str, refused: bool) -> None:
    section = JsonRpcSection.model_validate(values)
    if refused:
        with pytest.raises(ConfigError, match=f"without authentication on {host}.*allow-open-rpc"):
            check_rpc_exposure(section, host)
    else:
        check_rpc_exposure(section, host)


# --- the server and the client ----------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[tuple[RpcServer, list[dict[str, Any]]]]:
    calls: list[dict[str, Any]] = []

    def echo(params: dict[str, Any]) -> dict[str, Any]:
        calls.append(params)
        return params

    rpc = RpcServer({"echo": echo}, credentials=GOOD)
    yield rpc, calls
    rpc.stop()


@pytest.mark.parametrize(
    "sent", [None, RpcCredentials("ingot", "pw-guess-42"), RpcCredentials("x", "")]
)
def test_a_call_without_the_credentials_is_refused_and_logged_without_secrets(
    server: tuple[RpcServer, list[dict[str, Any]]],
    sent: RpcCredentials | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rpc, calls = server
    client = RpcClient(timeout=5, credentials=sent)
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(RemoteError) as caught:
            client.call(rpc.url, "echo", {"a": 1})
    finally:
        client.close()
    assert caught.value.status == 500  # our configuration, not the API client's fault
    assert "JSON-RPC authentication failed" in caught.value.message
    assert calls == []  # the handler never ran
    refusals = [r.getMessage() for r in caplog.records if "refused a call" in r.getMessage()]
    assert refusals and "127.0.0.1" in refusals[0]
    assert all(SECRET not in r.getMessage() and "pw-guess-42" not in r.getMessage()
               for r in caplog.records)  # fmt: skip


def test_the_refusal_is_a_401_with_a_challenge(
    server: tuple[RpcServer, list[dict[str, Any]]],
) -> None:
    rpc, _calls = server
    body = {"jsonrpc": "2.0", "method": "echo", "params": {}, "id": 1}
    answer = httpx.post(rpc.url, json=body, timeout=5)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic ")
    assert answer.json()["error"]["code"] == 401


def test_a_call_with_the_credentials_runs_and_keeps_its_connection(
    server: tuple[RpcServer, list[dict[str, Any]]],
) -> None:
    rpc, calls = server
    client = RpcClient(timeout=5, credentials=GOOD)
    try:
        for i in range(3):
            assert client.call(rpc.url, "echo", {"i": i}) == {"i": i}
    finally:
        client.close()
    assert calls == [{"i": 0}, {"i": 1}, {"i": 2}]


# --- a conductor and an API-only process with the settings ----------------------------------


def _settings(tmp_path: Path, name: str, json_rpc: dict[str, Any]) -> IngotSettings:
    return load_settings(
        default={"state_dir": tmp_path / name},
        database={"connection": f"sqlite:///{tmp_path / 'shared.sqlite'}"},
        conductor={"sync_power_state_interval": 0, "check_provision_state_interval": 0},
        json_rpc=json_rpc,
    )


@contextlib.contextmanager
def _cluster(tmp_path: Path, api_rpc: dict[str, Any]) -> Iterator[TestClient]:
    with contextlib.ExitStack() as stack:
        services = build_services(_settings(tmp_path, "c1", BASIC))
        stack.callback(services.db.dispose)
        stack.enter_context(running_conductor(services, hostname="c1"))
        _services, app = stack.enter_context(api_only(_settings(tmp_path, "api", api_rpc)))
        client = TestClient(app, headers={"X-OpenStack-Ironic-API-Version": "latest"})
        yield stack.enter_context(client)


def test_the_api_sends_the_credentials(tmp_path: Path) -> None:
    with _cluster(tmp_path, BASIC) as client:
        assert client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "n0"}).is_success
        r = client.put("/v1/nodes/n0/states/provision", json={"target": "manage"})
        assert r.status_code == 202, r.text
        wait_state(client, "n0", "manageable")


def test_an_api_with_other_credentials_gets_a_clear_error(tmp_path: Path) -> None:
    with _cluster(tmp_path, {**BASIC, "http_basic_password": "not-it"}) as client:
        assert client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "n0"}).is_success
        r = client.put("/v1/nodes/n0/states/provision", json={"target": "manage"})
        assert r.status_code == 500 and "authentication failed" in r.text, r.text
        assert "not-it" not in r.text and SECRET not in r.text
        assert client.get("/v1/nodes/n0").json()["provision_state"] == "enroll"


def test_a_conductor_refuses_noauth_off_loopback_before_listening(tmp_path: Path) -> None:
    services = build_services(_settings(tmp_path, "c1", {}))
    try:
        with (
            pytest.raises(ConfigError, match="allow-open-rpc"),
            running_conductor(services, hostname="c1", rpc_host="0.0.0.0"),
        ):
            pass  # pragma: no cover
    finally:
        services.db.dispose()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--rpc-host", "0.0.0.0"], {}, "Refusing to serve conductor RPC without authentication"),
        ([], {"INGOT_JSON_RPC__AUTH_STRATEGY": "http_basic"}, "http_basic_password is unset"),
    ],
)
def test_the_conductor_command_stops_at_once(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INGOT_")}
    state = tmp_path / "state"
    done = subprocess.run(
        [str(INGOT), "conductor", "--name", "c1", "--state-dir", str(state), *args],
        capture_output=True, text=True, timeout=60, env={**clean, "COLUMNS": "200", **env},
    )  # fmt: skip
    assert done.returncode != 0
    assert message in done.stderr.replace("\n", " "), done.stderr
    assert not (state / "ingot.sqlite").exists()  # refused before migrating
