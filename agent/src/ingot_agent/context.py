"""What the command extensions share: config, hardware, the node as last seen, agent state."""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingot_agent.config import AgentConfig
from ingot_agent.hardware.base import HardwareManager


class LogBuffer(logging.Handler):
    """Keeps the agent's last log lines in memory for ``log.collect_system_logs``."""

    def __init__(self, lines: int = 5000) -> None:
        super().__init__()
        self.lines: collections.deque[str] = collections.deque(maxlen=lines)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@dataclass
class AgentContext:
    config: AgentConfig
    hardware: HardwareManager
    work_dir: Path
    log_buffer: LogBuffer = field(default_factory=LogBuffer)
    node: dict[str, Any] = field(default_factory=dict)
    # Set by the agent: stops serving after a power action (the process would die with the box).
    stop: Callable[[], None] = lambda: None
    partition_uuids: dict[str, Any] = field(default_factory=dict)
    cached_image_id: str | None = None
    root_device: dict[str, Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update_node(self, node: Any) -> None:
        """Ironic sends the node with step commands; keep the freshest copy for hints."""
        if isinstance(node, dict) and node:
            with self.lock:
                self.node = node

    def root_device_hints(self) -> dict[str, Any]:
        props = self.node.get("properties") or {}
        hints = props.get("root_device") or {}
        return dict(hints) if isinstance(hints, dict) else {}

    @property
    def min_root_size(self) -> int:
        # Lab disks are small files; real servers skip USB sticks and SD cards under 4 GiB.
        return 1024 * 1024 if self.hardware.name == "virtual" else 4 * 1024**3
