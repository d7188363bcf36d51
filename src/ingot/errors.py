"""One exception tree for Ingot.

Every error a client can see is an ``IngotError``; its ``status`` is the HTTP status the API
answers with, and ``str(error)`` is the ``faultstring`` of Ironic's error body. Messages name
the node or field at fault and what to do next.
"""

from __future__ import annotations


class IngotError(Exception):
    """Base of every error that reaches a client."""

    status: int = 500
    faultcode: str = "Server"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClientError(IngotError):
    """The request is wrong; retrying it unchanged will fail again."""

    status = 400
    faultcode = "Client"


class InvalidInput(ClientError):
    """A field has a bad value or the body is malformed (400)."""


class InvalidState(ClientError):
    """The node's state does not allow the request (400)."""


class NotFound(ClientError):
    """The addressed resource does not exist (404)."""

    status = 404


class NotAcceptable(ClientError):
    """The requested API microversion is outside what we serve (406)."""

    status = 406


class Conflict(ClientError):
    """The request clashes with existing data: a duplicate or a state conflict (409)."""

    status = 409


class NodeLocked(Conflict):
    """Another worker holds the node's lock (409)."""

    def __init__(self, node: str, holder: str) -> None:
        super().__init__(
            f"Node {node} is locked by host {holder}, please retry after the current "
            "operation is completed."
        )
        self.node = node
        self.holder = holder


class LockLost(Conflict):
    """A conductor's lock on a node is gone: it was presumed dead and another took over."""

    def __init__(self, node: str, host: str, holder: str | None) -> None:
        super().__init__(
            f"Conductor {host} no longer holds the lock on node {node} (now "
            f"{'held by ' + holder if holder else 'unlocked'}): it was presumed dead and the "
            "node was taken over, so its step was abandoned without writing."
        )
        self.node = node
        self.holder = holder


class Unauthorized(ClientError):
    """Missing or wrong credentials (401)."""

    status = 401


class Forbidden(ClientError):
    """The caller may not do this (403)."""

    status = 403


class NotImplementedYet(IngotError):
    """A feature Ingot declares but does not implement yet (501), said plainly."""

    status = 501
    faultcode = "Server"


class DriverError(IngotError):
    """A hardware interface failed talking to the machine or its BMC (500 inside a task)."""


class ConfigError(IngotError):
    """Ingot's own configuration is wrong; raised at start-up, before serving."""
