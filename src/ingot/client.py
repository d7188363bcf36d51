"""A typed HTTP client of Ingot's Ironic v1 API, used by the ``ingot`` CLI and the tests.

It speaks the newest microversion (``X-OpenStack-Ironic-API-Version: latest``), turns Ironic's
error bodies back into the ``ingot.errors`` exception of the status (with the server's
``faultstring`` as the message), retries requests refused because a node is locked, follows
``next`` links when listing, and waits for provision states with a progress callback.
Resources are plain JSON dicts, exactly as the API returns them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from ingot import errors, states

DEFAULT_URL = "http://127.0.0.1:6385"
JSON = dict[str, Any]
Patch = list[JSON]

_ERROR_CLASSES: dict[int, type[errors.IngotError]] = {
    400: errors.InvalidInput,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    406: errors.NotAcceptable,
    409: errors.Conflict,
    501: errors.NotImplementedYet,
}
_LOCKED = re.compile(r"Node (\S+) is locked by host (\S+?),")
# Fields a wait needs from each node; small so that polling hundreds of nodes stays cheap.
_WAIT_FIELDS = (
    "uuid",
    "name",
    "provision_state",
    "target_provision_state",
    "power_state",
    "last_error",
    "maintenance",
)


class ApiUnreachable(errors.IngotError):
    """The API did not answer at all (refused, timed out, bad URL)."""


class ProvisionFailed(errors.DriverError):
    """One or more nodes ended in a failed state; ``failures`` maps node to its last_error."""

    def __init__(self, failures: Mapping[str, str], nodes: Mapping[str, JSON]) -> None:
        lines = [f"{ident}: {why}" for ident, why in failures.items()]
        super().__init__("; ".join(lines))
        self.failures = dict(failures)
        self.nodes = dict(nodes)


class WaitTimeout(errors.IngotError):
    """Nodes did not reach the wanted state in time; ``pending`` maps node to its state."""

    def __init__(self, state: str, timeout: float, pending: Mapping[str, str]) -> None:
        where = ", ".join(f"{ident} ({now})" for ident, now in pending.items())
        super().__init__(
            f"Timed out after {timeout:g}s waiting for {where} to reach {state!r}; "
            "check `ingot node history NODE` or wait longer with --wait SECONDS."
        )
        self.pending = dict(pending)


def patch_add(path: str, value: Any) -> JSON:
    """A JSON-patch ``add`` (which also replaces) for a node field like ``/properties/cpus``."""
    return {"op": "add", "path": path, "value": value}


def patch_remove(path: str) -> JSON:
    return {"op": "remove", "path": path}


def error_from_response(response: httpx.Response) -> errors.IngotError:
    """The ``ingot.errors`` exception for an Ironic error response, carrying its faultstring."""
    message = _faultstring(response)
    status = response.status_code
    if status == 409:
        locked = _LOCKED.search(message)
        if locked:
            return errors.NodeLocked(locked.group(1), locked.group(2))
    cls = _ERROR_CLASSES.get(status)
    if cls is None:
        cls = errors.ClientError if 400 <= status < 500 else errors.IngotError
    error = cls(message)
    error.status = status
    return error


def _faultstring(response: httpx.Response) -> str:
    fallback = f"HTTP {response.status_code} from {response.request.method} {response.url.path}"
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or fallback
    raw = body.get("error_message") if isinstance(body, dict) else None
    if isinstance(raw, str):
        try:
            inner = json.loads(raw)
        except ValueError:
            return raw
        if isinstance(inner, dict):
            return str(inner.get("faultstring") or inner.get("description") or raw)
        return raw
    if isinstance(raw, dict):
        return str(raw.get("faultstring") or raw)
    return fallback


def provision_outcome(node: JSON, state: str) -> str:
    """``done``, ``failed`` or ``busy`` for a node waited on to reach ``state``.

    A node that rests in a failed state, or rests in another stable state with ``last_error``
    set (a failed ``manage`` goes back to ``enroll``), has failed.
    """
    current = node.get("provision_state")
    target = node.get("target_provision_state")
    if current == state and target is None:
        return "done"
    if current in states.FAILURE_STATES and current != state:
        return "failed"
    if current == states.ERROR and state != states.ERROR:
        return "failed"
    if target is None and current != state and node.get("last_error"):
        return "failed"
    return "busy"


class IngotClient:
    """Ironic v1 API client; use as a context manager or call ``close()``.

    Every method raises the ``ingot.errors`` class of the HTTP status (``NotFound``,
    ``Conflict``, ``NodeLocked``, ``InvalidInput``...) or ``ApiUnreachable``.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_URL,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        lock_retries: int = 5,
        lock_retry_delay: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        if self.endpoint.endswith("/v1"):
            self.endpoint = self.endpoint[: -len("/v1")]
        auth = httpx.BasicAuth(username, password or "") if username else None
        self.lock_retries = lock_retries
        self.lock_retry_delay = lock_retry_delay
        self._http = httpx.Client(
            base_url=self.endpoint,
            auth=auth,
            timeout=timeout,
            headers={"X-OpenStack-Ironic-API-Version": "latest", "Accept": "application/json"},
            transport=transport,
        )

    def __enter__(self) -> IngotClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- transport -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one request; the decoded JSON body (None when empty). Retries NodeLocked."""
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        for attempt in range(self.lock_retries + 1):
            try:
                response = self._http.request(method, path, json=json_body, params=clean)
            except httpx.HTTPError as exc:
                raise ApiUnreachable(
                    f"Cannot reach the Ingot API at {self.endpoint} ({exc}); start it with "
                    "`ingot serve` or point --url / INGOT_URL at it."
                ) from exc
            if response.is_success:
                return response.json() if response.content else None
            error = error_from_response(response)
            if not isinstance(error, errors.NodeLocked) or attempt == self.lock_retries:
                raise error
            time.sleep(self.lock_retry_delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def collect(self, path: str, key: str, params: Mapping[str, Any]) -> list[JSON]:
        """All items of a list resource, following ``next`` links page by page."""
        return list(self.iterate(path, key, params))

    def iterate(self, path: str, key: str, params: Mapping[str, Any]) -> Iterator[JSON]:
        page = self.request("GET", path, params=params)
        while True:
            yield from page.get(key, [])
            link = page.get("next")
            if not link:
                return
            url = httpx.URL(link)
            page = self.request("GET", url.path, params=dict(url.params))

    def version(self) -> JSON:
        """``GET /v1``: the API's version document."""
        result: JSON = self.get("/v1")
        return result

    # -- nodes -----------------------------------------------------------------------------

    def list_nodes(
        self,
        *,
        detail: bool = False,
        fields: Sequence[str] | None = None,
        limit: int | None = None,
        sort_key: str | None = None,
        sort_dir: str | None = None,
        **filters: Any,
    ) -> list[JSON]:
        """Nodes matching filters (``provision_state``, ``driver``, ``resource_class``,
        ``maintenance``, ``associated``...), every page. ``limit`` is the page size."""
        path = "/v1/nodes/detail" if detail and not fields else "/v1/nodes"
        params = {**filters, "fields": fields, "limit": limit}
        params.update(sort_key=sort_key, sort_dir=sort_dir)
        return self.collect(path, "nodes", params)

    def get_node(self, ident: str, *, fields: Sequence[str] | None = None) -> JSON:
        result: JSON = self.get(f"/v1/nodes/{ident}", fields=fields)
        return result

    def create_node(self, body: Mapping[str, Any]) -> JSON:
        result: JSON = self.request("POST", "/v1/nodes", json_body=dict(body))
        return result

    def update_node(self, ident: str, patch: Patch) -> JSON:
        """Apply a JSON patch (see ``patch_add``/``patch_remove``); the updated node."""
        result: JSON = self.request("PATCH", f"/v1/nodes/{ident}", json_body=patch)
        return result

    def delete_node(self, ident: str) -> None:
        self.request("DELETE", f"/v1/nodes/{ident}")

    def set_provision_state(self, ident: str, verb: str, **args: Any) -> None:
        """Ask for a provision action: ``manage``, ``provide``, ``inspect``, ``clean``
        (``clean_steps=[...]``), ``deploy`` (``configdrive``, ``deploy_steps``), ``undeploy``,
        ``rebuild``, ``abort``, ``rescue`` (``rescue_password``), ``unrescue``, ``adopt``."""
        body = {"target": verb, **{k: v for k, v in args.items() if v is not None}}
        self.request("PUT", f"/v1/nodes/{ident}/states/provision", json_body=body)

    def node_states(self, idents: Sequence[str]) -> dict[str, JSON]:
        """The wait fields of each node; one list call when there are many nodes."""
        if len(idents) <= 10:
            return {i: self.get_node(i, fields=_WAIT_FIELDS) for i in idents}
        found: dict[str, JSON] = {}
        for node in self.list_nodes(fields=_WAIT_FIELDS):
            found[node["uuid"]] = node
            if node.get("name"):
                found[node["name"]] = node
        missing = [i for i in idents if i not in found]
        if missing:
            raise errors.NotFound(f"Node {missing[0]} could not be found.")
        return {i: found[i] for i in idents}

    def wait_for_provision_state(
        self,
        nodes: Iterable[str],
        state: str,
        *,
        timeout: float = 1800.0,
        interval: float = 1.0,
        on_progress: Callable[[dict[str, JSON]], None] | None = None,
        fail_fast: bool = True,
    ) -> dict[str, JSON]:
        """Poll until every node rests in ``state``; their last records by the ident given.

        Raises ``ProvisionFailed`` quoting ``last_error`` as soon as a node fails (or, with
        ``fail_fast=False``, once the others are done), ``WaitTimeout`` after ``timeout``.
        ``on_progress`` gets every node's latest record after each poll.
        """
        idents = list(dict.fromkeys(nodes))
        deadline = time.monotonic() + timeout
        latest: dict[str, JSON] = {}
        failures: dict[str, str] = {}
        while True:
            pending = [i for i in idents if i not in failures and _outcome(latest, i, state)]
            if pending:
                latest.update(self.node_states(pending))
            if on_progress is not None:
                on_progress(dict(latest))
            for ident in pending:
                if provision_outcome(latest[ident], state) == "failed":
                    failures[ident] = _failure_text(latest[ident])
                    if fail_fast:
                        raise ProvisionFailed(failures, latest)
            busy = [i for i in idents if i not in failures and _outcome(latest, i, state)]
            if not busy:
                if failures:
                    raise ProvisionFailed(failures, latest)
                return latest
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    state, timeout, {i: str(latest[i].get("provision_state")) for i in busy}
                )
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))

    def set_power_state(self, ident: str, target: str, *, timeout: int | None = None) -> None:
        """``power on``, ``power off``, ``rebooting``, ``soft power off``, ``soft rebooting``."""
        body = {"target": target, "timeout": timeout}
        self.request("PUT", f"/v1/nodes/{ident}/states/power", json_body=_drop_none(body))

    def get_boot_device(self, ident: str) -> JSON:
        result: JSON = self.get(f"/v1/nodes/{ident}/management/boot_device")
        return result

    def set_boot_device(self, ident: str, device: str, *, persistent: bool = False) -> None:
        body = {"boot_device": device, "persistent": persistent}
        self.request("PUT", f"/v1/nodes/{ident}/management/boot_device", json_body=body)

    def set_maintenance(self, ident: str, on: bool, *, reason: str | None = None) -> None:
        if on:
            body = _drop_none({"reason": reason})
            self.request("PUT", f"/v1/nodes/{ident}/maintenance", json_body=body)
        else:
            self.request("DELETE", f"/v1/nodes/{ident}/maintenance")

    def validate_node(self, ident: str) -> dict[str, JSON]:
        """Interface name -> ``{"result": bool|None, "reason": str}``."""
        result: dict[str, JSON] = self.get(f"/v1/nodes/{ident}/validate")
        return result

    def node_history(self, ident: str, *, detail: bool = True) -> list[JSON]:
        return self.collect(f"/v1/nodes/{ident}/history", "history", {"detail": detail})

    def get_traits(self, ident: str) -> list[str]:
        return list(self.get(f"/v1/nodes/{ident}/traits").get("traits", []))

    def set_traits(self, ident: str, traits: Sequence[str]) -> None:
        body = {"traits": list(traits)}
        self.request("PUT", f"/v1/nodes/{ident}/traits", json_body=body)

    def add_trait(self, ident: str, trait: str) -> None:
        self.request("PUT", f"/v1/nodes/{ident}/traits/{trait}")

    def remove_trait(self, ident: str, trait: str) -> None:
        self.request("DELETE", f"/v1/nodes/{ident}/traits/{trait}")

    # -- ports, port groups, chassis ---------------------------------------------------------

    def list_ports(
        self, *, node: str | None = None, detail: bool = True, **filters: Any
    ) -> list[JSON]:
        path = "/v1/ports/detail" if detail else "/v1/ports"
        return self.collect(path, "ports", {"node": node, **filters})

    def find_port(self, address: str) -> JSON | None:
        """The port with this MAC (any case or separator the API accepts), or None."""
        found = self.list_ports(address=address)
        return found[0] if found else None

    def create_port(self, body: Mapping[str, Any]) -> JSON:
        result: JSON = self.request("POST", "/v1/ports", json_body=dict(body))
        return result

    def update_port(self, ident: str, patch: Patch) -> JSON:
        result: JSON = self.request("PATCH", f"/v1/ports/{ident}", json_body=patch)
        return result

    def delete_port(self, ident: str) -> None:
        self.request("DELETE", f"/v1/ports/{ident}")

    def list_portgroups(self, *, node: str | None = None, **filters: Any) -> list[JSON]:
        return self.collect("/v1/portgroups/detail", "portgroups", {"node": node, **filters})

    def create_portgroup(self, body: Mapping[str, Any]) -> JSON:
        result: JSON = self.request("POST", "/v1/portgroups", json_body=dict(body))
        return result

    def delete_portgroup(self, ident: str) -> None:
        self.request("DELETE", f"/v1/portgroups/{ident}")

    def list_chassis(self) -> list[JSON]:
        return self.collect("/v1/chassis/detail", "chassis", {})

    def create_chassis(self, body: Mapping[str, Any]) -> JSON:
        result: JSON = self.request("POST", "/v1/chassis", json_body=dict(body))
        return result

    # -- drivers, conductors ----------------------------------------------------------------

    def list_drivers(self, *, detail: bool = False) -> list[JSON]:
        return list(self.get("/v1/drivers", detail=detail).get("drivers", []))

    def get_driver(self, name: str) -> JSON:
        result: JSON = self.get(f"/v1/drivers/{name}")
        return result

    def list_conductors(self, *, detail: bool = False) -> list[JSON]:
        return self.collect("/v1/conductors", "conductors", {"detail": detail})


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return value


def _drop_none(body: Mapping[str, Any]) -> JSON:
    return {k: v for k, v in body.items() if v is not None}


def _outcome(latest: Mapping[str, JSON], ident: str, state: str) -> bool:
    """True while the node still needs polling."""
    node = latest.get(ident)
    return node is None or provision_outcome(node, state) == "busy"


def _failure_text(node: JSON) -> str:
    return f"{node.get('provision_state')}: {node.get('last_error') or 'no last_error recorded'}"
