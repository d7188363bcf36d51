"""``[json_rpc] auth_strategy``: who may call a conductor's JSON-RPC endpoint.

Anyone who can call it can power servers off and erase disks, so a conductor refuses to
listen off loopback without authentication unless told ``allow_open_rpc``, as the API does
with ``allow_open_api``. With ``http_basic`` the API processes send, and the conductors check,
one shared username and password (compared in constant time; never logged).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field

from ingot.errors import ConfigError
from ingot.server import is_loopback
from ingot.settings import JsonRpcSection


@dataclass(frozen=True)
class RpcCredentials:
    """The HTTP Basic pair of ``[json_rpc]``; ``repr`` hides the password."""

    username: str
    password: str = field(repr=False)

    def header(self) -> str:
        """The ``Authorization`` header value a caller sends."""
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def check(self, header: str | None) -> str | None:
        """None when ``header`` carries these credentials, else why not (no secret in it)."""
        if not header:
            return "no credentials"
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return f"unsupported scheme {scheme[:16]!r}"
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "malformed Basic credentials"
        # Both compared whatever the first gives, so timing tells nothing about either.
        user_ok = hmac.compare_digest(user.encode(), self.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        if sep and user_ok and password_ok:
            return None
        return f"wrong username or password (user {user[:64]!r})"


def credentials(settings: JsonRpcSection) -> RpcCredentials | None:
    """The credentials to send and require; None for ``noauth``.

    Raises ConfigError when ``http_basic`` lacks a username or password.
    """
    if settings.auth_strategy == "noauth":
        return None
    password = settings.http_basic_password
    if not settings.http_basic_username or password is None or not password.get_secret_value():
        raise ConfigError(
            '[json_rpc] auth_strategy is "http_basic" but http_basic_username or '
            "http_basic_password is unset; set both, the same on every API and conductor "
            "process (e.g. INGOT_JSON_RPC__HTTP_BASIC_PASSWORD)."
        )
    return RpcCredentials(settings.http_basic_username, password.get_secret_value())


def check_rpc_exposure(settings: JsonRpcSection, host: str) -> None:
    """Refuse an unauthenticated RPC endpoint on a non-loopback address unless accepted."""
    if settings.auth_strategy == "noauth" and not is_loopback(host) and not settings.allow_open_rpc:
        raise ConfigError(
            f"Refusing to serve conductor RPC without authentication on {host}: anyone who can "
            "reach it could power servers off and erase disks. Set [json_rpc] auth_strategy = "
            '"http_basic" with http_basic_username and http_basic_password on every API and '
            "conductor, bind --rpc-host to 127.0.0.1, or pass --allow-open-rpc on a trusted "
            "network."
        )
