"""``auth_strategy``: ``noauth`` or ``http_basic`` against a bcrypt htpasswd file, as Ironic.

The agent's lookup and heartbeat and version discovery stay open, as in Ironic: the agent
proves itself with its token instead.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

import bcrypt
from starlette.types import ASGIApp, Receive, Scope, Send

from ingot.api.errors import error_body
from ingot.errors import ConfigError
from ingot.settings import ApiSection

_PUBLIC_PREFIXES = ("/v1/lookup", "/v1/heartbeat/")
_PUBLIC_PATHS = ("/", "/v1", "/v1/")


def load_htpasswd(path: Path) -> dict[str, bytes]:
    """user -> bcrypt hash; only bcrypt entries are accepted, as Ironic's http_basic."""
    users: dict[str, bytes] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ConfigError(f"Cannot read http_basic_auth_user_file {path}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not hashed.startswith(("$2y$", "$2b$", "$2a$")):
            raise ConfigError(
                f"{path}:{number}: only bcrypt entries are supported; create them with "
                "`htpasswd -nbB USER PASSWORD`."
            )
        users[user] = hashed.encode()
    return users


class AuthMiddleware:
    def __init__(self, app: ASGIApp, settings: ApiSection) -> None:
        self.app = app
        self.users: dict[str, bytes] | None = None
        if settings.auth_strategy == "http_basic":
            if settings.http_basic_auth_user_file is None:
                raise ConfigError(
                    "auth_strategy is http_basic but [api] http_basic_auth_user_file is unset."
                )
            self.users = load_htpasswd(settings.http_basic_auth_user_file)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.users is None or scope["type"] != "http" or self._public(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        user = self._check(headers.get(b"authorization", b"").decode())
        if user is None:
            body = json.dumps(
                error_body(
                    401,
                    "Authentication required: send HTTP Basic "
                    "credentials of a user in the htpasswd file.",
                )
            ).encode()
            await send({
                "type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"),
                            (b"www-authenticate", b'Basic realm="Baremetal API"'),
                            (b"content-length", str(len(body)).encode())],
            })  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)

    @staticmethod
    def _public(path: str) -> bool:
        return path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES)

    def _check(self, header: str) -> str | None:
        assert self.users is not None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        hashed = self.users.get(user)
        if hashed is None or not bcrypt.checkpw(password.encode(), hashed):
            return None
        return user
