"""Redfish client over sushy: power, boot device (Once/Continuous) and boot mode of one system.

Protocol code only: it knows a BMC URL, credentials and a system, not nodes or tasks. Each call
holds the :class:`BmcAccess` lock of the BMC; failures are :class:`DriverError` naming the BMC
and the fix, never the password.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import requests
import sushy
from sushy import auth as sushy_auth
from sushy import exceptions as sushy_exc

from ingot.drivers.bmc_access import BmcAccess
from ingot.errors import DriverError, InvalidInput

T = TypeVar("T")
PowerState = Literal["on", "off"]
PowerAction = Literal["on", "off", "reset", "soft", "cycle"]
BootDevice = Literal["pxe", "disk", "cdrom", "bios"]
BootMode = Literal["bios", "uefi"]
AuthType = Literal["auto", "basic", "session"]

SYSTEMS_PATH = "/redfish/v1/Systems/"


def _value(enum_or_str: Any) -> str:
    """sushy returns enums in some versions and strings in others; compare by value."""
    return str(getattr(enum_or_str, "value", enum_or_str))


_TO_SUSHY: dict[BootDevice, str] = {
    "pxe": sushy.BOOT_SOURCE_TARGET_PXE,
    "disk": sushy.BOOT_SOURCE_TARGET_HDD,
    "cdrom": sushy.BOOT_SOURCE_TARGET_CD,
    "bios": sushy.BOOT_SOURCE_TARGET_BIOS_SETUP,
}
_FROM_SUSHY: dict[str, BootDevice] = {_value(v): k for k, v in _TO_SUSHY.items()}
_ON_STATES = {_value(sushy.POWER_STATE_ON), _value(sushy.POWER_STATE_POWERING_ON)}
_AUTH_CLASSES = {
    "basic": sushy_auth.BasicAuth,
    "session": sushy_auth.SessionAuth,
    "auto": sushy_auth.SessionOrBasicAuth,
}


class RedfishClient:
    """One ComputerSystem behind a Redfish BMC."""

    def __init__(
        self,
        address: str,
        system_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify_ca: bool | str = True,
        auth_type: AuthType = "auto",
        *,
        access: BmcAccess | None = None,
        poll_interval: float = 1.0,
        timeout: float = 60.0,
    ) -> None:
        """Check the settings; nothing is sent until an operation is called.

        ``address`` is the BMC's base URL (``https://host[:port]``; a bare host means https).
        ``system_id`` is a system path or bare id; without it the BMC must have exactly one.
        ``verify_ca`` is a bool or a CA bundle path. Raises :class:`InvalidInput`.
        """
        if not address:
            raise InvalidInput("redfish_address is empty: set it to the BMC's URL")
        if "://" not in address:
            address = f"https://{address}"
        if not address.startswith(("http://", "https://")):
            raise InvalidInput(f"redfish_address {address!r} must be an http:// or https:// URL")
        if auth_type not in _AUTH_CLASSES:
            raise InvalidInput(
                f"redfish_auth_type {auth_type!r} is not one of {', '.join(_AUTH_CLASSES)}"
            )
        self.address = address.rstrip("/")
        if system_id and not system_id.startswith("/"):
            system_id = SYSTEMS_PATH + system_id
        self.system_id = system_id
        self.username = username
        self._password = password
        self.verify_ca = verify_ca
        self.auth_type = auth_type
        self._access = access or BmcAccess(max_parallel=1)
        self.poll_interval = poll_interval
        self.timeout = timeout
        self._root: Any = None

    def __repr__(self) -> str:
        return f"RedfishClient({self.address!r}, system_id={self.system_id!r})"

    # --- connection and errors --------------------------------------------------------------
    def _connect(self) -> Any:
        if self._root is None:
            auth = _AUTH_CLASSES[self.auth_type](username=self.username, password=self._password)
            self._root = sushy.Sushy(
                self.address,
                auth=auth,
                verify=self.verify_ca,
                read_timeout=self.timeout,
                server_side_retries=3,
                server_side_retries_delay=1,
            )
        return self._root

    def _system(self) -> Any:
        root = self._connect()
        if self.system_id:
            return root.get_system(self.system_id)
        members = list(root.get_system_collection().members_identities)
        if len(members) != 1:
            found = ", ".join(sorted(members)) or "none"
            raise DriverError(
                f"the Redfish BMC at {self.address} has {len(members)} systems ({found}): "
                "set redfish_system_id in the node's driver_info to the one to manage"
            )
        self.system_id = members[0]
        return root.get_system(members[0])

    def _run(self, what: str, operation: Callable[[Any], T]) -> T:
        try:
            with self._access.session(self.address):
                return operation(self._system())
        except sushy_exc.AccessError as exc:
            if exc.status_code in (401, 403):
                self._root = None
                raise DriverError(
                    f"Redfish authentication to the BMC at {self.address} failed for user "
                    f"{self.username!r} while trying to {what}: check redfish_username and "
                    "redfish_password in the node's driver_info"
                ) from None
            raise self._error(what, exc) from None
        except sushy_exc.ResourceNotFoundError:
            raise DriverError(
                f"the Redfish BMC at {self.address} has no system {self.system_id}: "
                "fix redfish_system_id in the node's driver_info"
            ) from None
        except (sushy_exc.ConnectionError, requests.exceptions.RequestException) as exc:
            self._root = None
            raise DriverError(
                f"no answer from the Redfish BMC at {self.address} while trying to {what} "
                f"({type(exc).__name__}): check redfish_address, that the BMC is reachable, "
                "and redfish_verify_ca for https"
            ) from None
        except sushy_exc.SushyError as exc:
            raise self._error(what, exc) from None

    def _error(self, what: str, exc: Exception) -> DriverError:
        return DriverError(f"the Redfish BMC at {self.address} failed to {what}: {exc}")

    # --- power ------------------------------------------------------------------------------
    def get_power(self) -> PowerState:
        """The system's power state; powering on counts as on, powering off as off."""
        state = self._run("read the power state", lambda system: _value(system.power_state))
        return "on" if state in _ON_STATES else "off"

    def _reset(self, reset_type: str, what: str) -> None:
        self._run(what, lambda system: system.reset_system(reset_type))

    def _wait_power(self, target: PowerState, wait_timeout: float, what: str) -> None:
        deadline = time.monotonic() + wait_timeout
        while self.get_power() != target:
            if time.monotonic() >= deadline:
                raise DriverError(
                    f"the Redfish BMC at {self.address} accepted the request to {what}, but "
                    f"power is still not {target} after {wait_timeout:g} s: check the server, "
                    "or raise the power state change timeout"
                )
            time.sleep(self.poll_interval)

    def set_power(self, state: PowerAction, wait_timeout: float = 30.0) -> None:
        """Change power and wait until the BMC reports the result (same verbs as IPMI)."""
        if state == "on":
            if self.get_power() != "on":
                self._reset(sushy.RESET_ON, "power on")
            self._wait_power("on", wait_timeout, "power on")
        elif state == "off":
            if self.get_power() != "off":
                self._reset(sushy.RESET_FORCE_OFF, "power off")
            self._wait_power("off", wait_timeout, "power off")
        elif state == "soft":
            if self.get_power() != "off":
                self._reset(sushy.RESET_GRACEFUL_SHUTDOWN, "soft power off")
            self._wait_power("off", wait_timeout, "soft power off")
        elif state == "reset":
            if self.get_power() == "off":
                self.set_power("on", wait_timeout)
                return
            self._reset(sushy.RESET_FORCE_RESTART, "reset")
            self._wait_power("on", wait_timeout, "reset")
        elif state == "cycle":
            self.set_power("off", wait_timeout)
            self.set_power("on", wait_timeout)
        else:
            raise InvalidInput(f"power state {state!r} is not one of on, off, reset, soft, cycle")

    # --- boot device and mode ---------------------------------------------------------------
    def get_boot_device(self) -> tuple[BootDevice | None, bool | None]:
        """The boot override target and whether it is Continuous; (None, None) when disabled."""

        def read(system: Any) -> tuple[BootDevice | None, bool | None]:
            enabled = _value(system.boot.enabled)
            device = _FROM_SUSHY.get(_value(system.boot.target))
            if device is None or enabled == _value(sushy.BOOT_SOURCE_ENABLED_DISABLED):
                return None, None
            return device, enabled == _value(sushy.BOOT_SOURCE_ENABLED_CONTINUOUS)

        return self._run("read the boot device", read)

    def set_boot_device(self, device: BootDevice, persistent: bool = False) -> None:
        """Boot from ``device`` next time (Once) or every time (Continuous)."""
        if device not in _TO_SUSHY:
            raise InvalidInput(
                f"boot device {device!r} is not supported over Redfish: use one of "
                f"{', '.join(_TO_SUSHY)}"
            )
        enabled = (
            sushy.BOOT_SOURCE_ENABLED_CONTINUOUS if persistent else sushy.BOOT_SOURCE_ENABLED_ONCE
        )
        self._run(
            f"set the boot device to {device}",
            lambda system: system.set_system_boot_options(_TO_SUSHY[device], enabled=enabled),
        )

    def supported_boot_devices(self) -> list[BootDevice]:
        """Boot devices the system advertises among those we know."""

        def read(system: Any) -> list[BootDevice]:
            allowed = {_value(v) for v in system.get_allowed_system_boot_source_values()}
            return [device for device, target in _TO_SUSHY.items() if _value(target) in allowed]

        return self._run("read the allowed boot devices", read)

    def get_boot_mode(self) -> BootMode | None:
        """``uefi`` or ``bios`` (Redfish ``Legacy``), None when the BMC does not say."""
        mode = self._run("read the boot mode", lambda system: system.boot.mode)
        if mode is None:
            return None
        return "uefi" if _value(mode) == _value(sushy.BOOT_SOURCE_MODE_UEFI) else "bios"

    def set_boot_mode(self, mode: BootMode) -> None:
        """Switch the system between UEFI and legacy BIOS boot."""
        if mode not in ("uefi", "bios"):
            raise InvalidInput(f"boot mode {mode!r} is not one of uefi, bios")
        target = sushy.BOOT_SOURCE_MODE_UEFI if mode == "uefi" else sushy.BOOT_SOURCE_MODE_BIOS
        self._run(
            f"set the boot mode to {mode}",
            lambda system: system.set_system_boot_options(mode=target),
        )
