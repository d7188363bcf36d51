"""Benchmark the lab at scale: N servers deployed end to end, and power sync of many IPMI nodes.

  python bench/lab_scale.py --nodes 100 --out lab100.json            # end to end
  python bench/lab_scale.py --power-sync 10000 --out sync10k.json    # one power-sync pass

End to end (``--nodes N``): ``ingot serve`` (SQLite, embedded HTTP boot server) and a virtual
lab of N servers with IPMI BMCs (:class:`ingot.lab.runner.Lab`, in this process) on loopback
ports in a temp dir. ``ingot import inventory.json --manage --provide`` enrolls them (automated
cleaning off unless ``--clean``), then every node gets a whole-disk image (``--image-mib``,
GPT, random bytes, sha256) and a deploy with a config drive, 16 requests at a time. Each
server PXE-boots over HTTP, runs the real ``ingot-agent``, which streams the image, writes the
config drive, and powers off; Ingot boots it from disk, where the lab reads the config drive.
One poller lists the nodes every ``--poll-interval`` s and notes when each node is first seen in
each state; the lab is watched for the disk boot. Reported: time to all ``active`` (and to all
booted from disk), per-phase medians, and peak memory of every process involved.

Power sync (``--power-sync N``, repeatable): ``--bmcs`` virtual IPMI BMCs, 100 per child
process (pyghmi waits with ``select()``, which takes FDs below 1,024, and its I/O thread tries
every socket of the process per packet), and N ``ipmi`` nodes pointing at them round robin (so
with fewer BMCs than nodes several nodes share one; each read is still a full login, command
and logout), all recorded ``power off`` like the machines. One ``sync_power_states`` pass runs
on an in-process conductor (``all_in_one``), timed. ``--drift K`` records K nodes as
``power on`` with forcing off, so the pass also corrects K records.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingot.lab.ports import free_port
from ingot.processes import stop_process_group

MIB = 1024 * 1024
BMCS_PER_PROCESS = 100
BIN = Path(sys.executable).parent
LINUX_GUID = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKeyForIngotLabScaleOnlyXXXXXXXXXXXXX bench@lab"
HEADERS = {"X-OpenStack-Ironic-API-Version": "latest"}
FAILED = {"deploy failed", "error", "clean failed"}
FIELDS = "name,provision_state,target_provision_state,reservation,last_error"
PHASES = [
    # (phase, from mark, to mark); marks are first sightings of a state, or lab events
    ("request to wait call-back", "requested", "wait call-back"),
    ("agent boot (POST, PXE, agent, lookup)", "wait call-back", "deploying-2"),
    ("image + config drive + reboot", "deploying-2", "active"),
    ("disk boot seen by the lab", "active", "booted"),
    ("request to active", "requested", "active"),
]


# --- processes and memory ----------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _mem_used_mib() -> float:
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, value = line.split(":", 1)
        info[key] = int(value.split()[0])
    return (info["MemTotal"] - info["MemAvailable"]) / 1024


class MemorySampler:
    """Samples, four times a second, the RSS of this process and all its descendants (``ingot
    serve``, the agents) and the machine's used memory; keeps the peaks. (Once a second missed
    every agent of a 2-server run: an agent now lives under a second.)"""

    def __init__(self, serve_pid: int, agents: Any) -> None:
        self.serve_pid, self.agents = serve_pid, agents
        self.baseline_used = _mem_used_mib()
        self.peak: dict[str, float] = {"total_rss_mib": 0, "agents_rss_mib": 0, "agents": 0,
                                       "system_used_delta_mib": 0}  # fmt: skip
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-memory")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.sample()

    def sample(self) -> None:
        total = sum(_status_kib(p, "VmRSS:") for p in _tree(os.getpid())) / 1024
        pids = [p for p in self.agents() if p]
        agents = sum(_status_kib(p, "VmRSS:") for p in pids) / 1024
        used = _mem_used_mib() - self.baseline_used
        for key, value in (("total_rss_mib", total), ("agents_rss_mib", agents),
                           ("agents", len(pids)), ("system_used_delta_mib", used)):  # fmt: skip
            self.peak[key] = max(self.peak[key], round(value, 1))

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join(5)
        return {**self.peak, "serve_peak_rss_mib": round(_status_kib(self.serve_pid, "VmHWM:")
                                                        / 1024, 1)}  # fmt: skip


@contextmanager
def ingot_serve(workdir: Path, env: dict[str, str]) -> Iterator[tuple[str, str, Any]]:
    """``ingot serve`` with its boot server on free loopback ports; yields (api, boot, proc)."""
    port, boot_port = free_port(), free_port()
    state = workdir / "server"
    (state / "boot").mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "INGOT_DEPLOY__HTTP_PORT": str(boot_port), **env}
    cmd = [str(BIN / "ingot"), "serve", "--state-dir", str(state), "--port", str(port)]
    with open(workdir / "server.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env,
                                start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "ingot serve did not start:\n"
                        + (workdir / "server.log").read_text()[-3000:]
                    ) from None
                time.sleep(0.1)
        yield url, f"http://127.0.0.1:{boot_port}", proc
    finally:
        stop_process_group(proc)


# --- end to end -------------------------------------------------------------------------------


def make_image(path: Path, mib: int) -> str:
    """A whole-disk image: GPT, one Linux partition filled with random bytes; its sha256."""
    from ingot_agent.partition_table import create_gpt

    size = mib * MIB
    with open(path, "w+b") as fh:
        fh.truncate(size)
        table = create_gpt(fh, size, [("root", size - 2 * MIB, LINUX_GUID)])
        part = table.partitions[0]
        fh.seek(part.start * 512)
        rng = random.Random(13)
        left = part.sectors * 512
        while left > 0:
            chunk = min(left, 4 * MIB)
            fh.write(rng.randbytes(chunk))
            left -= chunk
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(4 * MIB):
            digest.update(block)
    return digest.hexdigest()


def config_drive(name: str, macs: list[str], index: int) -> dict[str, Any]:
    """Hostname, SSH key, cloud-config and a bond of the server's two NICs with a static IP."""
    links: list[dict[str, Any]] = [
        {"id": f"eth{i}", "type": "phy", "ethernet_mac_address": mac} for i, mac in enumerate(macs)
    ]
    links.append({"id": "bond0", "type": "bond", "bond_links": [x["id"] for x in links],
                  "bond_mode": "active-backup", "ethernet_mac_address": macs[0]})  # fmt: skip
    return {
        "meta_data": {"hostname": f"{name}.bench.test", "public_keys": {"0": SSH_KEY}},
        "user_data": f"#cloud-config\nfqdn: {name}.bench.test\n",
        "network_data": {
            "links": links,
            "networks": [{"id": "net0", "type": "ipv4", "link": "bond0",
                          "ip_address": f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}",
                          "netmask": "255.0.0.0"}],
            "services": [{"type": "dns", "address": "192.0.2.53"}],
        },
    }  # fmt: skip


class Watcher:
    """Polls the node list and the lab; notes the first time each node is seen in each mark."""

    def __init__(self, http: Any, lab: Any, interval: float) -> None:
        self.http, self.lab, self.interval = http, lab, interval
        self.marks: dict[str, dict[str, float]] = {s.name: {} for s in lab.servers}
        self.last: dict[str, dict[str, Any]] = {}
        self.t0 = time.monotonic()

    def mark(self, name: str, what: str, at: float | None = None) -> None:
        self.marks[name].setdefault(what, (at or time.monotonic()) - self.t0)

    def poll(self) -> None:
        path: str | None = f"/v1/nodes?fields={FIELDS}&limit=1000"
        while path:
            body = self.http.get(path).json()
            for node in body["nodes"]:
                name, state = node["name"], node["provision_state"]
                if name not in self.marks:
                    continue
                self.last[name] = node
                seen = self.marks[name]
                if state == "deploying" and "wait call-back" in seen:
                    self.mark(name, "deploying-2")
                elif state == "active" and node["reservation"] is None:
                    self.mark(name, "active")
                elif state != "active":
                    self.mark(name, state)
            nxt = body.get("next")
            path = nxt[nxt.index("/v1/") :] if nxt else None
        for server in self.lab.servers:
            if server.booted_hostname == f"{server.name}.bench.test":
                self.mark(server.name, "booted")

    def wait(self, what: str, timeout: float) -> float:
        """Poll until every node has mark ``what`` or failed; seconds since t0."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            failed = {
                n: (b["provision_state"], b["last_error"])
                for n, b in self.last.items()
                if b["provision_state"] in FAILED and b["target_provision_state"] is None
            }
            if failed:
                raise RuntimeError(f"{len(failed)} nodes failed, e.g. {next(iter(failed.items()))}")
            if all(what in m for m in self.marks.values()):
                return max(m[what] for m in self.marks.values())
            if time.monotonic() > deadline:
                missing = [n for n, m in self.marks.items() if what not in m]
                raise TimeoutError(f"{len(missing)} nodes not {what} after {timeout:g} s: "
                                   f"{ {n: self.last.get(n) for n in missing[:3]} }")  # fmt: skip
            time.sleep(self.interval)

    def phases(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for phase, start, end in PHASES:
            spans = [m[end] - m[start] for m in self.marks.values() if start in m and end in m]
            if spans:
                out[phase] = {"median_s": round(statistics.median(spans), 2),
                              "max_s": round(max(spans), 2), "nodes": len(spans)}  # fmt: skip
        return out


def run_import(api_url: str, inventory: Path, nodes: int) -> float:
    started = time.monotonic()
    env = {**os.environ, "INGOT_URL": api_url, "COLUMNS": "200"}
    done = subprocess.run([str(BIN / "ingot"), "import", str(inventory), "--manage", "--provide",
                           "--concurrency", str(min(nodes, 100))],
                          capture_output=True, text=True, env=env, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"ingot import failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.monotonic() - started


def lab_run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """N servers: import, manage, provide, then deploy them all; see the module docstring."""
    import httpx

    from ingot.lab.runner import Lab, LabConfig

    env = {
        "INGOT_CONDUCTOR__AUTOMATED_CLEAN": "true" if args.clean else "false",
        "INGOT_CONDUCTOR__DEPLOY_CALLBACK_TIMEOUT": str(args.timeout),
        "INGOT_CONDUCTOR__CLEAN_CALLBACK_TIMEOUT": str(args.timeout),
    }
    result: dict[str, Any] = {"nodes": args.nodes, "image_mib": args.image_mib,
                              "automated_clean": args.clean}  # fmt: skip
    with ingot_serve(workdir, env) as (api_url, boot_url, serve):
        checksum = make_image(workdir / "server" / "boot" / "bench.raw", args.image_mib)
        disk_gb = max(0.25, (args.image_mib + 64 + 16) / 1024)  # image + config drive + slack
        config = LabConfig(state_dir=workdir / "lab", nodes=args.nodes, bmc="ipmi",
                           boot_url=boot_url, api_url=api_url, disk_gb=disk_gb,
                           post_seconds=args.post_seconds)  # fmt: skip
        lab = Lab(config)
        sampler = MemorySampler(serve.pid, lambda: [s.agent.pid for s in lab.servers
                                                    if getattr(s, "agent", None)])  # fmt: skip
        try:
            lab.start()
            with httpx.Client(base_url=api_url, headers=HEADERS, timeout=120) as http:
                result["import_manage_provide_s"] = round(
                    run_import(api_url, lab.dir / "inventory.json", args.nodes), 2
                )
                watcher = Watcher(http, lab, args.poll_interval)
                deploy = {s.name: (s.spec.macs, i) for i, s in enumerate(lab.servers)}

                def one(name: str) -> None:
                    macs, index = deploy[name]
                    info = {"image_source": f"{boot_url}/bench.raw", "image_checksum": checksum}
                    r = http.patch(f"/v1/nodes/{name}", json=[
                        {"op": "add", "path": "/instance_info", "value": info}])  # fmt: skip
                    r.raise_for_status()
                    watcher.mark(name, "requested")
                    r = http.put(
                        f"/v1/nodes/{name}/states/provision",
                        json={"target": "active", "configdrive": config_drive(name, macs, index)},
                    )
                    if r.status_code != 202:
                        raise RuntimeError(f"deploy {name}: {r.status_code} {r.text}")

                with concurrent.futures.ThreadPoolExecutor(16) as pool:
                    list(pool.map(one, deploy))
                result["requests_s"] = round(time.monotonic() - watcher.t0, 2)
                result["all_active_s"] = round(watcher.wait("active", args.timeout), 2)
                result["all_booted_s"] = round(watcher.wait("booted", 120), 2)
                result["phases"] = watcher.phases()
        finally:
            result["memory"] = sampler.stop()
            lab.stop()
    result["target_met"] = args.nodes < 100 or result.get("all_active_s", 1e9) < 180
    return result


# --- power sync ---------------------------------------------------------------------------


def serve_bmcs(count: int) -> None:
    """Child process: ``count`` virtual IPMI BMCs; prints their ports, serves until stdin ends."""
    from ingot.lab.bmc.ipmi import start_ipmi_bmcs
    from ingot.lab.machine import VirtualMachine

    machines = [VirtualMachine(name=f"bmc-{i}") for i in range(count)]
    server = start_ipmi_bmcs([(m, 0) for m in machines], "admin", "password")
    print(json.dumps([server.port_of(m) for m in machines]), flush=True)
    sys.stdin.read()
    server.stop()


def enroll_ipmi(services: Any, app: Any, nodes: int, ports: list[int], drift: int) -> None:
    """One node through the API (so every default is Ingot's), then ``nodes - 1`` copies of it
    inserted in bulk, each with its own UUID, name and BMC port."""
    import uuid as uuidlib

    from fastapi.testclient import TestClient
    from sqlalchemy import insert, select, update

    from ingot.db import models

    def info(i: int) -> dict[str, Any]:
        return {"ipmi_address": "127.0.0.1", "ipmi_port": ports[i % len(ports)],
                "ipmi_username": "admin", "ipmi_password": "password"}  # fmt: skip

    with TestClient(app, headers=HEADERS) as client:
        r = client.post(
            "/v1/nodes", json={"driver": "ipmi", "name": "sync-0", "driver_info": info(0)}
        )
        r.raise_for_status()
    table = models.Node.__table__

    def write(session: Any) -> None:
        row = dict(session.execute(select(table).where(table.c.name == "sync-0")).mappings().one())
        row.pop("id")
        batch = []
        for i in range(1, nodes):
            batch.append({**row, "uuid": str(uuidlib.uuid4()), "name": f"sync-{i}",
                          "driver_info": info(i)})  # fmt: skip
            if len(batch) == 1000 or i == nodes - 1:
                session.execute(insert(table), batch)
                batch = []
        session.execute(update(table).values(provision_state="available", power_state="power off"))
        if drift:
            names = [f"sync-{i}" for i in range(drift)]
            session.execute(update(table).where(table.c.name.in_(names))
                            .values(power_state="power on"))  # fmt: skip

    services.db.run_write(write)


def power_sync_run(nodes: int, bmcs: int, drift: int, workdir: Path) -> dict[str, Any]:
    from sqlalchemy import func, select

    from ingot.app_runtime import all_in_one
    from ingot.conductor import periodics
    from ingot.db import models
    from ingot.settings import load_settings

    bmcs = min(bmcs, nodes)
    # pyghmi's I/O thread tries every socket of its process after each wake-up, so one
    # process serving 1,000 BMCs answers ten times slower than ten processes of 100: shard,
    # as real BMCs are separate machines.
    shards = [min(BMCS_PER_PROCESS, bmcs - i) for i in range(0, bmcs, BMCS_PER_PROCESS)]
    children = [subprocess.Popen([sys.executable, __file__, "--serve-bmcs", str(count)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 start_new_session=True) for count in shards]  # fmt: skip
    try:
        ports = [port for child in children for port in json.loads(_readline(child))]
        settings = load_settings(
            default={"state_dir": workdir / f"sync-{nodes}"},
            conductor={
                "sync_power_state_interval": 0,
                "check_provision_state_interval": 0,
                "force_power_state_during_sync": drift == 0,
            },
            ipmi={"command_retry_timeout": 10},
        )
        with all_in_one(settings) as (services, conductor, app):
            started = time.monotonic()
            enroll_ipmi(services, app, nodes, ports, drift)
            enrolled = time.monotonic() - started
            cpu0 = time.process_time()
            started = time.monotonic()
            conductor.call(periodics.sync_power_states(conductor), timeout=3600)
            took = time.monotonic() - started
            cpu = time.process_time() - cpu0
            with services.db.read() as session:
                on = session.scalar(select(func.count()).where(
                    models.Node.power_state == "power on"))  # fmt: skip
        return {"nodes": nodes, "bmcs": bmcs, "drift": drift, "enroll_s": round(enrolled, 2),
                "sync_s": round(took, 2), "ms_per_node": round(took * 1000 / nodes, 2),
                "process_cpu_s": round(cpu, 1), "still_recorded_on": on,
                "target_met": took <= 120 * nodes / 10000}  # fmt: skip
    finally:
        for child in children:
            if child.stdin:
                child.stdin.close()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                stop_process_group(child)


def _readline(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        raise RuntimeError(f"the BMC process {child.pid} exited before listing its ports")
    return line


# --- command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=0, help="lab servers to deploy end to end")
    ap.add_argument("--image-mib", type=int, default=64)
    ap.add_argument("--clean", action="store_true", help="automated cleaning on (default off)")
    ap.add_argument("--post-seconds", type=float, default=1.0, help="lab firmware POST time")
    ap.add_argument("--poll-interval", type=float, default=0.25)
    ap.add_argument("--timeout", type=float, default=1200, help="seconds for all to be active")
    ap.add_argument("--power-sync", type=int, action="append", default=[],
                    help="IPMI nodes for one timed power-sync pass (repeatable)")  # fmt: skip
    ap.add_argument("--bmcs", type=int, default=500, help="virtual BMCs the nodes share")
    ap.add_argument("--drift", type=int, default=0, help="nodes whose record the sync corrects")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, lab)")
    ap.add_argument("--out", type=Path, help="also write the JSON result here")
    ap.add_argument("--serve-bmcs", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve_bmcs:
        serve_bmcs(args.serve_bmcs)
        return {}
    if args.bmcs < 1:
        ap.error("--bmcs: at least 1")
    workdir = Path(tempfile.mkdtemp(prefix="ingot-lab-bench-"))
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                              "cpus": os.cpu_count(), "workdir": str(workdir)}  # fmt: skip
    try:
        if args.nodes:
            result["end_to_end"] = lab_run(args, workdir)
        result["power_sync"] = [
            power_sync_run(n, args.bmcs, args.drift, workdir) for n in args.power_sync
        ]
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
