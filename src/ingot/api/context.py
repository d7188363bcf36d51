"""Per-request context: the negotiated microversion, links, and the services behind the API.

A pure ASGI middleware negotiates the version before routing (so a bad version is a 406
whatever the path), stamps Ironic's version and request-id headers on every answer, and
keeps the request id for logs.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingot.api import versions
from ingot.api.errors import error_body
from ingot.db import Database
from ingot.errors import IngotError

if TYPE_CHECKING:
    from ingot.services import Services


class VersionMiddleware:
    """Negotiate the microversion and add Ironic's response headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        request_id = f"req-{uuid.uuid4()}"
        scope.setdefault("state", {})["request_id"] = request_id
        common = [
            (b"x-openstack-ironic-api-minimum-version", versions.MIN_VERSION.encode()),
            (b"x-openstack-ironic-api-maximum-version", versions.MAX_VERSION.encode()),
            (b"x-openstack-request-id", request_id.encode()),
            (b"openstack-request-id", request_id.encode()),
        ]
        try:
            version = versions.parse(
                headers.get("x-openstack-ironic-api-version"),
                headers.get("openstack-api-version"),
            )
        except IngotError as exc:
            body = json.dumps(error_body(exc.status, exc.message)).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": exc.status,
                    "headers": [
                        *common,
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        scope["state"]["version"] = version
        version_headers = [
            *common,
            (b"x-openstack-ironic-api-version", str(version).encode()),
            (b"openstack-api-version", f"baremetal {version}".encode()),
            (b"vary", b"X-OpenStack-Ironic-API-Version"),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + version_headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class Ctx:
    """What a route handler needs: version, base URL for links, services, the caller."""

    version: versions.Version
    base_url: str
    services: Services
    request_id: str
    user: str | None = None

    def has(self, feature: str) -> bool:
        return self.version.has(feature)

    def link(self, *parts: str) -> list[dict[str, str]]:
        """Ironic's self + bookmark link pair for a resource path."""
        path = "/".join(parts) if all("/" not in p for p in parts) else _join(parts)
        return [
            {"href": f"{self.base_url}/v1/{path}", "rel": "self"},
            {"href": f"{self.base_url}/{path}", "rel": "bookmark"},
        ]

    @property
    def db(self) -> Database:
        return self.services.db


def _join(parts: tuple[str, ...]) -> str:
    return "/".join(p.strip("/") for p in parts)


async def get_ctx(request: Request) -> Ctx:
    # async: FastAPI runs a plain ``def`` dependency on a worker thread, one more thread hop
    # per request for a few attribute reads (a measurable part of an enroll POST).
    services: Services = request.app.state.services
    public = services.settings.api.public_endpoint
    base = public.rstrip("/") if public else str(request.base_url).rstrip("/")
    state = request.scope.get("state", {})
    return Ctx(
        version=state.get("version", versions.MIN),
        base_url=base,
        services=services,
        request_id=state.get("request_id", ""),
        user=state.get("user"),
    )


async def json_body(request: Request) -> Any:
    """The request body as JSON, or a 400 that says what is wrong with it."""
    raw = await request.body()
    if not raw.strip():
        return None
    from ingot.errors import InvalidInput

    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            f"The request body is not valid JSON ({exc}). Send a JSON document with "
            "Content-Type: application/json."
        ) from exc
    except ValueError as exc:  # NaN or Infinity: Python's json takes them, JSON does not
        raise InvalidInput(f"The request body is not valid JSON: {exc}") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send a number, a string or null instead.")


def raw_json(content: Any) -> Response:
    """A JSON response built directly from plain data.

    Route results are already JSON-ready dicts; skipping FastAPI's ``jsonable_encoder`` walk
    halves the cost of large lists (``GET /v1/nodes/detail``).
    """
    body = json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, media_type="application/json")
