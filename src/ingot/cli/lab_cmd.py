"""``ingot lab up|down|status|power``: the virtual lab of servers with real BMCs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.table import Table

from ingot.errors import InvalidInput

app = typer.Typer(no_args_is_help=True, help="A virtual lab: servers with IPMI/Redfish BMCs.")
console = Console()
PID_FILE = "lab.pid"


@app.command()
def up(
    state_dir: Path = typer.Option(..., "--state-dir", help="Where the lab keeps its servers."),
    nodes: int = typer.Option(3, "--nodes", min=1, max=1000),
    bmc: str = typer.Option("ipmi", "--bmc", help="ipmi, redfish, manual or mixed."),
    boot: str = typer.Option("uefi", "--boot", help="bios, uefi or mixed (even BIOS, odd UEFI)."),
    disk_gb: float = typer.Option(None, "--disk-gb", help="Sparse disk size per server "
                                  "[default: 1, with --vm 5: the agent wants 4 GiB or more]."),
    memory_mb: str = typer.Option("2048", "--memory-mb", help="RAM per server in MiB; a "
                                  "comma-separated list is cycled over the servers (2048,4096: "
                                  "node-0 2048, node-1 4096, node-2 2048...)."),
    cpus: int = typer.Option(2, "--cpus"),
    nics: int = typer.Option(2, "--nics", min=1, max=8),
    boot_url: str = typer.Option(None, "--boot-url", help="Ingot's HTTP boot server ([deploy] "
                                 "http_url) [default: http://127.0.0.1:8088, with --vm "
                                 "http://10.231.0.1:8088 in the lab's namespace]."),
    tftp: str = typer.Option(None, "--tftp", help="Ingot's TFTP boot server, HOST:PORT "
                             "(pxelinux/GRUB configs); without it they are read over HTTP."),
    api_url: str = typer.Option(None, "--api-url", help="Agent API URL when a boot config "
                                "has no ipa-api-url (normally it has)."),
    post_seconds: float = typer.Option(1.0, "--post-seconds", help="Firmware self-test time "
                                       "between power on and booting."),
    vm: bool = typer.Option(False, "--vm", help="Real QEMU VMs on a bridge in a network "
                            "namespace, with dnsmasq (root; docs/real-machines.md)."),
    ramdisk: Path = typer.Option(None, "--ramdisk", help="With --vm: the directory of "
                                 "`ingot ramdisk build -o DIR`."),
    netns: str = typer.Option("ingot-lab", "--netns", help="With --vm: the namespace's name."),
    dhcp: str = typer.Option("lab", "--dhcp", help="With --vm: lab (the lab runs dnsmasq) or "
                             "ingot (ingot serve's [dhcp] dhcp_provider = dnsmasq does)."),
) -> None:  # fmt: skip
    """Start the lab and keep it running until `ingot lab down`, SIGTERM or Ctrl-C."""
    from ingot.lab.runner import Lab, LabConfig
    from ingot.lab.vm_servers import default_boot_url

    memory = parse_memory_mb(memory_mb)
    if disk_gb is None:
        disk_gb = 5.0 if vm else 1.0
    if boot_url is None:
        boot_url = default_boot_url() if vm else "http://127.0.0.1:8088"
    config = LabConfig(
        state_dir, nodes, bmc, boot, disk_gb, memory, cpus, nics,  # type: ignore[arg-type]
        boot_url.rstrip("/"), api_url.rstrip("/") if api_url else None, tftp, post_seconds,
        vm=vm, ramdisk=ramdisk, netns=netns, dhcp=dhcp,  # type: ignore[arg-type]
    )  # fmt: skip
    lab = Lab(config)
    pid_file = lab.dir / PID_FILE
    if _alive(pid_file):
        raise InvalidInput(f"A lab already runs in {lab.dir}; stop it with `ingot lab down`.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        lab.start()
        pid_file.write_text(str(os.getpid()))
        console.print(f"Lab with {nodes} servers is up; inventory: {lab.dir / 'inventory.json'}")
        if lab.vm:
            console.print(f"Run Ingot in its namespace: {lab.vm.describe()['serve']}")
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        lab.stop()
        pid_file.unlink(missing_ok=True)
        console.print("Lab stopped.")


def parse_memory_mb(text: str) -> list[int]:
    """``--memory-mb 2048`` or ``2048,4096`` (cycled over the servers); InvalidInput if bad."""
    from ingot.lab.runner import memory_sizes

    words = [w.strip() for w in text.split(",")]
    if not all(w.isdigit() for w in words):
        raise InvalidInput(
            f"--memory-mb {text!r}: give MiB per server as a whole number, or "
            "a comma-separated list cycled over the servers (e.g. 2048,4096)."
        )
    return memory_sizes([int(w) for w in words])


def _alive(pid_file: Path) -> int | None:
    """The PID in ``pid_file`` if that process still runs."""
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _stop_stray_agents(state_dir: Path) -> None:
    """After a SIGKILL the lab could not stop its agents (own sessions); stop them by PID."""
    try:
        data = json.loads((state_dir / "lab.json").read_text())
        machines = data["machines"]
    except (OSError, ValueError, KeyError):
        return
    if data.get("vm"):
        from ingot.lab.vm_servers import stop_stray_vms

        for line in stop_stray_vms(data):
            console.print(line)
    for machine in machines:
        pid = machine.get("agent_pid")
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if pid else b""
        except OSError:
            continue
        if b"ingot-agent" in cmdline:  # not a reused PID
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pid), signal.SIGKILL)


@app.command()
def down(
    state_dir: Path = typer.Option(..., "--state-dir"),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait before SIGKILL."),
) -> None:
    """Stop a running lab by the PID it recorded."""
    pid_file = state_dir / PID_FILE
    pid = _alive(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        console.print(f"No lab is running in {state_dir}.")
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid_file) == pid:
        time.sleep(0.1)
    if _alive(pid_file) == pid:
        console.print(f"The lab (pid {pid}) did not stop within {timeout:g} s; killing it.")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _stop_stray_agents(state_dir)
        pid_file.unlink(missing_ok=True)
    console.print("Lab stopped.")


def _lab(state_dir: Path) -> dict[str, object]:
    path = state_dir / "lab.json"
    if not path.exists():
        raise InvalidInput(f"No lab in {state_dir}: start one with `ingot lab up --state-dir`.")
    data: dict[str, object] = json.loads(path.read_text())
    return data


@app.command()
def status(state_dir: Path = typer.Option(..., "--state-dir")) -> None:
    """The lab's servers: BMC, power, boot device, agent and what booted."""
    table = Table("Name", "BMC", "Power", "Boot device", "Agent", "Booted as")
    for m in _lab(state_dir)["machines"]:  # type: ignore[attr-defined]
        bmc = m.get("bmc") or {}
        where = f"{bmc.get('type')} :{bmc.get('port')}" if bmc.get("port") else bmc.get("type")
        agent = f"pid {m['agent_pid']} :{m['agent_port']}" if m.get("agent_pid") else "-"
        booted = m.get("booted_hostname") or (m.get("last_boot") or "-")
        boot = f"{m['boot_device']}{'' if m['boot_persistent'] else ' (once)'}"
        table.add_row(m["name"], str(where), m["power_state"], boot, agent, str(booted))
    console.print(table)


@app.command()
def show(
    node: str = typer.Argument(..., help="Lab server name, e.g. node-0."),
    state_dir: Path = typer.Option(..., "--state-dir"),
    lines: int = typer.Option(15, "--lines", help="Serial log lines to show."),
) -> None:
    """One lab server: its description, what it booted, and the end of its serial log."""
    machines = {m["name"]: m for m in _lab(state_dir)["machines"]}  # type: ignore[attr-defined]
    if node not in machines:
        raise InvalidInput(f"No lab server {node!r}; the lab has {', '.join(machines)}.")
    machine = machines[node]
    table = Table("Field", "Value")
    for key, value in machine.items():
        table.add_row(key, json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    console.print(table)
    log = Path(machine["serial_log"])
    if log.exists():
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        console.print("[bold]serial log:[/bold]")
        console.print("\n".join(tail), markup=False, highlight=False)


@app.command()
def power(
    node: str = typer.Argument(..., help="Lab server name, e.g. node-0."),
    action: str = typer.Argument(..., help="on, off or reset."),
    state_dir: Path = typer.Option(..., "--state-dir"),
) -> None:
    """Press a lab server's power button (for servers without a BMC)."""
    url = _lab(state_dir)["control_url"]
    response = httpx.post(f"{url}/power/{node}", json={"action": action}, timeout=10)
    if response.status_code >= 400:
        raise InvalidInput(f"The lab refused: {response.text.strip()}")
    console.print(f"{node}: {action}")
