"""``make demo``: an all-in-one Ingot and a virtual lab, driven by the commands an operator types.

It starts ``ingot serve`` (SQLite, embedded boot server) and ``ingot lab up`` (virtual servers
with real IPMI BMCs and the real agent) on free loopback ports, then runs, printing each
command before it runs:

    ingot import <lab>/inventory.json --manage --inspect --provide
    ingot node set <node> --instance-info image_source=... --instance-info image_checksum=...
    ingot node deploy <nodes> --config-drive '{"meta_data": {"hostname": ...}}' --wait
    ingot lab status

and checks that every server booted from its disk as the host it was told to be. Everything
it starts is stopped by PID at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from ingot.lab.ports import free_port
from ingot.processes import stop_process_group

console = Console()
BIN = Path(sys.executable).parent


def run(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run an ``ingot`` command as the operator would, showing it first."""
    console.print(f"\n[bold cyan]$ {shlex.join(['ingot', *args])}[/bold cyan]")
    return subprocess.run([str(BIN / "ingot"), *args], env=env, check=check, text=True)


@contextmanager
def background(name: str, argv: list[str], log: Path, env: dict[str, str]) -> Iterator[None]:
    console.print(f"[dim]starting {name}: {shlex.join(argv)} (log: {log})[/dim]")
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)  # fmt: skip
    try:
        yield
    finally:
        stop_process_group(proc, timeout=20)


def wait_http(url: str, timeout: float, what: str) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not answer at {url} within {timeout:g} s")


def wait_file(path: Path, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not write {path} within {timeout:g} s")


def demo_image(path: Path) -> str:
    """A small whole-disk image (GPT + one partition); returns its sha256."""
    from ingot_agent.partition_table import create_gpt

    size = 16 * 1024 * 1024
    with open(path, "w+b") as fh:
        fh.truncate(size)
        table = create_gpt(
            fh, size, [("root", 8 * 1024 * 1024, "0FC63DAF-8483-4772-8E79-3D69D8477DE4")]
        )
        fh.seek(table.partitions[0].start * 512)
        fh.write(b"Ingot demo root filesystem\n" * 1000)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--state-dir", type=Path, default=Path("demo-state"))
    parser.add_argument("--bmc", default="mixed", choices=["ipmi", "redfish", "mixed"])
    args = parser.parse_args(argv)

    state = args.state_dir.resolve()
    shutil.rmtree(state, ignore_errors=True)
    (state / "logs").mkdir(parents=True)
    api_port, boot_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    boot_url = f"http://127.0.0.1:{boot_port}"
    env = dict(os.environ)
    env.update(
        COLUMNS=str(max(shutil.get_terminal_size().columns, 140)),
        INGOT_URL=api_url,
        INGOT_DEPLOY__HTTP_PORT=str(boot_port),
        INGOT_AGENT__POWER_OFF_TIMEOUT="15",
        INGOT_CONDUCTOR__SYNC_POWER_STATE_INTERVAL="30",
    )
    server_dir, lab_dir = state / "server", state / "lab"
    boot_root = server_dir / "boot"
    boot_root.mkdir(parents=True)
    checksum = demo_image(boot_root / "demo-image.raw")

    console.rule("[bold]Ingot demo: enroll, inspect, clean and deploy a virtual lab")
    console.print(INTRO.format(n=args.nodes))
    serve = [str(BIN / "ingot"), "serve", "--state-dir", str(server_dir), "--port", str(api_port)]
    lab = [str(BIN / "ingot"), "lab", "up", "--nodes", str(args.nodes), "--state-dir", str(lab_dir),
           "--bmc", args.bmc, "--boot-url", boot_url, "--api-url", api_url]  # fmt: skip
    with background("ingot serve", serve, state / "logs" / "serve.log", env):
        wait_http(api_url + "/", 60, "ingot serve")
        with (
            background("the lab", lab, state / "logs" / "lab.log", env),
            operator(api_url, lab_dir),
        ):
            wait_file(lab_dir / "inventory.json", 60, "ingot lab up")
            inventory = json.loads((lab_dir / "inventory.json").read_text())
            names = [n["name"] for n in inventory["nodes"]]
            run("import", str(lab_dir / "inventory.json"), "--manage", "--inspect", "--provide",
                env=env)  # fmt: skip
            run("node", "list", env=env)
            for name in names:
                run("node", "set", name,
                    "--instance-info", f"image_source={boot_url}/demo-image.raw",
                    "--instance-info", f"image_checksum={checksum}", env=env)  # fmt: skip
            for index, name in enumerate(names):
                drive = json.dumps(config_drive(name, index))
                run("node", "deploy", name, "--config-drive", drive, env=env)
            _wait_active(api_url, names)
            run("node", "list", env=env)
            run("lab", "status", "--state-dir", str(lab_dir), env=env)
            return _verify(lab_dir, names)


INTRO = (
    "This starts Ingot (API + conductor + boot server, SQLite) and a lab of {n} virtual "
    "servers on 127.0.0.1. The servers have real BMCs (IPMI and Redfish; every fourth has "
    "none and needs an operator, played here by the demo), sparse disk files, and firmware "
    "that network-boots the real ingot-agent from Ingot's boot server. Then it runs what an "
    "operator runs:\n"
    "  import the inventory -> manage (check BMCs) -> inspect (agent reports hardware) ->\n"
    "  provide (agent erases disks) -> deploy an image with a config drive -> boot from disk.\n"
)

SUMMARY = (
    "\nWhat happened: each server was enrolled from {lab}/inventory.json, verified through its "
    "BMC, network-booted the agent to report its hardware and erase its disk, received the "
    "image (streamed by the agent, checksum verified) plus a config-2 partition (hostname, SSH "
    "key, cloud-config, bond + VLAN network), and booted from its disk as that host.\n"
    "Look around: `ingot lab show node-0 --state-dir {lab}` (serial log), and the logs in "
    "{lab}/../logs."
)

DEMO_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIngotDemoKeyOnlyForTheLabXXXXXXXXXXXXXXXXX demo@ingot"
)


def config_drive(name: str, index: int) -> dict[str, object]:
    """What seed 002's operators pass: hostname, SSH key, cloud-config, bond + VLAN network."""
    return {
        "meta_data": {"hostname": f"{name}.demo.example", "public_keys": {"0": DEMO_KEY}},
        "user_data": "#cloud-config\nusers:\n  - name: ops\n    groups: [wheel]\n"
        "runcmd:\n  - [growpart, /dev/vda, '1']\n",
        "network_data": [
            {"device": "bond0", "type": "bond", "bond_mode": "1", "backend": ["eth0", "eth1"],
             "address": f"192.0.2.{10 + index}", "netmask": "255.255.255.0",
             "gateway": "192.0.2.1", "nameservers": ["192.0.2.53"]},
            {"device": "bond0.100", "type": "vlan", "backend": ["bond0"],
             "address": f"198.51.100.{10 + index}", "netmask": "255.255.255.0"},
        ],
    }  # fmt: skip


@contextmanager
def operator(api_url: str, lab_dir: Path) -> Iterator[None]:
    """Plays the operator of the servers without a BMC: reads Ingot's ACTION NEEDED
    requests and presses the lab's power button, saying so on screen."""
    import threading

    import httpx

    from ingot.client import IngotClient

    stop = threading.Event()
    actions = {"power on": "on", "power off": "off", "soft power off": "off", "rebooting": "reset"}

    def loop() -> None:
        seen: dict[str, str] = {}
        with IngotClient(api_url) as client:
            while not stop.wait(0.5):
                try:
                    nodes = client.list_nodes(detail=True, driver="manual-management")
                    lab = json.loads((lab_dir / "lab.json").read_text())
                except Exception:
                    continue
                for node in nodes:
                    request = (node.get("driver_internal_info") or {}).get("manual_power_request")
                    if not request or seen.get(node["name"]) == request.get("at"):
                        continue
                    seen[node["name"]] = request["at"]
                    action = actions.get(request.get("action"), "on")
                    console.print(
                        f'[bold yellow]operator[/]: Ingot says "{request["message"]}"'
                        f" -> pressing it: ingot lab power {node['name']} {action}"
                    )
                    httpx.post(f"{lab['control_url']}/power/{node['name']}",
                               json={"action": action}, timeout=10)  # fmt: skip

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def _wait_active(api_url: str, names: list[str]) -> None:
    from ingot.cli.progress import report_failures, wait_with_progress
    from ingot.client import IngotClient

    console.print(
        "\n[bold]Waiting for the deployments (the servers boot the agent, the image is "
        "streamed to their disks, then they boot from disk)[/bold]"
    )
    with IngotClient(api_url) as client:
        _latest, failures = wait_with_progress(client, names, "active", 600, console)
    report_failures(console, failures, "deploy")


def _verify(lab_dir: Path, names: list[str], timeout: float = 30) -> int:
    """Servers come up a little after Ingot reports them active, as real ones do: poll."""
    deadline = time.monotonic() + timeout
    while True:
        machines = json.loads((lab_dir / "lab.json").read_text()).get("machines", [])
        booted = {m.get("name"): m.get("booted_hostname") for m in machines}
        keys = {m.get("name"): m.get("booted_ssh_keys") for m in machines}
        ok = all(booted.get(n) == f"{n}.demo.example" and keys.get(n) == [DEMO_KEY] for n in names)
        if ok or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if ok:
        console.print(f"\n[bold green]All {len(names)} servers booted from disk as their hosts.[/]")
        console.print(SUMMARY.format(lab=lab_dir))
        return 0
    console.print(f"\n[bold red]Not every server came up as expected: {booted}[/]")
    return 1


if __name__ == "__main__":
    sys.exit(main())
