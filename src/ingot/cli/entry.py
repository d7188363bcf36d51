"""The ``ingot`` console script: ``ingot serve`` goes straight to the lean server process;
every other command loads the full command line."""

from __future__ import annotations

import os
import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["serve"] and not {"-h", "--help"} & set(argv):
        # A server with many worker threads: one malloc arena instead of one per thread, and
        # blocks of 128 KiB and more always mmapped (given back on free, not left in the heap
        # where glibc's adaptive threshold would put them). Peak RSS at N=1,000 (issue 13):
        # 103-107 -> 102 MiB. The variables must be set before the process starts, hence the exec.
        env = dict(os.environ)
        env.setdefault("MALLOC_ARENA_MAX", "1")
        env.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
        os.execve(sys.executable, [sys.executable, "-m", "ingot.server", *argv[1:]], env)
    from ingot.cli.main import main as cli

    cli()
