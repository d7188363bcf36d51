"""VirtualMachine: power events, listeners, one-time boot devices."""

from __future__ import annotations

import pytest

from ingot.lab.machine import VirtualMachine


@pytest.mark.parametrize(
    ("start", "event", "applies", "end", "notified"),
    [
        ("off", "on", True, "on", True),
        ("on", "on", True, "on", False),
        ("on", "off", True, "off", True),
        ("on", "reset", True, "on", True),
        ("off", "reset", False, "off", False),
    ],
)
def test_power_events(start: str, event: str, applies: bool, end: str, notified: bool) -> None:
    machine = VirtualMachine(name="m", power_state=start)  # type: ignore[arg-type]
    seen: list[tuple[str, str]] = []
    machine.add_listener(lambda m, e: seen.append((m.name, e)))
    assert machine.power(event) is applies  # type: ignore[arg-type]
    assert machine.get_power() == end
    assert seen == ([("m", event)] if notified else [])


def test_one_time_boot_device_is_consumed() -> None:
    machine = VirtualMachine(name="m")
    machine.set_boot_device("pxe", persistent=False)
    assert machine.take_boot_device() == "pxe"
    assert machine.get_boot_device() == ("disk", True)
    machine.set_boot_device("cdrom", persistent=True)
    assert machine.take_boot_device() == "cdrom"
    assert machine.take_boot_device() == "cdrom"


def test_bad_values_are_refused() -> None:
    machine = VirtualMachine(name="m")
    with pytest.raises(ValueError, match="floppy"):
        machine.set_boot_device("floppy", persistent=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="efi"):
        machine.set_boot_mode("efi")  # type: ignore[arg-type]


def test_each_machine_has_its_own_uuid_and_lock() -> None:
    a, b = VirtualMachine(name="a"), VirtualMachine(name="b")
    assert a.uuid != b.uuid
    assert a.lock is not b.lock
