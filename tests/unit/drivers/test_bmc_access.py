"""BmcAccess: one session per BMC, a global cap, queueing rather than rejection."""

from __future__ import annotations

import threading
import time

import pytest

from ingot.drivers.bmc_access import BmcAccess
from ingot.errors import ConfigError, DriverError


def run_concurrently(access: BmcAccess, bmcs: list[str]) -> int:
    """Run one short session per entry in parallel; return the most seen at once."""
    active = peak = 0
    guard = threading.Lock()

    def work(bmc: str) -> None:
        nonlocal active, peak
        with access.session(bmc):
            with guard:
                active += 1
                peak = max(peak, active)
            time.sleep(0.02)
            with guard:
                active -= 1

    threads = [threading.Thread(target=work, args=(b,)) for b in bmcs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return peak


@pytest.mark.parametrize(
    ("limit", "bmcs", "peak"),
    [
        (8, ["bmc-a:623"] * 6, 1),  # one BMC: strictly one at a time
        (2, [f"bmc-{i}:623" for i in range(6)], 2),  # many BMCs: the global cap
    ],
)
def test_limits(limit: int, bmcs: list[str], peak: int) -> None:
    assert run_concurrently(BmcAccess(max_parallel=limit), bmcs) == peak


def test_timeout_names_the_bmc() -> None:
    access = BmcAccess()
    # A second session to the same BMC waits for the first and gives up after the timeout.
    with (
        access.session("10.0.0.5:623"),
        pytest.raises(DriverError, match=r"10\.0\.0\.5:623"),
        access.session("10.0.0.5:623", timeout=0.05),
    ):
        pass


def test_limit_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        BmcAccess(max_parallel=0)
