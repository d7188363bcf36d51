"""Benchmark the agent writing images to a file-backed disk, against dd and qemu-img.

  python bench/image_stream.py --size-mib 2048 --out results.json

Makes three images in a work directory: ``random.raw`` (no zeros: the streaming throughput
case), ``sparse.raw`` (the same size, every other 64 MiB zero) and ``sparse.qcow2`` (that
image converted to qcow2). Ingot's HTTP boot server (``ingot.netboot.http``) serves them; one
``ingot-agent --hardware virtual`` process writes each with ``standby.prepare_image`` (download,
sha256, write, fsync) to its disk file, and in the same run ``dd bs=1M conv=fsync`` of the
raw bytes and ``qemu-img convert`` of the qcow2 file write the same disk file from the local
image file. Every writer starts from an empty (hole) disk file after a ``sync``; writers take
turns ``--repeat`` times and the medians count, because a shared virtual disk has slow spells.
The agent's peak RSS is its VmHWM after the last image. The agent caches a qcow2 image
before converting it; in the ramdisk that cache is in RAM (its /tmp), so here it goes to a
directory in /dev/shm (``--agent-work-dir`` to put it elsewhere, e.g. on the disk).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from ingot.netboot import http

MiB = 1024 * 1024
BLOCK = 64 * MiB
DISK = "vda.img"


def make_images(www: Path, size_mib: int) -> dict[str, str]:
    """Write the raw images (random pattern blocks, zeros) and the qcow2; returns sha256s."""
    block_size = max(MiB, min(BLOCK, size_mib * MiB // 8))  # small test images get blocks too
    pattern = os.urandom(block_size)
    digests = {}
    for name, sparse in (("random.raw", False), ("sparse.raw", True)):
        digest = hashlib.sha256()
        with open(www / name, "wb") as fh:
            for i in range(0, size_mib * MiB, block_size):
                # An 8-byte counter per block keeps blocks distinct without new entropy.
                block = bytes(block_size) if sparse and (i // block_size) % 2 else pattern
                chunk = i.to_bytes(8, "little") + block[8:] if block is pattern else block
                chunk = chunk[: size_mib * MiB - i]
                fh.write(chunk)
                digest.update(chunk)
        digests[name] = digest.hexdigest()
    qcow2 = www / "sparse.qcow2"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2",
                    str(www / "sparse.raw"), str(qcow2)], check=True)  # fmt: skip
    digests["sparse.qcow2"] = hashlib.sha256(qcow2.read_bytes()).hexdigest()
    return digests


def fresh_disk(path: Path, size: int) -> None:
    """An empty disk: one hole of ``size`` bytes, as the agent's discard leaves it."""
    with open(path, "wb") as fh:
        fh.truncate(size)
    os.sync()  # nothing earlier (image files, the last run) may still be flushing meanwhile


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def timed(cmd: list[str], disk: Path) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fsync_file(disk)
    return time.perf_counter() - started


def allocated_mib(path: Path) -> float:
    return round(os.stat(path).st_blocks * 512 / MiB, 1)


class Agent:
    """``ingot-agent --hardware virtual --standalone`` on a free loopback port."""

    def __init__(self, machine: Path, disk_size: int, work_dir: Path) -> None:
        (machine / "machine.json").write_text(json.dumps({
            "disks": [{"name": "/dev/vda", "size": disk_size}],
            "nics": [{"mac": "52:54:00:00:00:99"}]}))  # fmt: skip
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}/v1/"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ingot_agent.cli", "--cmdline", "", "--hardware", "virtual",
             "--root-dir", str(machine), "--listen-host", "127.0.0.1", "--listen-port", str(port),
             "--work-dir", str(work_dir), "--standalone"], stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.base + "status", timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("ingot-agent did not start") from None
                time.sleep(0.05)

    def command(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps({"name": name, "params": params}).encode()
        req = urllib.request.Request(self.base + "commands/?wait=true", body, method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=3600) as resp:
            return dict(json.loads(resp.read()))

    def cpu_seconds(self) -> float:
        """User + system CPU of the agent process so far (steadier than wall time)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        kib = next(int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmHWM:"))
        return round(kib / 1024, 1)

    def stop(self) -> None:
        try:
            self.command("standby.power_off", {})
            self.proc.wait(30)
        except Exception:
            self.proc.kill()
            self.proc.wait(5)


def run(
    size_mib: int,
    work: Path,
    server_chunk_kib: int = http.READ_CHUNK_BYTES // 1024,
    repeat: int = 3,
    agent_work: Path | None = None,
) -> dict[str, Any]:
    www, machine = work / "www", work / "machine"
    www.mkdir(parents=True, exist_ok=True)
    machine.mkdir(parents=True, exist_ok=True)
    digests = make_images(www, size_mib)
    disk_size = (size_mib + 64) * MiB
    disk = machine / DISK
    # What-if for the boot server's read size (Starlette's own FileResponse reads 64 KiB)
    server = http.start(http.Config(root=www, port=0, read_chunk_bytes=server_chunk_kib * 1024))
    agent_work = agent_work or machine / "work"
    agent = Agent(machine, disk_size, agent_work)
    results: dict[str, Any] = {"image_mib": size_mib, "disk": str(disk), "agent_work_dir":
                               str(agent_work), "server_chunk_kib": server_chunk_kib}  # fmt: skip
    try:
        for name, fmt in (("random.raw", "raw"), ("sparse.raw", "raw"), ("sparse.qcow2", "qcow2")):
            image = www / name
            if fmt == "raw":
                base_cmd = ["dd", f"if={image}", f"of={disk}", "bs=1M", "conv=notrunc,fsync"]
            else:
                base_cmd = ["qemu-img", "convert", "-q", "-f", "qcow2", "-O", "raw", "-n",
                            str(image), str(disk)]  # fmt: skip
            # dd of the same raw bytes is the bar for the qcow2 image too
            dd_raw = ["dd", f"if={www / 'sparse.raw'}", f"of={disk}", "bs=1M",
                      "conv=notrunc,fsync"]  # fmt: skip
            info = {"urls": [f"{server.url}/{name}"], "disk_format": fmt,
                    "os_hash_algo": "sha256", "os_hash_value": digests[name]}  # fmt: skip
            runs: dict[str, list[float]] = {"baseline": [], "dd_raw": [], "agent": [],
                                            "agent_cpu": [], "server_cpu": []}  # fmt: skip
            reply: dict[str, Any] = {}
            entry: dict[str, Any] = {"baseline": base_cmd[0]}
            for i in range(repeat):  # interleaved: a slow spell of the disk hits both
                info["id"] = f"{name}-{i}"  # a new id: the agent skips an image it has written
                fresh_disk(disk, disk_size)
                runs["baseline"].append(timed(base_cmd, disk))
                entry["baseline_allocated_mib"] = allocated_mib(disk)
                if fmt == "qcow2":
                    fresh_disk(disk, disk_size)
                    runs["dd_raw"].append(timed(dd_raw, disk))
                fresh_disk(disk, disk_size)
                cpu, server_cpu = agent.cpu_seconds(), time.process_time()
                started = time.perf_counter()
                reply = agent.command("standby.prepare_image", {"image_info": info})
                runs["agent"].append(time.perf_counter() - started)
                runs["agent_cpu"].append(agent.cpu_seconds() - cpu)
                # the boot server is a thread of this process, which otherwise only waits
                runs["server_cpu"].append(time.process_time() - server_cpu)
                if reply["command_status"] != "SUCCEEDED":
                    raise RuntimeError(f"agent failed on {name}: {reply['command_error']}")
            base_s, agent_s = statistics.median(runs["baseline"]), statistics.median(runs["agent"])
            entry.update({
                "baseline_s": round(base_s, 2),
                "agent_s": round(agent_s, 2),
                "agent_mib_s": round(size_mib / agent_s, 1),
                "baseline_mib_s": round(size_mib / base_s, 1),
                "agent_vs_baseline": round(base_s / agent_s, 2),
                "agent_cpu_s": round(statistics.median(runs["agent_cpu"]), 2),
                "server_cpu_s": round(statistics.median(runs["server_cpu"]), 2),
                "agent_allocated_mib": allocated_mib(disk),
                "agent_stats": (reply.get("command_result") or {}).get("stats"),
                "runs_s": {k: [round(v, 2) for v in vs] for k, vs in runs.items() if vs},
            })  # fmt: skip
            if runs["dd_raw"]:
                entry["dd_raw_s"] = round(statistics.median(runs["dd_raw"]), 2)
                entry["agent_vs_dd_raw"] = round(entry["dd_raw_s"] / agent_s, 2)
            results[name] = entry
        results["agent_peak_rss_mib"] = agent.peak_rss_mib()
    finally:
        agent.stop()
        server.stop()
    results["targets"] = {
        "raw_at_least_90pct_of_dd": results["random.raw"]["agent_vs_baseline"] >= 0.9,
        "sparse_raw_faster_than_dd": results["sparse.raw"]["agent_vs_baseline"] > 1,
        "qcow2_faster_than_dd": results["sparse.qcow2"]["agent_vs_dd_raw"] > 1,
        "agent_rss_under_100_mib": results["agent_peak_rss_mib"] < 100,
    }
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--dir", type=Path, help="work directory (default: a temp dir, removed)")
    ap.add_argument("--out", type=Path, help="also write the JSON result here")
    ap.add_argument("--repeat", type=int, default=3, help="runs per writer; medians count")
    ap.add_argument(
        "--agent-work-dir",
        type=Path,
        help="the agent's qcow2 cache (default: a new directory in /dev/shm, as "
        "in the ramdisk, where it is RAM; --dir's disk if there is no /dev/shm)",
    )
    ap.add_argument("--server-chunk-kib", type=int, default=http.READ_CHUNK_BYTES // 1024,
                    help="boot server read size (what-if; Starlette's own is 64)")  # fmt: skip
    args = ap.parse_args(argv)
    for tool in ("dd", "qemu-img"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed: apt-get install coreutils qemu-utils")
    work = args.dir or Path(tempfile.mkdtemp(prefix="image-bench-"))
    shm = Path("/dev/shm")
    agent_work = args.agent_work_dir or (
        Path(tempfile.mkdtemp(prefix="image-bench-agent-", dir=shm)) if shm.is_dir() else None
    )
    try:
        results = run(args.size_mib, work, args.server_chunk_kib, args.repeat, agent_work)
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
        if agent_work is not None and args.agent_work_dir is None:
            shutil.rmtree(agent_work, ignore_errors=True)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return results


if __name__ == "__main__":
    main()
