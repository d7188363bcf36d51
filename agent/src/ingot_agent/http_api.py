"""The agent's own HTTP API (port 9999), IPA-compatible, on stdlib ``http.server`` threads.

Token rules follow IPA: ``POST /v1/commands/`` needs ``?agent_token=`` once the agent has a
token; GETs of commands are checked once any GET has presented a token (older conductors poll
without one). ``/v1/status`` is open. Errors use IPA's WSME-style ``faultstring`` body.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ingot_agent import __version__
from ingot_agent.commands import CommandRunner
from ingot_agent.errors import AgentError, InvalidCommandParamsError, UnauthorizedError

LOG = logging.getLogger(__name__)
MAX_BODY = 128 * 1024 * 1024  # a 64 MiB config drive, base64-encoded, fits


class AgentApi:
    """Routes and token checks; the server class below only does HTTP plumbing."""

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner
        self.agent_token: str | None = None
        self.started_at = time.time()
        self._get_token_seen = False

    def _check(self, token: str | None) -> None:
        expected = self.agent_token
        if expected is None:
            return
        if token is None or not hmac.compare_digest(token.encode(), expected.encode()):
            raise UnauthorizedError("agent_token missing or invalid; send ?agent_token=...")

    def status(self) -> dict[str, Any]:
        return {"started_at": self.started_at, "version": __version__}

    def list_commands(self, token: str | None) -> dict[str, Any]:
        self._check_get(token)
        return {"commands": [r.serialize() for r in self.runner.list()]}

    def get_command(self, command_id: str, token: str | None, wait: bool) -> dict[str, Any]:
        self._check_get(token)
        result = self.runner.get(command_id)
        if wait:
            result.join()
        return result.serialize()

    def _check_get(self, token: str | None) -> None:
        if token:
            self._get_token_seen = True
        if self._get_token_seen:
            self._check(token)

    def run_command(self, body: Any, token: str | None, wait: bool) -> dict[str, Any]:
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("name"), str)
            or not isinstance(body.get("params"), dict)
        ):
            raise InvalidCommandParamsError('body must be {"name": ..., "params": {...}}')
        self._check(token)
        result = self.runner.execute(body["name"], body["params"])
        if wait:
            result.join()
        return result.serialize()


def _handler(api: AgentApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"ingot-agent/{__version__}"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            LOG.debug("%s %s", self.address_string(), format % args)

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            token = query.get("agent_token")
            wait = query.get("wait", "").lower() == "true"
            path = url.path.rstrip("/")
            if path.startswith("/v1"):
                path = path[3:]
            try:
                if method == "GET" and path in ("", "/"):
                    self._send(200, {"name": "ingot-agent", "version": __version__})
                elif method == "GET" and path == "/status":
                    self._send(200, api.status())
                elif method == "GET" and path == "/commands":
                    self._send(200, api.list_commands(token))
                elif method == "GET" and path.startswith("/commands/"):
                    self._send(200, api.get_command(path[len("/commands/") :], token, wait))
                elif method == "POST" and path == "/commands":
                    self._send(200, api.run_command(self._body(), token, wait))
                else:
                    self._send(
                        404,
                        {"faultcode": "Client", "faultstring": f"no route for {method} {url.path}"},
                    )
            except AgentError as exc:
                fault = "Server" if exc.code >= 500 else "Client"
                self._send(exc.code, {"faultcode": fault, "faultstring": exc.details})
            except Exception as exc:
                LOG.exception("internal error on %s %s", method, url.path)
                self._send(500, {"faultcode": "Server", "faultstring": str(exc)})

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise InvalidCommandParamsError(f"request body over {MAX_BODY} bytes")
            try:
                return json.loads(self.rfile.read(length) or b"null")
            except ValueError as exc:
                raise InvalidCommandParamsError(f"body is not JSON: {exc}") from exc

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

    return Handler


class ApiServer:
    """Serves :class:`AgentApi` in a background thread; ``port`` is the bound port."""

    def __init__(self, api: AgentApi, host: str, port: int) -> None:
        self.httpd = ThreadingHTTPServer((host, port), _handler(api))
        self.httpd.daemon_threads = True
        self.host = host
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.1,), name="agent-api", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        LOG.info("agent API listening on %s:%d", self.host, self.port)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
