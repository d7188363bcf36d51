"""``ingot-agent``: the only place that reads argv, the environment and /proc/cmdline."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from ingot_agent import __version__
from ingot_agent.agent import Agent
from ingot_agent.config import AgentConfig, config_from_cmdline
from ingot_agent.errors import AgentError
from ingot_agent.hardware.base import HardwareManager


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="ingot-agent", description=__doc__)
    p.add_argument("--version", action="version", version=__version__)
    p.add_argument(
        "--cmdline",
        default=env("INGOT_AGENT_CMDLINE"),
        help="kernel command line text (default: read /proc/cmdline)",
    )
    p.add_argument("--cmdline-file", default="/proc/cmdline")
    p.add_argument("--api-url", default=env("INGOT_AGENT_API_URL"))
    p.add_argument("--listen-host", default=env("INGOT_AGENT_LISTEN_HOST"))
    p.add_argument("--listen-port", type=int, default=env("INGOT_AGENT_LISTEN_PORT"))
    p.add_argument("--advertise-host", default=env("INGOT_AGENT_ADVERTISE_HOST"))
    p.add_argument("--advertise-port", type=int, default=None)
    p.add_argument("--node-uuid", default=env("INGOT_AGENT_NODE_UUID"))
    p.add_argument("--boot-mac", default=None, help="boot NIC MAC (else from BOOTIF)")
    p.add_argument(
        "--hardware", choices=("linux", "virtual"), default=env("INGOT_AGENT_HARDWARE", "linux")
    )
    p.add_argument(
        "--root-dir",
        default=env("INGOT_AGENT_ROOT_DIR"),
        help="virtual hardware: directory holding machine.json and the disk files",
    )
    p.add_argument("--work-dir", default=None, help="cache for qcow2 images (default: tmp)")
    p.add_argument("--heartbeat-interval", type=float, default=None)
    p.add_argument("--lookup-timeout", type=float, default=None)
    p.add_argument("--inspection-callback-url", default=None)
    p.add_argument("--insecure", action="store_true", default=None)
    p.add_argument("--standalone", action="store_true", default=None)
    p.add_argument("--debug", action="store_true", default=None)
    return p


def make_config(args: argparse.Namespace) -> AgentConfig:
    """Kernel command line first, then explicit flags/env override it."""
    text = args.cmdline
    if text is None:
        try:
            text = Path(args.cmdline_file).read_text()
        except OSError:
            text = ""
    values: dict[str, Any] = config_from_cmdline(text)
    flags = {
        "api_url": args.api_url,
        "listen_host": args.listen_host,
        "listen_port": args.listen_port,
        "advertise_host": args.advertise_host,
        "advertise_port": args.advertise_port,
        "node_uuid": args.node_uuid,
        "boot_mac": args.boot_mac.lower() if args.boot_mac else None,
        "hardware": args.hardware,
        "root_dir": Path(args.root_dir) if args.root_dir else None,
        "heartbeat_interval": args.heartbeat_interval,
        "lookup_timeout": args.lookup_timeout,
        "inspection_callback_url": args.inspection_callback_url,
        "insecure": args.insecure,
        "standalone": args.standalone,
        "debug": args.debug,
    }
    values.update({k: v for k, v in flags.items() if v is not None})
    if isinstance(values.get("listen_port"), str):
        values["listen_port"] = int(values["listen_port"])
    return AgentConfig(**values)


def make_hardware(config: AgentConfig) -> HardwareManager:
    if config.hardware == "virtual":
        if config.root_dir is None:
            raise SystemExit("--hardware virtual needs --root-dir DIR (with DIR/machine.json)")
        from ingot_agent.hardware.virtual import VirtualHardwareManager

        return VirtualHardwareManager(config.root_dir)
    from ingot_agent.hardware.linux import GenericHardwareManager

    return GenericHardwareManager()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = make_config(args)
    logging.basicConfig(
        level=logging.DEBUG if config.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    try:
        hardware = make_hardware(config)
        work = (
            Path(args.work_dir)
            if args.work_dir
            else (
                config.root_dir / "work"
                if config.root_dir
                else Path(tempfile.mkdtemp("ingot-agent"))
            )
        )
        agent = Agent(config, hardware, work)
    except AgentError as exc:
        logging.error("%s", exc.details)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)  # unwinds lookup retries too, then stop()
    try:
        agent.run()
    except AgentError as exc:
        logging.error("%s", exc.details)
        return 1
    except KeyboardInterrupt:
        agent.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
