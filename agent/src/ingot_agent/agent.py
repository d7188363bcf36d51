"""The agent process: serve the command API, report inspection data, look up, heartbeat."""

from __future__ import annotations

import logging
import random
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingot_agent.commands import CommandRunner
from ingot_agent.config import AgentConfig
from ingot_agent.context import AgentContext
from ingot_agent.errors import AgentError, HeartbeatError
from ingot_agent.extensions import register_all
from ingot_agent.hardware.base import HardwareManager
from ingot_agent.hardware.root_device import select_root_device
from ingot_agent.http_api import AgentApi, ApiServer
from ingot_agent.ironic_client import IronicClient, post_inspection

LOG = logging.getLogger(__name__)
DEFAULT_HEARTBEAT_TIMEOUT = 300.0


class Agent:
    """One agent. ``run()`` for the CLI; ``start()``/``connect()``/``stop()`` for tests."""

    def __init__(self, config: AgentConfig, hardware: HardwareManager, work_dir: Path) -> None:
        self.config = config
        self.ctx = AgentContext(config=config, hardware=hardware, work_dir=Path(work_dir))
        self.ctx.stop = self.stop
        # The buffer keeps INFO lines for log.collect_system_logs whatever stderr shows.
        pkg_logger = logging.getLogger("ingot_agent")
        pkg_logger.addHandler(self.ctx.log_buffer)
        if pkg_logger.getEffectiveLevel() > logging.INFO:
            pkg_logger.setLevel(logging.INFO)
        self.runner = CommandRunner(on_async_done=self.force_heartbeat)
        register_all(self.runner, self.ctx)
        self.api = AgentApi(self.runner)
        self.api.agent_token = config.agent_token
        self.server = ApiServer(self.api, config.listen_host, config.listen_port)
        self.client = (
            IronicClient(config.api_url, config.insecure, config.global_request_id)
            if config.api_url
            else None
        )
        self.node_uuid: str | None = None
        self.heartbeat_timeout = DEFAULT_HEARTBEAT_TIMEOUT
        self.heartbeats_sent = 0
        self.last_heartbeat_error: str | None = None
        self._stopped = threading.Event()
        self._beat_now = threading.Event()
        self._hb_thread: threading.Thread | None = None

    @property
    def callback_url(self) -> str:
        host = self.config.advertise_host or self._guess_advertise_host()
        port = self.config.advertise_port or self.server.port
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def _guess_advertise_host(self) -> str:
        """The local address that routes to the API (a UDP connect sends nothing), as IPA does."""
        if self.config.listen_host not in ("0.0.0.0", "::", ""):
            return self.config.listen_host
        if self.config.api_url:
            target = urlsplit(self.config.api_url)
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.connect((target.hostname or "127.0.0.1", target.port or 80))
                    return str(sock.getsockname()[0])
            except OSError:
                pass
        return "127.0.0.1"

    def start(self) -> None:
        self.server.start()

    def inspection_data(self) -> dict[str, Any]:
        hw = self.ctx.hardware
        inventory = hw.get_inventory(self.config.boot_mac)
        try:
            root = select_root_device(hw.list_block_devices(), None, self.ctx.min_root_size)
            root_disk: dict[str, Any] | None = root.to_inventory()
        except AgentError:
            root_disk = None
        return {
            "inventory": inventory,
            "root_disk": root_disk,
            "boot_interface": self.config.boot_mac,
            "configuration": {
                "collectors": ["default"],
                "managers": [{"name": hw.name, "version": hw.version}],
            },
        }

    def _send_inspection_data(self, attempts: int = 10) -> None:
        """POST the inventory, retrying: the conductor may still be setting the node to
        ``inspect wait`` (409/404) or be briefly unreachable when the ramdisk is fast."""
        url = self.config.inspection_callback_url
        assert url is not None
        for attempt in range(1, attempts + 1):
            try:
                post_inspection(url, self.inspection_data(), self.config.insecure)
                LOG.info("inspection data sent to %s", url)
                return
            except OSError as exc:
                LOG.warning("sending inspection data to %s failed (try %d): %s", url, attempt, exc)
                if self._stopped.wait(min(2.0 * attempt, 10.0)):
                    return
        LOG.error("giving up sending inspection data to %s", url)

    def connect(self) -> None:
        """Post inspection data when asked, then look the node up (blocking, bounded)."""
        if self.config.inspection_callback_url:
            self._send_inspection_data()
        if self.client is None or self.config.standalone:
            return
        macs = [i.mac_address for i in self.ctx.hardware.list_network_interfaces()]
        found = self.client.lookup(
            macs, self.config.node_uuid, self.config.lookup_timeout, self.config.lookup_interval
        )
        node = found["node"]
        self.node_uuid = str(node["uuid"])
        self.ctx.update_node(node)
        cfg = found.get("config") or {}
        self.heartbeat_timeout = float(cfg.get("heartbeat_timeout") or DEFAULT_HEARTBEAT_TIMEOUT)
        token = self.client.agent_token
        if token and token != "******":  # masked: issued to an earlier agent boot
            self.api.agent_token = token
        elif self.config.agent_token:
            self.client.agent_token = self.config.agent_token
        LOG.info("node %s found; heartbeat timeout %.0fs", self.node_uuid, self.heartbeat_timeout)
        self._hb_thread = threading.Thread(
            target=self._heartbeat_loop, name="heartbeat", daemon=True
        )
        self._hb_thread.start()

    def _interval(self) -> float:
        if self.config.heartbeat_interval:
            return self.config.heartbeat_interval
        # IPA heartbeats at a random 0.3-0.6 of the timeout so many nodes do not align.
        return self.heartbeat_timeout * random.uniform(0.3, 0.6)

    def _heartbeat_loop(self) -> None:
        assert self.client is not None and self.node_uuid is not None
        while not self._stopped.is_set():
            wait = self._interval()
            try:
                self.client.heartbeat(self.node_uuid, self.callback_url)
                self.heartbeats_sent += 1
                self.last_heartbeat_error = None
            except HeartbeatError as exc:
                self.last_heartbeat_error = exc.details
                LOG.warning("%s", exc.details)
                wait = min(wait, 5.0)
            self._beat_now.wait(wait)
            self._beat_now.clear()

    def force_heartbeat(self) -> None:
        """Heartbeat now (after an async command ends, so the conductor reacts at once)."""
        self._beat_now.set()

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._beat_now.set()
        self.server.stop()
        if self._hb_thread is not None and self._hb_thread is not threading.current_thread():
            self._hb_thread.join(timeout=5)
        logging.getLogger("ingot_agent").removeHandler(self.ctx.log_buffer)

    def wait(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    def run(self) -> None:
        """Serve until a power action or a signal stops the agent."""
        self.start()
        try:
            self.connect()
            while not self._stopped.wait(1.0):
                pass
        finally:
            self.stop()
