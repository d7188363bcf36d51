"""``ingot db``: the database schema, for operators who migrate before starting processes."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from ingot.errors import ConfigError
from ingot.server import settings_from_cli

app = typer.Typer(no_args_is_help=True, help="The database schema (Alembic migrations).")
console = Console()

CONFIG = typer.Option(None, "--config", help="TOML configuration file.")
STATE_DIR = typer.Option(None, "--state-dir", help="Where the SQLite database lives.")


def _revisions(config: Path | None, state_dir: Path | None) -> tuple[str, str | None, str | None]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from ingot.db import migrate
    from ingot.db.engine import Database

    url = settings_from_cli(config, state_dir).database_url
    parsed = make_url(url)
    db = Database(url)
    try:
        head = migrate.head_revision(db)
        if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
            return url, None, head  # no database yet: do not create one just to look
        return url, migrate.current_revision(db), head
    except OperationalError as exc:
        raise ConfigError(
            f"Cannot open the database {_where(url)}: {str(exc.orig).strip()} Check the "
            "database connection setting (INGOT_DATABASE__CONNECTION, or `connection` in the "
            "database section of --config) or --state-dir."
        ) from None
    finally:
        db.dispose()


def _where(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("upgrade")
def upgrade(config: Path = CONFIG, state_dir: Path = STATE_DIR) -> None:
    """Bring the schema to the newest revision. Every Ingot process also does this when it
    starts (on PostgreSQL under an advisory lock, so processes started together take turns);
    run it once by hand to migrate before a rolling restart."""
    from ingot.cli.cluster import migrate_once

    settings = settings_from_cli(config, state_dir)
    migrate_once(settings)
    url, current, head = _revisions(config, state_dir)
    console.print(f"{_where(url)}: schema at {current} (newest: {head}).", highlight=False)


@app.command("version")
def version(config: Path = CONFIG, state_dir: Path = STATE_DIR) -> None:
    """Show the schema revision; exit 1 when the database is behind this Ingot."""
    url, current, head = _revisions(config, state_dir)
    console.print(f"{_where(url)}: schema at {current or 'none'} (newest: {head}).",
                  highlight=False)  # fmt: skip
    if current != head:
        console.print("Run `ingot db upgrade` to bring it up to date.")
        raise typer.Exit(1)
