"""Safe use of pyghmi's client from threads (pyghmi 1.6.19): a socket-race fix and one lock.

pyghmi's synchronous client shares one event loop among all sessions in the process, and any
thread waiting in it runs other sessions' callbacks, which block in turn. From several threads at
once this stalls for seconds and fails with spurious timeouts (measured: 3 threads x 5 power
reads took 81 s with errors; the same calls one at a time took 70 ms). So every pyghmi client
call in the process runs under :data:`CLIENT_LOCK`. The cost: one BMC that does not answer holds
the lock for a login timeout (about 5 s) per try.

The socket race:

Symptom: a pyghmi call stalls for a retransmit period (0.6-1 s, LAB.md gotcha 2), and with a
pyghmi BMC server in the same process it can hang for good. Cause: pyghmi's I/O thread does
``sock.setblocking(False); sock.recvfrom()`` while any sender thread does
``sock.setblocking(True); sock.sendto()`` on the same shared socket. When the two interleave, the
I/O thread sits in a blocking ``recvfrom`` on one socket and reads no other socket until a packet
arrives on that one; if the awaited reply is due on another socket, nothing arrives and the
process's IPMI traffic stops. Fix: senders never switch a socket back to blocking mode.
"""

from __future__ import annotations

import select
import threading
from typing import Any

import pyghmi.ipmi.private.session as ipmisession

_SEND_WAIT = 1.0  # seconds to wait for room in a full send buffer before dropping the packet
_installed = False
CLIENT_LOCK = threading.Lock()
"""Held around every pyghmi client session (login, commands, logout) in the process."""
_install_lock = threading.Lock()


def _nonblocking_sendto(sock: Any, packet: bytes, sockaddr: Any) -> None:
    """Send one UDP packet without changing the socket's blocking mode; drop it on error.

    Dropping matches pyghmi's own ``_io_sendto``: IPMI retransmits, so a lost packet costs time,
    not correctness.
    """
    if hasattr(sock, "fd"):  # eventlet green socket, as pyghmi handles it
        sock = sock.fd
    try:
        sock.setblocking(False)
        try:
            sock.sendto(packet, sockaddr)
        except BlockingIOError:
            select.select([], [sock], [], _SEND_WAIT)
            sock.sendto(packet, sockaddr)
    except (OSError, ValueError):
        pass


def install() -> None:
    """Replace pyghmi's ``_io_sendto`` with :func:`_nonblocking_sendto`; idempotent."""
    global _installed
    with _install_lock:
        if _installed:
            return
        ipmisession._io_sendto = _nonblocking_sendto
        _installed = True


__all__ = ["install"]
