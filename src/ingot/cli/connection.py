"""How a CLI command reaches the API: URL and credentials from options or the environment."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from ingot.client import DEFAULT_URL, IngotClient

# The baremetal CLI reads OS_ENDPOINT; honouring it lets operators keep their environment.
URL_ENVVARS = ["INGOT_URL", "OS_ENDPOINT"]


@dataclass(frozen=True)
class Connection:
    """What the root command collected; each command builds its client from it."""

    url: str = DEFAULT_URL
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    def client(self) -> IngotClient:
        return IngotClient(
            self.url, username=self.username, password=self.password, timeout=self.timeout
        )


def connection(ctx: typer.Context) -> Connection:
    """The Connection of the root context (defaults when a sub-app runs on its own)."""
    root = ctx.find_root()
    found = root.obj if isinstance(root.obj, Connection) else None
    return found or Connection()


def client(ctx: typer.Context) -> IngotClient:
    return connection(ctx).client()
