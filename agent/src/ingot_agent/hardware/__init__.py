"""Hardware managers: the real machine (``linux``) and the lab's described machine (``virtual``)."""

from ingot_agent.hardware.base import (
    BlockDevice,
    BootInfo,
    Cpu,
    HardwareManager,
    Memory,
    NetworkInterface,
    SystemVendor,
)

__all__ = [
    "BlockDevice",
    "BootInfo",
    "Cpu",
    "HardwareManager",
    "Memory",
    "NetworkInterface",
    "SystemVendor",
]
