"""JSON-RPC 2.0 over HTTP between API processes and conductors, as Ironic's ``json-rpc``.

A conductor serves ``POST /`` on its own port (loopback unless told otherwise) and records
the URL as ``conductors.rpc_url``. A call is ``{"jsonrpc": "2.0", "method", "params", "id"}``;
the answer carries ``result`` or ``error``. An :class:`IngotError` raised in the conductor
travels as ``error.code`` = its HTTP status and ``error.data.class`` = its class, and is raised
again on the caller's side as the same class with the same message, so an API client sees the
409 or 400 the conductor decided. With ``[json_rpc] auth_strategy = "http_basic"`` the server
answers 401 to calls without the shared credentials (:mod:`ingot.conductor.rpc_auth`).
"""

from __future__ import annotations

import http.client
import http.server
import json
import logging
import select
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from ingot.conductor.rpc_auth import RpcCredentials
from ingot.errors import IngotError, NodeLocked

LOG = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any]], Any]
_MAX_BODY = 16 << 20  # inventories with many disks and LLDP data stay well below this


class RemoteError(IngotError):
    """An error from a conductor whose class is not known here; keeps its status."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status
        self.faultcode = "Client" if 400 <= status < 500 else "Server"


class ConductorUnreachable(IngotError):
    """The owning conductor did not answer (503); the ring moves its nodes once it is dead."""

    status = 503


def _subclasses(cls: type[IngotError]) -> Iterator[type[IngotError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def encode_error(exc: BaseException) -> dict[str, Any]:
    """The JSON-RPC ``error`` member for ``exc``; unexpected exceptions become 500s."""
    if isinstance(exc, IngotError):
        data: dict[str, Any] = {
            "class": f"{type(exc).__module__}.{type(exc).__qualname__}",
            "status": exc.status,
        }
        if isinstance(exc, NodeLocked):
            data.update(node=exc.node, holder=exc.holder)
        return {"code": exc.status, "message": exc.message, "data": data}
    return {"code": 500, "message": f"{type(exc).__name__}: {exc}", "data": {"status": 500}}


def decode_error(error: dict[str, Any]) -> IngotError:
    """Rebuild the conductor's exception: same class when known here, else RemoteError."""
    message = str(error.get("message", "conductor error"))
    data = error.get("data") or {}
    status = int(data.get("status") or error.get("code") or 500)
    name = data.get("class")
    for cls in _subclasses(IngotError):
        if f"{cls.__module__}.{cls.__qualname__}" == name:
            if cls is NodeLocked:
                return NodeLocked(str(data.get("node")), str(data.get("holder")))
            exc = cls.__new__(cls)
            IngotError.__init__(exc, message)
            return exc
    return RemoteError(message, status)


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    server: _Server
    # Keep-alive: with HTTP/1.0 every call paid a TCP connect and a new thread (7 % of the
    # API's time in the scale-out benchmark). An idle connection is dropped after `timeout`.
    protocol_version = "HTTP/1.1"
    timeout = 60
    # Headers and body are two writes: with Nagle on, the body waited for the caller's delayed
    # ACK and every call took 40 ms more (measured: 47 ms a call, 1.2 ms without Nagle).
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        if not self._authorized():
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self.close_connection = True  # the unread body must not be taken for a request
            self._answer(413, {"jsonrpc": "2.0", "id": None,
                               "error": {"code": 413, "message": "request too large"}})  # fmt: skip
            return
        try:
            request = json.loads(self.rfile.read(length))
            method, params, ident = request["method"], request.get("params") or {}, request["id"]
        except (ValueError, KeyError, TypeError):
            error = {"code": -32700, "message": "invalid JSON-RPC request"}
            self._answer(400, {"jsonrpc": "2.0", "id": None, "error": error})
            return
        handler = self.server.methods.get(method)
        if handler is None:
            body: dict[str, Any] = {"error": {"code": -32601, "message": f"no method {method!r}"}}
        else:
            try:
                body = {"result": handler(params)}
            except Exception as exc:
                if not isinstance(exc, IngotError):
                    LOG.exception("RPC %s failed", method)
                body = {"error": encode_error(exc)}
        self._answer(200, {"jsonrpc": "2.0", "id": ident, **body})

    def _authorized(self) -> bool:
        """Check the caller's credentials; a refusal answers 401 and is logged without them."""
        expected = self.server.credentials
        if expected is None:
            return True
        why = expected.check(self.headers.get("Authorization"))
        if why is None:
            return True
        LOG.warning("rpc: refused a call from %s: %s", self.client_address[0], why)
        self.close_connection = True  # the unread body must not be taken for a request
        error = {"code": 401, "message": "JSON-RPC authentication required"}
        self._answer(401, {"jsonrpc": "2.0", "id": None, "error": error},
                     {"WWW-Authenticate": 'Basic realm="ingot-conductor"'})  # fmt: skip
        return False

    def _answer(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("rpc: " + format, *args)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        methods: dict[str, Handler],
        credentials: RpcCredentials | None,
    ) -> None:
        super().__init__(address, _RequestHandler)
        self.methods = methods
        self.credentials = credentials


class RpcServer:
    """A started JSON-RPC server on its own thread; ``url`` is what peers call.

    With ``credentials`` every call must carry them (HTTP Basic), else it gets a 401.
    """

    def __init__(
        self,
        methods: dict[str, Handler],
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: RpcCredentials | None = None,
    ):
        self._server = _Server((host, port), methods, credentials)
        port = int(self._server.server_address[1])
        # A wildcard bind is reached by the host's name; peers can not call 0.0.0.0.
        advertised = socket.getfqdn() if host in ("0.0.0.0", "::", "") else host
        if ":" in advertised:
            advertised = f"[{advertised}]"
        self.url = f"http://{advertised}:{port}/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="conductor-rpc", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class RpcClient:
    """Calls conductors by URL over keep-alive connections, one per thread and conductor.

    ``credentials`` are sent with every call (``[json_rpc] auth_strategy = "http_basic"``).
    The standard library's client, not httpx: a call cost 570-770 us of CPU with httpx and
    200-250 us with ``http.client`` (3,000 echo calls), and the API makes one per request.
    """

    def __init__(self, timeout: float = 130.0, credentials: RpcCredentials | None = None) -> None:
        # Longer than Conductor.call's 120 s, so a slow BMC answer arrives as its own error.
        self._timeout = timeout
        self._headers = {"Content-Type": "application/json"}
        if credentials is not None:
            self._headers["Authorization"] = credentials.header()
        self._ids = iter(range(1, 1 << 62))
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []

    def _connection(self, url: str) -> tuple[http.client.HTTPConnection, str]:
        """This thread's connection to ``url``; a fresh one if the conductor closed the old."""
        pool: dict[str, http.client.HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        parts = urllib.parse.urlsplit(url)
        conn = pool.get(parts.netloc)
        if conn is not None and conn.sock is not None and _closed_by_peer(conn.sock):
            conn.close()  # an idle connection the server dropped: reconnect before sending
        if conn is None:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=3.0)
            pool[parts.netloc] = conn
            with self._lock:
                self._all.append(conn)
        return conn, parts.path or "/"

    def call(self, url: str, method: str, params: dict[str, Any]) -> Any:
        """Call ``method`` on the conductor at ``url``; re-raises the conductor's IngotError.

        Raises ConductorUnreachable when the connection fails (the caller may refresh the ring
        and retry).
        """
        with self._lock:
            ident = next(self._ids)
        payload = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": ident})
        conn, path = self._connection(url)
        if conn.sock is None:
            try:
                conn.connect()  # bounded by the 3 s connect timeout
            except OSError as exc:
                conn.close()
                # Not delivered: safe to send again once the ring says who owns the node now.
                raise ConductorUnreachable(
                    f"The conductor at {url} did not answer {method} ({type(exc).__name__}: "
                    f"{exc}); retry in a moment: if it is down, another conductor takes its "
                    "nodes over within [conductor] heartbeat_timeout."
                ) from exc
        try:
            conn.sock.settimeout(self._timeout)
            conn.request("POST", path, payload.encode(), self._headers)
            response = conn.getresponse()
            status, data = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            # Maybe delivered and applied: never resend, let the client look at the node.
            raise RemoteError(
                f"The conductor at {url} accepted {method} but did not answer "
                f"({type(exc).__name__}); check the node's state before retrying.",
                503,
            ) from exc
        if response.will_close:
            conn.close()
        if status == 401:
            # Refused before it ran: a configuration mismatch between this process and the
            # conductor, not the API client's fault, hence a 500 and not a 401.
            raise RemoteError(
                f"The conductor at {url} refused {method}: JSON-RPC authentication failed. Set "
                "[json_rpc] auth_strategy, http_basic_username and http_basic_password the same "
                "on every API and conductor process."
            )
        try:
            body = json.loads(data)
        except ValueError as exc:
            raise RemoteError(
                f"The conductor at {url} sent a non-JSON answer to {method} (HTTP {status})."
            ) from exc
        if body.get("error") is not None:
            raise decode_error(body["error"])
        return body.get("result")

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


def _closed_by_peer(sock: socket.socket) -> bool:
    """True when an idle keep-alive socket is readable: the server closed (or broke) it."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)
