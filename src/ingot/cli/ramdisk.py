"""``ingot ramdisk build``: the deploy kernel + ramdisk for real servers (root, Debian)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer
from rich.console import Console

from ingot.ramdisk.build import RamdiskSpec, build_ramdisk, describe, publish
from ingot.ramdisk.kmods import DEFAULT_MODULES

app = typer.Typer(no_args_is_help=True, help="Build the deploy ramdisk real servers boot.")
console = Console(stderr=True)


@app.command("build")
def build(
    output: Path = typer.Option(..., "-o", "--output", help="Directory for the kernel+ramdisk."),
    arch: str = typer.Option("x86_64", "--arch", help="CPU architecture (the host's)."),
    include_package: list[str] = typer.Option(
        [], "--include-package", help="Extra Debian package for the ramdisk (repeatable)."
    ),
    module: list[str] = typer.Option(
        [], "--module", help="Extra kernel module to load at boot (repeatable)."
    ),
    mirror: str = typer.Option(None, "--mirror", help="Debian mirror (default: apt's)."),
    suite: str = typer.Option(None, "--suite", help="Debian suite (default: apt's)."),
    agent_source: Path = typer.Option(None, "--agent-source", help="The agent/ project."),
    agent_wheel: Path = typer.Option(None, "--agent-wheel", help="A prebuilt agent wheel."),
    cache_dir: Path = typer.Option(
        Path("~/.cache/ingot/ramdisk"), "--cache-dir", help="Where builds are cached by content."
    ),
    http_url: str = typer.Option(
        None, "--http-url", help="URL at which OUTPUT is served, to print URLs instead of paths."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Build (or reuse from the cache) the deploy kernel and ramdisk; print driver_info values.

    Needs root and: debootstrap, dpkg-deb, apt-get (scripts/vm-tier-deps.sh installs them).
    """
    logging.basicConfig(level=logging.WARNING)
    spec = RamdiskSpec(
        arch=arch,
        packages=tuple(include_package),
        modules=(*DEFAULT_MODULES, *module),
        mirror=mirror,
        suite=suite,
        agent_source=agent_source,
        agent_wheel=agent_wheel,
    )
    result = build_ramdisk(
        spec, cache_dir.expanduser(), progress=lambda line: console.print(f"  {line}")
    )
    placed = publish(result, output)
    if as_json:
        body = {"key": placed.key, "cached": placed.cached, "timings": placed.timings,
                **placed.driver_info(http_url)}  # fmt: skip
        typer.echo(json.dumps(body, indent=2))
        return
    state = "reused from cache" if placed.cached else "built"
    console.print(f"[bold]deploy ramdisk {state}[/bold] ({placed.key}) in {output}")
    for line in describe(placed, http_url):
        typer.echo(line)
