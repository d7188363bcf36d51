"""The ``ingot`` console script: ``ingot serve`` goes straight to the lean server process;
every other command loads the full command line."""

from __future__ import annotations

import os
import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["serve"] and not {"-h", "--help"} & set(argv):
        # A server with many worker threads: two malloc arenas instead of one per thread keep
        # its memory flat. The variable must be set before the process starts, hence the exec.
        env = dict(os.environ)
        env.setdefault("MALLOC_ARENA_MAX", "2")
        os.execve(sys.executable, [sys.executable, "-m", "ingot.server", *argv[1:]], env)
    from ingot.cli.main import main as cli

    cli()
