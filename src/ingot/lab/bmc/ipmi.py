"""Virtual IPMI 2.0 (RMCP+ lanplus) BMCs for lab machines, many in one process.

Built on pyghmi's BMC server (``pyghmi.ipmi.bmc.Bmc``), the pattern virtualbmc uses. pyghmi keeps
every server socket in a class-level table served by its own I/O thread, so one listener thread
here answers all BMCs of a :class:`IpmiBmcServer`. Two fixes make real clients happy:

* pyghmi's server answers every RMCP+ open-session request with cipher suite 3, whatever was asked.
  pyghmi's client asks for suite 17 (SHA-256) first and then crashes on the SHA-1 answer
  (``struct.error`` in ``_got_rakp2``). A suite-3-only BMC answers a SHA-256 request with RMCP+
  status 0x11 (invalid authentication algorithm), after which the client retries with suite 3;
  we answer that way. ipmitool is unaffected: it asks for the cipher suites first.
* pyghmi's server ignores RAKP1 for an unknown user name, so the client times out; real BMCs say
  "unauthorized name" (status 0x0D) and we do too, so a wrong user fails fast and clearly.

Boot flags carry the persistent and EFI bits both ways, which pyghmi's stock handlers drop.

pyghmi's I/O thread sleeps in ``select()`` on the socket list as it was when it entered, and
everyone wakes it by sending a byte to ``iosockets[0]``. If that first socket is a BMC's, stopping
the BMC removes it, and the thread sleeps on (up to 300 s) on a closed socket, deaf to every
socket added later: a BMC started afterwards in the same process never answers, and pyghmi
clients hang. So before the first BMC, :func:`_ensure_wake_socket` makes ``iosockets[0]`` a
client socket no BMC owns, which lives as long as the process (as pyghmi's own client sockets do).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid as uuidlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyghmi.ipmi.bmc as pyghmi_bmc
import pyghmi.ipmi.command as pyghmi_command
import pyghmi.ipmi.private.serversession as serversession
import pyghmi.ipmi.private.session as ipmisession

from ingot.drivers.ipmi import pyghmi_io
from ingot.lab.machine import BootDevice, VirtualMachine

pyghmi_io.install()

_LOG = logging.getLogger(__name__)

# IPMI completion codes (IPMI 2.0 spec, table 5-2).
_CC_NODE_BUSY = 0xC0
_CC_INVALID_DATA = 0xCC
_CC_NOT_IN_PRESENT_STATE = 0xD5
# RMCP+ status codes (table 13-15).
_RMCP_INVALID_AUTH_ALGO = 0x11
_RMCP_UNAUTHORIZED_NAME = 0x0D
_AUTH_ALGO_HMAC_SHA1 = 1
_POLL_INTERVAL = 0.05  # seconds; bounds the latency of a packet that raced the wait

# Boot flags, parameter 5 of Get/Set System Boot Options: data byte 1 bits.
_BOOT_FLAGS_VALID = 0x80
_BOOT_FLAGS_PERSISTENT = 0x40
_BOOT_FLAGS_EFI = 0x20

# pyghmi's device names (keys of pyghmi.ipmi.command.boot_devices) <-> ours.
_FROM_IPMI_DEVICE: dict[str, BootDevice] = {
    "network": "pxe",
    "hd": "disk",
    "safe": "disk",
    "optical": "cdrom",
    "setup": "bios",
}
_TO_IPMI_DEVICE: dict[BootDevice, str] = {
    "pxe": "network",
    "disk": "hd",
    "cdrom": "optical",
    "bios": "setup",
}


@dataclass
class IpmiFaults:
    """Misbehaviour to inject, changeable while serving: the BMC's own packets, not the network."""

    silent: bool = False  # answer nothing at all: an unreachable BMC
    drop_rate: float = 0.0  # fraction of in-session requests left unanswered
    delay: float = 0.0  # seconds to wait before answering each in-session request


_wake_lock = threading.Lock()


def _ensure_wake_socket() -> None:
    """Make sure ``iosockets[0]`` (pyghmi's wake-up socket) is one no BMC owns; see docstring."""
    with _wake_lock:
        if not ipmisession.iosockets:
            # pyghmi's own client socket, as its first client call would make it; this also
            # starts the I/O thread and settles the loopback address it wakes itself through.
            ipmisession.Session._assignsocket()


class _ServerSession(serversession.ServerSession):  # type: ignore[misc]
    """pyghmi's server session with the cipher-suite and unknown-user fixes (module docstring)."""

    def create_open_session_response(self, request: bytearray) -> bytearray:
        # Request layout: tag, privilege, 2 reserved, console session id (4 bytes), then the
        # authentication payload whose algorithm is byte 12.
        if len(request) >= 13 and request[12] != _AUTH_ALGO_HMAC_SHA1:
            return (
                bytearray([request[0], _RMCP_INVALID_AUTH_ALGO, 0, 0])
                + bytearray(request[4:8])
                + bytearray(4)
            )
        response: bytearray = super().create_open_session_response(request)
        return response

    def _got_rakp1(self, data: Any) -> None:
        name_length = data[27] if len(data) > 27 else 0
        username = bytes(data[28 : 28 + name_length]).decode("utf-8", "replace")
        if name_length and self.authdata.get(username) is None:
            reply = bytearray([data[0], _RMCP_UNAUTHORIZED_NAME, 0, 0]) + self.clientsessionid
            self.send_payload(reply, ipmisession.constants.payload_types["rakp2"], retry=False)
            return
        super()._got_rakp1(data)

    def sessionless_data(self, data: Any, sockaddr: Any) -> None:
        # pyghmi hands a session a packet whose sender has no session entry any more (a client
        # that logged out and reconnected from the same port) as "sessionless"; the server
        # session has no such handler, so pass it to the BMC, which starts a new session.
        self.bmc.sessionless_data(data, sockaddr)


class VirtualIpmiBmc(pyghmi_bmc.Bmc):  # type: ignore[misc]
    """One IPMI BMC on a UDP port, controlling one :class:`VirtualMachine`."""

    def __init__(
        self,
        machine: VirtualMachine,
        username: str,
        password: str,
        port: int = 0,
        address: str = "127.0.0.1",
        faults: IpmiFaults | None = None,
    ) -> None:
        _ensure_wake_socket()
        super().__init__(
            {username: password},
            port=port,
            address=address,
            bmcuuid=uuidlib.UUID(machine.uuid),
        )
        # With port 0 the kernel picked one; pyghmi routes packets by the real port number.
        self.port: int = self.serversocket.getsockname()[1]
        self.address = address
        self.machine = machine
        self.faults = faults or IpmiFaults()
        self._random = random.Random()

    # --- fault injection ------------------------------------------------------------------
    def sessionless_data(self, data: Any, sockaddr: Any) -> None:
        if self.faults.silent:
            return
        raw = bytearray(data)
        is_open_session = (
            len(raw) >= 22 and raw[0] == 6 and raw[2:4] == b"\xff\x07" and raw[4:6] == b"\x06\x10"
        )
        if is_open_session:
            _ServerSession(
                self.authdata,
                self.kg,
                sockaddr,
                self.serversocket,
                raw[16:],
                self.uuid,
                bmc=self,
            )
            return
        super().sessionless_data(data, sockaddr)

    def handle_raw_request(self, request: Any, session: Any) -> None:
        faults = self.faults
        if faults.silent or (faults.drop_rate and self._random.random() < faults.drop_rate):
            return
        if faults.delay:
            time.sleep(faults.delay)
        super().handle_raw_request(request, session)

    # --- chassis ----------------------------------------------------------------------------
    def get_system_guid(self) -> uuidlib.UUID:
        return uuidlib.UUID(self.machine.uuid)

    def cold_reset(self) -> int:
        return 0

    def get_power_state(self) -> str:
        return self.machine.get_power()

    def power_on(self) -> int:
        self.machine.power("on")
        return 0

    def power_off(self) -> int:
        self.machine.power("off")
        return 0

    def power_shutdown(self) -> int:
        # A lab machine has no OS to ask nicely; ACPI soft-off is immediate.
        self.machine.power("off")
        return 0

    def power_reset(self) -> int:
        return 0 if self.machine.power("reset") else _CC_NOT_IN_PRESENT_STATE

    def power_cycle(self) -> int:
        if self.machine.get_power() == "off":
            return _CC_NOT_IN_PRESENT_STATE
        self.machine.power("off")
        self.machine.power("on")
        return 0

    def pulse_diag(self) -> int:
        return 0

    # --- boot options -----------------------------------------------------------------------
    def get_system_boot_options(self, request: Any, session: Any) -> None:
        if request["data"][0] != 5:  # only the boot flags parameter
            session.send_ipmi_response(code=0x80)  # parameter not supported
            return
        with self.machine.lock:
            device, persistent = self.machine.get_boot_device()
            efi = self.machine.boot_mode == "uefi"
        flags = _BOOT_FLAGS_VALID
        flags |= _BOOT_FLAGS_PERSISTENT if persistent else 0
        flags |= _BOOT_FLAGS_EFI if efi else 0
        device_bits = pyghmi_command.boot_devices[_TO_IPMI_DEVICE[device]]
        session.send_ipmi_response(data=[1, 5, flags, device_bits, 0, 0, 0])

    def set_system_boot_options(self, request: Any, session: Any) -> None:
        data = request["data"]
        if data[0] != 5:
            # Set-in-progress, service partition, boot info acknowledge: accept and ignore.
            session.send_ipmi_response()
            return
        flags = data[1]
        if not flags & _BOOT_FLAGS_VALID:
            # "default": the override is cleared and firmware boots from its own order.
            self.machine.set_boot_device("disk", persistent=True)
            session.send_ipmi_response()
            return
        ipmi_name = pyghmi_command.boot_devices.get((data[2] >> 2) & 0b1111)
        device = _FROM_IPMI_DEVICE.get(str(ipmi_name))
        if device is None:
            session.send_ipmi_response(code=_CC_INVALID_DATA)
            return
        with self.machine.lock:
            self.machine.set_boot_device(device, persistent=bool(flags & _BOOT_FLAGS_PERSISTENT))
            self.machine.set_boot_mode("uefi" if flags & _BOOT_FLAGS_EFI else "bios")
        session.send_ipmi_response()


class IpmiBmcServer:
    """Running virtual IPMI BMCs and the thread serving them; stop it to free the ports."""

    def __init__(self, bmcs: list[VirtualIpmiBmc]) -> None:
        self.bmcs = bmcs
        self._own: set[Any] = set(bmcs)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="lab-ipmi-bmcs", daemon=True)
        self._thread.start()

    def _is_ours(self, entry: Any) -> bool:
        return entry in self._own or getattr(entry, "bmc", None) in self._own

    def _serve(self) -> None:
        # Not pyghmi's Session.wait_for_rsp(): that runs the callbacks of every pyghmi session in
        # the process, and a client session's login callback blocks waiting for a BMC answer,
        # which would deadlock this thread when the BMC is ours. We handle only our own server
        # sessions and put client sessions back for their own threads.
        queue = ipmisession.sessionqueue
        while not self._stop.is_set():
            if not any(self._is_ours(entry) for entry in list(queue)):
                ipmisession._io_wait(_POLL_INTERVAL)
            others = []
            while queue:
                try:
                    entry = queue.popleft()
                except IndexError:
                    break
                if self._is_ours(entry):
                    try:
                        entry.process_pktqueue()
                    except Exception:  # one malformed packet must not stop every BMC
                        _LOG.exception("virtual IPMI BMC failed to handle a packet")
                else:
                    others.append(entry)
            queue.extend(others)

    def bmc_for(self, machine: VirtualMachine | str) -> VirtualIpmiBmc:
        """The BMC of a machine, by object or name."""
        name = machine if isinstance(machine, str) else machine.name
        for bmc in self.bmcs:
            if bmc.machine.name == name:
                return bmc
        raise KeyError(f"no virtual IPMI BMC for machine {name!r}")

    def port_of(self, machine: VirtualMachine | str) -> int:
        """The UDP port of a machine's BMC."""
        return self.bmc_for(machine).port

    def stop(self) -> None:
        """Stop serving and close every socket; idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=5)
        closing = {bmc.serversocket for bmc in self.bmcs}
        handlers = ipmisession.Session.bmc_handlers
        for key in list(handlers):
            if key in closing:
                del handlers[key]
            elif isinstance(handlers[key], dict):
                for port, session in list(handlers[key].items()):
                    if isinstance(session, _ServerSession) and session.bmc in self.bmcs:
                        del handlers[key][port]
        for sock in closing:
            if sock in ipmisession.iosockets:
                ipmisession.iosockets.remove(sock)
        # pyghmi's I/O thread may be inside select() on these sockets; an I/O wait returns only
        # after it has looped through select() again with the shortened list, so closing is safe.
        # The wake-up socket (never a BMC's) is still there for the I/O wait to go through.
        if ipmisession.iosockets:
            ipmisession._io_wait(0)
        for sock in closing:
            sock.close()

    def __enter__(self) -> IpmiBmcServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_ipmi_bmcs(
    machines_with_ports: Iterable[tuple[VirtualMachine, int]],
    username: str,
    password: str,
    address: str = "127.0.0.1",
) -> IpmiBmcServer:
    """Start one BMC per (machine, port) on ``address`` (port 0 picks a free one) and serve them.

    Raises ``OSError`` if a port is taken; the BMCs already bound are closed first.
    """
    bmcs: list[VirtualIpmiBmc] = []
    try:
        for machine, port in machines_with_ports:
            bmcs.append(VirtualIpmiBmc(machine, username, password, port=port, address=address))
    except OSError:
        IpmiBmcServer(bmcs).stop()
        raise
    return IpmiBmcServer(bmcs)
