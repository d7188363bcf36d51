"""Lookup, heartbeat and inspection against a tiny local fake of Ingot's agent endpoints."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import http, make_agent
from ingot_agent.errors import LookupNodeError
from ingot_agent.ironic_client import IronicClient

NODE = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"


class FakeIngot:
    """Records what the agent sends; fails the first ``lookup_failures`` lookups."""

    def __init__(self, lookup_failures: int = 0, version: str = "1.68") -> None:
        self.lookups: list[dict[str, Any]] = []
        self.heartbeats: list[dict[str, Any]] = []
        self.inspections: list[dict[str, Any]] = []
        self.lookup_failures = lookup_failures
        self.version = version
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/":
                    self.reply(200, {"default_version": {"version": fake.version}})
                elif url.path == "/v1/lookup":
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    query["header"] = self.headers.get("X-OpenStack-Ironic-API-Version")
                    fake.lookups.append(query)
                    if len(fake.lookups) <= fake.lookup_failures:
                        self.reply(404, {"error_message": "not found"})
                        return
                    self.reply(
                        200,
                        {
                            "node": {"uuid": NODE, "properties": {}},
                            "config": {"heartbeat_timeout": 300, "agent_token": "tok-123"},
                        },
                    )
                else:
                    self.reply(404, {})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == f"/v1/heartbeat/{NODE}":
                    body["header"] = self.headers.get("X-OpenStack-Ironic-API-Version")
                    fake.heartbeats.append(body)
                    self.reply(202, None) if body.get("agent_token") == "tok-123" else self.reply(
                        409, {"faultstring": "bad token"}
                    )
                elif self.path == "/inspect":
                    fake.inspections.append(body)
                    self.reply(200, {"uuid": NODE})
                else:
                    self.reply(404, {})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake() -> Iterator[FakeIngot]:
    f = FakeIngot(lookup_failures=1)
    yield f
    f.close()


def wait_for(cond: Any, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.02)


def test_lookup_heartbeat_and_token(fake: FakeIngot, machine_dir: Path) -> None:
    agent = make_agent(
        machine_dir,
        api_url=fake.url,
        heartbeat_interval=0.1,
        lookup_interval=0.01,
        boot_mac="52:54:00:00:00:30",
        inspection_callback_url=fake.url + "/inspect",
    )
    try:
        agent.connect()
        assert agent.node_uuid == NODE
        assert len(fake.lookups) == 2  # retried after the first 404
        assert fake.lookups[-1]["addresses"] == "52:54:00:00:00:30"
        assert fake.lookups[-1]["header"] == "1.68"
        wait_for(lambda: len(fake.heartbeats) >= 2)
        beat = fake.heartbeats[0]
        assert beat["callback_url"] == f"http://127.0.0.1:{agent.server.port}"
        assert beat["agent_token"] == "tok-123"
        assert beat["agent_version"] and beat["header"] == "1.68"
        inspection = fake.inspections[0]
        assert inspection["inventory"]["interfaces"][0]["mac_address"] == "52:54:00:00:00:30"
        assert inspection["boot_interface"] == "52:54:00:00:00:30"
        assert inspection["root_disk"]["name"] == "/dev/vda"
        # The token from lookup now guards the command API.
        url = f"http://127.0.0.1:{agent.server.port}/v1/commands/?wait=true"
        assert http("POST", url, {"name": "standby.sync", "params": {}})[0] == 401
        status, _ = http(
            "POST", url + "&agent_token=tok-123", {"name": "standby.sync", "params": {}}
        )
        assert status == 200
    finally:
        agent.stop()


def test_old_api_gets_no_token_fields(machine_dir: Path) -> None:
    fake = FakeIngot(version="1.40")
    try:
        client = IronicClient(fake.url)
        client.lookup(["aa:bb:cc:dd:ee:ff"], NODE, timeout=5, interval=0.01)
        assert fake.lookups[0]["node_uuid"] == NODE and fake.lookups[0]["header"] == "1.40"
        client.agent_token = None
        with pytest.raises(Exception, match="409"):
            client.heartbeat(NODE, "http://x:9999")
        assert "agent_token" not in fake.heartbeats[0] and "agent_version" in fake.heartbeats[0]
    finally:
        fake.close()


def test_lookup_gives_up_with_clear_error() -> None:
    fake = FakeIngot(lookup_failures=1000)
    try:
        client = IronicClient(fake.url)
        with pytest.raises(LookupNodeError, match="enroll a port"):
            client.lookup(["aa:bb:cc:dd:ee:ff"], None, timeout=0.3, interval=0.05)
        assert 2 <= len(fake.lookups) <= 6  # bounded, with backoff
    finally:
        fake.close()


def test_unreachable_api_lookup_fails() -> None:
    client = IronicClient("http://127.0.0.1:9", timeout=1)
    with pytest.raises(LookupNodeError, match=r"127\.0\.0\.1:9"):
        client.lookup(["aa:bb:cc:dd:ee:ff"], None, timeout=0.2, interval=0.05)
