"""Talking to the agent's own API (``POST /v1/commands/``, ``GET /v1/commands/{id}``).

The address and token come from the agent's heartbeat and lookup, kept in
``driver_internal_info`` (``agent_url``, ``agent_secret_token``) as Ironic does.
"""

from __future__ import annotations

import functools
import ssl
from typing import TYPE_CHECKING, Any

from ingot.errors import DriverError

if TYPE_CHECKING:
    from ingot.conductor.task import Task

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every agent call: building one (loading the CA bundle) takes
    about 40 ms of CPU, on the conductor's loop thread, for each command or status poll."""
    import httpx  # here and below: httpx loads on the first agent call, not in every server

    return httpx.create_ssl_context()


def _endpoint(task: Task) -> tuple[str, dict[str, str]]:
    info = task.node.driver_internal_info
    url = info.get("agent_url")
    if not url:
        raise DriverError(
            f"Node {task.node.uuid} has no agent address: the agent has not heartbeated yet. "
            "Check that the node booted the deploy ramdisk and reaches the API."
        )
    params = {"agent_token": info["agent_secret_token"]} if info.get("agent_secret_token") else {}
    return str(url).rstrip("/"), params


async def run_command(
    task: Task, name: str, params: dict[str, Any], *, wait: bool = False
) -> dict[str, Any]:
    """Start ``<extension>.<command>`` on the agent; the command result object."""
    import httpx

    url, query = _endpoint(task)
    timeout = task.conductor.services.settings.agent.command_timeout
    if wait:
        timeout = max(timeout, 3600.0)
    try:
        async with httpx.AsyncClient(timeout=timeout, verify=_tls()) as http:
            response = await http.post(
                f"{url}/v1/commands/",
                params={**query, "wait": "true" if wait else "false"},
                json={"name": name, "params": params},
            )
    except httpx.HTTPError as exc:
        raise DriverError(
            f"Node {task.node.uuid}: agent at {url} unreachable for {name}: {exc}"
        ) from exc
    if response.status_code >= 400:
        raise DriverError(
            f"Node {task.node.uuid}: agent refused {name} (HTTP {response.status_code}): "
            f"{response.text[:500]}"
        )
    result: dict[str, Any] = response.json()
    return result


async def command_status(task: Task, command_id: str) -> dict[str, Any]:
    import httpx

    url, query = _endpoint(task)
    try:
        async with httpx.AsyncClient(timeout=30, verify=_tls()) as http:
            response = await http.get(f"{url}/v1/commands/{command_id}", params=query)
    except httpx.HTTPError as exc:
        raise DriverError(f"Node {task.node.uuid}: agent at {url} unreachable: {exc}") from exc
    if response.status_code >= 400:
        raise DriverError(
            f"Node {task.node.uuid}: agent has no command {command_id} (HTTP "
            f"{response.status_code}); it may have restarted."
        )
    result: dict[str, Any] = response.json()
    return result


def error_text(result: dict[str, Any]) -> str:
    error = result.get("command_error")
    if isinstance(error, dict):
        parts = [str(error[k]) for k in ("message", "details") if error.get(k)]
        return ": ".join(parts) or str(error)
    return str(error)
