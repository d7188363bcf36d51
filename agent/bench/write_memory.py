"""Benchmark: peak RSS of the agent process while it writes a large image (issue 6 wants < 100 MiB).

Usage: python agent/bench/write_memory.py [--size-mib 2048] [--random-mib 256] [--dir DIR]
Starts ``ingot-agent --hardware virtual`` as a child, serves a raw image (random head, zero tail)
from a local HTTP server, runs standby.prepare_image, and prints one JSON line with the child's
peak RSS (ru_maxrss after it exits) and the write statistics.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MiB = 1024 * 1024


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def post(url: str, body: object) -> dict[str, object]:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=3600) as resp:
        return dict(json.loads(resp.read()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--random-mib", type=int, default=256)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="agent-bench-"))
    www, machine = work / "www", work / "machine"
    www.mkdir(parents=True, exist_ok=True)
    machine.mkdir(parents=True, exist_ok=True)
    image = www / "big.raw"
    digest = hashlib.sha256()
    with open(image, "wb") as fh:
        block = os.urandom(MiB)
        for i in range(args.size_mib):
            chunk = block if i < args.random_mib else bytes(MiB)
            fh.write(chunk)
            digest.update(chunk)
    disk_size = (args.size_mib + 128) * MiB
    (machine / "machine.json").write_text(
        json.dumps(
            {
                "disks": [{"name": "/dev/vda", "size": disk_size}],
                "nics": [{"mac": "52:54:00:00:00:99"}],
            }
        )
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(www)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ingot_agent.cli",
            "--cmdline",
            "",
            "--hardware",
            "virtual",
            "--root-dir",
            str(machine),
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(port),
            "--standalone",
        ],
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1/commands/"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/status", timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    info = {
        "id": "big",
        "urls": [f"http://127.0.0.1:{httpd.server_address[1]}/big.raw"],
        "os_hash_algo": "sha256",
        "os_hash_value": digest.hexdigest(),
    }
    started = time.monotonic()
    result = post(
        base + "?wait=true", {"name": "standby.prepare_image", "params": {"image_info": info}}
    )
    elapsed = time.monotonic() - started
    post(base, {"name": "standby.power_off", "params": {}})
    child.wait(timeout=60)
    httpd.shutdown()
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "image_mib": args.size_mib,
                "status": result["command_status"],
                "error": result["command_error"],
                "seconds": round(elapsed, 2),
                "peak_rss_mib": round(peak_kib / 1024, 1),
                "stats": (result["command_result"] or {}).get("stats"),
            }
        )
    )
    image.unlink()
    (machine / "vda.img").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
