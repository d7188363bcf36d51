"""IPMI 2.0 lanplus client over pyghmi: power and boot device, with Ironic-style retries.

Protocol code only: it knows a BMC address and credentials, not nodes or tasks. Like Ironic's
ipmitool driver it opens one session per operation (login, command, logout) inside the
:class:`BmcAccess` lock of the BMC, retries transient failures (node busy, timeouts, no session
slots) until ``retry_timeout``, and polls the power state after a change until ``wait_timeout``.
Every failure is a :class:`DriverError` naming ``address:port`` and the likely fix; passwords
never appear in messages.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pyghmi import exceptions as pyghmi_exc
from pyghmi.ipmi import command as pyghmi_command

from ingot.drivers.bmc_access import BmcAccess
from ingot.drivers.ipmi import pyghmi_io
from ingot.errors import DriverError, InvalidInput

pyghmi_io.install()

T = TypeVar("T")
PowerState = Literal["on", "off"]
PowerAction = Literal["on", "off", "reset", "soft", "cycle"]
BootDevice = Literal["pxe", "disk", "cdrom", "bios", "safe"]
BootMode = Literal["bios", "uefi"]

PRIV_LEVELS = {"CALLBACK": 1, "USER": 2, "OPERATOR": 3, "ADMINISTRATOR": 4}
CIPHER_SUITES = (3, 17)
BOOT_DEVICES: tuple[BootDevice, ...] = ("pxe", "disk", "cdrom", "bios", "safe")
_TO_PYGHMI: dict[BootDevice, str] = {
    "pxe": "network",
    "disk": "hd",
    "cdrom": "optical",
    "bios": "setup",
    "safe": "safe",
}
_FROM_PYGHMI: dict[str, BootDevice] = {v: k for k, v in _TO_PYGHMI.items()}
# What pyghmi reports when the BMC times out, loses the session or never answers a login.
_NO_ANSWER = ("timeout", "session no longer connected", "session failed to initialize")
# Failures worth retrying, after Ironic's IPMITOOL_RETRYABLE_FAILURES.
_TRANSIENT = (
    "insufficient resources",
    "node busy",
    "timeout while processing",
    "out of storage space",
    "bmc initialization in progress",
    "command response could not be provided",
    "no available login slots",
)
_AUTH = ("incorrect password", "unauthorized name", "invalid user name", "invalid rakp4")


def _classify(message: str) -> Literal["auth", "no-answer", "transient", "fatal"]:
    text = message.lower()
    if any(marker in text for marker in _AUTH):
        return "auth"
    if not text or text == "none" or any(marker in text for marker in _NO_ANSWER):
        return "no-answer"
    if any(marker in text for marker in _TRANSIENT):
        return "transient"
    return "fatal"


class IpmiClient:
    """One BMC spoken to over IPMI 2.0 lanplus (RMCP+)."""

    def __init__(
        self,
        address: str,
        port: int = 623,
        username: str = "",
        password: str = "",
        priv_level: str = "ADMINISTRATOR",
        cipher_suite: int | None = None,
        *,
        access: BmcAccess | None = None,
        retry_timeout: float = 60.0,
        retry_interval: float = 1.0,
        poll_interval: float = 1.0,
    ) -> None:
        """Check the settings; nothing is sent until an operation is called.

        ``cipher_suite`` (Ironic's ``ipmi_cipher_suite``) is accepted for compatibility: pyghmi
        always proposes suite 17 and falls back to 3, which covers both values. ``access``
        should be the conductor's shared :class:`BmcAccess`; without one, this client only
        serialises its own calls. Raises :class:`InvalidInput` for a bad setting.
        """
        if not address:
            raise InvalidInput("ipmi_address is empty: set it to the BMC's IP address or name")
        if not 0 < port < 65536:
            raise InvalidInput(f"ipmi_port {port} is not a UDP port: use 1-65535 (usually 623)")
        if priv_level.upper() not in PRIV_LEVELS:
            raise InvalidInput(
                f"ipmi_priv_level {priv_level!r} is not one of {', '.join(PRIV_LEVELS)}"
            )
        if cipher_suite is not None and cipher_suite not in CIPHER_SUITES:
            raise InvalidInput(
                f"ipmi_cipher_suite {cipher_suite} is not supported: use 3 or 17, or leave it unset"
            )
        self.address = address
        self.port = port
        self.username = username
        self._password = password
        self.priv_level = priv_level.upper()
        self.cipher_suite = cipher_suite
        self._access = access or BmcAccess(max_parallel=1)
        self.retry_timeout = retry_timeout
        self.retry_interval = retry_interval
        self.poll_interval = poll_interval

    @property
    def bmc(self) -> str:
        """``address:port``, as messages and the access lock name the BMC."""
        return f"{self.address}:{self.port}"

    def __repr__(self) -> str:
        return f"IpmiClient({self.bmc!r}, username={self.username!r})"

    # --- sessions and retries ----------------------------------------------------------------
    def _login(self) -> Any:
        # Credentials go in as bytes: with str, pyghmi's session cache compares str to bytes,
        # never matches, and a later login can wait forever on a stale half-open session.
        return pyghmi_command.Command(
            bmc=self.address,
            userid=self.username.encode("utf-8"),
            password=self._password.encode("utf-8"),
            port=self.port,
            privlevel=PRIV_LEVELS[self.priv_level],
        )

    @staticmethod
    def _logout(cmd: Any) -> None:
        # The session is dropped either way; the BMC expires it if the logout is lost.
        with contextlib.suppress(pyghmi_exc.PyghmiException, OSError):
            cmd.ipmi_session.logout()

    def _run(self, what: str, operation: Callable[[Any], T]) -> T:
        """Run ``operation`` on a fresh session, retrying transient failures until the deadline."""
        deadline = time.monotonic() + self.retry_timeout
        tries = 0
        with self._access.session(self.bmc):
            while True:
                tries += 1
                try:
                    with pyghmi_io.CLIENT_LOCK:
                        cmd = self._login()
                        try:
                            return operation(cmd)
                        finally:
                            self._logout(cmd)
                except (pyghmi_exc.PyghmiException, OSError) as exc:
                    message = str(exc)
                    kind = _classify(message)
                    retry = kind in ("no-answer", "transient")
                    if retry and time.monotonic() + self.retry_interval < deadline:
                        time.sleep(self.retry_interval)
                        continue
                    raise self._error(what, kind, message, tries) from None

    def _error(self, what: str, kind: str, message: str, tries: int) -> DriverError:
        if kind == "auth":
            return DriverError(
                f"IPMI authentication to the BMC at {self.bmc} failed for user "
                f"{self.username!r} ({message}) while trying to {what}: check ipmi_username "
                "and ipmi_password in the node's driver_info"
            )
        if kind == "no-answer":
            return DriverError(
                f"no answer from the IPMI BMC at {self.bmc} after {tries} "
                f"{'try' if tries == 1 else 'tries'} to {what}: check ipmi_address and ipmi_port, "
                "that the BMC is powered and reachable, and that IPMI over LAN is enabled"
            )
        return DriverError(
            f"the IPMI BMC at {self.bmc} refused to {what} after {tries} "
            f"{'try' if tries == 1 else 'tries'}: {message}"
        )

    # --- power ------------------------------------------------------------------------------
    def get_power(self) -> PowerState:
        """The chassis power state, ``'on'`` or ``'off'``."""
        state = self._run("read the power state", lambda cmd: cmd.get_power()["powerstate"])
        return "on" if state == "on" else "off"

    def _chassis(self, pyghmi_state: str, what: str) -> None:
        self._run(what, lambda cmd: cmd.set_power(pyghmi_state, wait=False))

    def _wait_power(self, target: PowerState, wait_timeout: float, what: str) -> None:
        deadline = time.monotonic() + wait_timeout
        while True:
            if self.get_power() == target:
                return
            if time.monotonic() >= deadline:
                raise DriverError(
                    f"the IPMI BMC at {self.bmc} accepted the request to {what}, but power is "
                    f"still not {target} after {wait_timeout:g} s: check the server, or raise "
                    "the power state change timeout"
                )
            time.sleep(self.poll_interval)

    def set_power(self, state: PowerAction, wait_timeout: float = 30.0) -> None:
        """Change power and wait until the BMC reports the result.

        ``reset`` is a hard reset (power on if off); ``cycle`` is off then on, Ironic's reboot;
        ``soft`` asks the OS to shut down (ACPI) and waits for off.
        """
        if state in ("on", "off"):
            self._chassis(state, f"power {state}")
            self._wait_power(state, wait_timeout, f"power {state}")
        elif state == "soft":
            self._chassis("shutdown", "soft power off")
            self._wait_power("off", wait_timeout, "soft power off")
        elif state == "reset":
            if self.get_power() == "off":
                self.set_power("on", wait_timeout)
                return
            self._chassis("reset", "reset")
            self._wait_power("on", wait_timeout, "reset")
        elif state == "cycle":
            if self.get_power() == "on":
                self.set_power("off", wait_timeout)
            self.set_power("on", wait_timeout)
        else:
            raise InvalidInput(f"power state {state!r} is not one of on, off, reset, soft, cycle")

    # --- boot device ------------------------------------------------------------------------
    def _boot_flags(self) -> dict[str, Any]:
        flags: dict[str, Any] = self._run("read the boot device", lambda cmd: cmd.get_bootdev())
        return flags

    def get_boot_device(self) -> tuple[BootDevice | None, bool | None]:
        """The next boot device and whether it persists; ``(None, None)`` when none is forced."""
        flags = self._boot_flags()
        device = _FROM_PYGHMI.get(str(flags.get("bootdev")))
        if device is None:
            return None, None
        return device, bool(flags.get("persistent"))

    def get_boot_mode(self) -> BootMode | None:
        """The boot mode requested with the boot device (EFI bit), None when none is forced."""
        flags = self._boot_flags()
        if str(flags.get("bootdev")) not in _FROM_PYGHMI:
            return None
        return "uefi" if flags.get("uefimode") else "bios"

    def set_boot_device(
        self, device: BootDevice, persistent: bool = False, uefi: bool = False
    ) -> None:
        """Force the next boot (or every boot, if ``persistent``) from ``device``.

        ``uefi`` sets the boot flags' EFI bit, which asks for a UEFI boot.
        """
        if device not in _TO_PYGHMI:
            raise InvalidInput(
                f"boot device {device!r} is not supported over IPMI: use one of "
                f"{', '.join(BOOT_DEVICES)}"
            )
        name = _TO_PYGHMI[device]

        def operation(cmd: Any) -> None:
            result = cmd.set_bootdev(name, persist=persistent, uefiboot=uefi)
            # pyghmi returns an error dict (not an exception) for names it does not know.
            if isinstance(result, dict) and "error" in result:
                raise pyghmi_exc.IpmiException(str(result["error"]))

        self._run(f"set the boot device to {device}", operation)

    def supported_boot_devices(self) -> list[BootDevice]:
        """Boot devices a standard IPMI BMC accepts (Ironic's list for ipmitool)."""
        return list(BOOT_DEVICES)
