"""One virtual server as its BMC sees it: power, boot device and boot mode.

The BMCs (``ingot.lab.bmc``) change this state; listeners give the machine its behaviour (the lab
"boots" it when power goes on). All fields are guarded by ``lock``; use the methods, which take it.
"""

from __future__ import annotations

import threading
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

PowerState = Literal["on", "off"]
PowerEvent = Literal["on", "off", "reset"]
BootDevice = Literal["pxe", "disk", "cdrom", "bios"]
BootMode = Literal["bios", "uefi"]

BOOT_DEVICES: tuple[BootDevice, ...] = ("pxe", "disk", "cdrom", "bios")
BOOT_MODES: tuple[BootMode, ...] = ("bios", "uefi")

PowerListener = Callable[["VirtualMachine", PowerEvent], None]
"""Called after a power change with the machine and what happened: on, off, or reset (while on)."""


def _new_uuid() -> str:
    return str(uuidlib.uuid4())


@dataclass(eq=False)
class VirtualMachine:
    """State of one lab server; thread-safe because BMC servers and tests touch it concurrently."""

    name: str
    uuid: str = field(default_factory=_new_uuid)
    power_state: PowerState = "off"
    boot_device: BootDevice = "disk"
    boot_persistent: bool = True
    boot_mode: BootMode = "uefi"
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _listeners: list[PowerListener] = field(default_factory=list, repr=False)

    def add_listener(self, listener: PowerListener) -> None:
        """Register ``listener`` for power events; it runs on a BMC thread, so return quickly."""
        with self.lock:
            self._listeners.append(listener)

    def power(self, event: PowerEvent) -> bool:
        """Apply a power event; returns False (and changes nothing) if it does not apply.

        ``on`` when on and ``off`` when off are no-ops that return True, like a real chassis;
        ``reset`` when off returns False, because there is nothing to reset.
        """
        with self.lock:
            if event == "reset":
                if self.power_state == "off":
                    return False
            elif self.power_state == event:
                return True
            else:
                self.power_state = event
            listeners = list(self._listeners)
        # Outside the lock: a listener may take time or read the machine from another thread.
        for listener in listeners:
            listener(self, event)
        return True

    def get_power(self) -> PowerState:
        """The current power state."""
        with self.lock:
            return self.power_state

    def set_boot_device(self, device: BootDevice, persistent: bool) -> None:
        """Record the next boot device; a one-time one is consumed by :meth:`take_boot_device`."""
        if device not in BOOT_DEVICES:
            raise ValueError(f"boot device {device!r} is not one of {', '.join(BOOT_DEVICES)}")
        with self.lock:
            self.boot_device = device
            self.boot_persistent = persistent

    def get_boot_device(self) -> tuple[BootDevice, bool]:
        """The next boot device and whether it persists."""
        with self.lock:
            return self.boot_device, self.boot_persistent

    def set_boot_mode(self, mode: BootMode) -> None:
        """Switch firmware between legacy BIOS and UEFI."""
        if mode not in BOOT_MODES:
            raise ValueError(f"boot mode {mode!r} is not one of {', '.join(BOOT_MODES)}")
        with self.lock:
            self.boot_mode = mode

    def take_boot_device(self) -> BootDevice:
        """The device to boot from now; a one-time override reverts to disk, as firmware does."""
        with self.lock:
            device = self.boot_device
            if not self.boot_persistent:
                self.boot_device = "disk"
                self.boot_persistent = True
            return device
