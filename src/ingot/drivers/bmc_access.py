"""Bounded, serialised access to BMCs: one session at a time per BMC, a cap on all of them.

BMCs are small embedded computers; many fall over (drop sessions, answer "node busy", reboot)
under parallel sessions, and a conductor syncing power for thousands of nodes must not open
thousands of sessions at once. Both protocol clients (pyghmi, sushy) block, so this is
thread-based: callers wait in line instead of being rejected.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ingot.errors import ConfigError, DriverError

DEFAULT_MAX_PARALLEL = 16


class BmcAccess:
    """A per-BMC lock plus a global semaphore; share one instance per conductor process."""

    def __init__(self, max_parallel: int = DEFAULT_MAX_PARALLEL) -> None:
        if max_parallel < 1:
            raise ConfigError(
                f"BMC concurrency limit must be at least 1, got {max_parallel}: "
                "set the conductor's BMC concurrency option to a positive number"
            )
        self.max_parallel = max_parallel
        self._slots = threading.BoundedSemaphore(max_parallel)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock_for(self, bmc: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(bmc)
            if lock is None:
                lock = self._locks[bmc] = threading.Lock()
            return lock

    @contextmanager
    def session(self, bmc: str, timeout: float | None = None) -> Iterator[None]:
        """Hold ``bmc`` (e.g. ``"10.0.0.5:623"``) exclusively and one global slot.

        Waits for the BMC first and the slot second, so a caller queued behind a busy BMC does
        not hold a slot others could use. Waits forever unless ``timeout`` (seconds, for both)
        is given; then raises :class:`DriverError` naming the BMC.
        """
        lock = self._lock_for(bmc)
        # Lock.acquire spells "forever" -1; Semaphore.acquire spells it None.
        if not lock.acquire(timeout=-1 if timeout is None else timeout):
            raise DriverError(
                f"BMC {bmc} stayed busy with another session for {timeout} s; "
                "retry later or raise the wait time"
            )
        try:
            if not self._slots.acquire(timeout=timeout):
                raise DriverError(
                    f"all {self.max_parallel} BMC session slots stayed busy for {timeout} s "
                    f"while waiting to talk to {bmc}; retry later or raise the concurrency limit"
                )
            try:
                yield
            finally:
                self._slots.release()
        finally:
            lock.release()
