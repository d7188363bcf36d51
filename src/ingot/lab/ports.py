"""Free loopback ports for services that a child process (or a later bind) will listen on."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10000


def free_port(attempts: int = 200) -> int:
    """A free TCP port on 127.0.0.1 below the kernel's ephemeral range.

    The port is released before its user binds it. A port from ``bind(0)`` comes from the
    ephemeral range, where in that window any outgoing connection (twenty agents heartbeating
    at once) may be given it as its source port, and the bind then fails with "address in
    use". The kernel never hands out ports below that range by itself.
    """
    try:
        low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    low = max(low, _LOWEST + 1000)
    for _ in range(attempts):
        port = random.randrange(_LOWEST, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError(f"no free TCP port on 127.0.0.1 in {_LOWEST}-{low - 1} after {attempts} tries")
