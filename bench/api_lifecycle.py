"""Benchmark the Ironic v1 API of any endpoint: enroll, list, and the whole node lifecycle.

Talks nothing but the Ironic v1 API over HTTP, so the same command measures Ingot and a real
Ironic (issue 13 quotes Ironic 39.0.0 at N=1000, C=16 on 2 cores: enroll 14 nodes/s,
``GET /v1/nodes/detail`` 662 ms, lifecycle 577 s, 363 MB).

  python bench/api_lifecycle.py --start-ingot --nodes 1000 --concurrency 16 --out r.json
  python bench/api_lifecycle.py --endpoint http://ironic:6385 --token T --server-pid 1234 ...
  bash scripts/with-postgres.sh python bench/api_lifecycle.py --start-cluster 3 ...
  python bench/api_lifecycle.py --start-ingot --nodes 10000 --phases enroll,list  # list only

``--start-cluster N`` runs one ``ingot api`` and N ``ingot conductor`` processes on a fresh
database of the PostgreSQL server at ``--pg-url`` (default ``$INGOT_TEST_PG_URL``, which
scripts/with-postgres.sh sets) instead of one ``ingot serve`` on SQLite (bench/cluster.py).

Phases: enroll N ``fake-hardware`` nodes with one port each (C requests in flight); list them
all with ``/v1/nodes/detail`` following ``next`` links; then manage, provide, deploy and
undeploy all N: C client threads send the verb to every node (retrying 409 NodeLocked and
503 busy), and one poller lists ``uuid,provision_state,...`` page by page until every node
has settled, so waiting costs N/1000 requests a round whatever N is. Peak server memory is
the kernel's high-water mark (VmHWM) of the server PIDs and their children.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

try:  # the client's parser for the list figure; the stdlib's time is reported beside it
    import orjson

    parse_json: Callable[[bytes], Any] = orjson.loads
    PARSER = "orjson"
except ImportError:  # pragma: no cover - orjson is an Ingot dependency
    parse_json = json.loads
    PARSER = "json"

IRONIC = {
    "enroll_nodes_per_s": 14.0,
    "list_detail_ms": 662.0,
    "lifecycle_s": 577.0,
    "peak_rss_mib": 363.0 * 1e6 / 2**20,
}
PHASES = [
    ("manage", "manageable"),
    ("provide", "available"),
    ("active", "active"),
    ("deleted", "available"),
]
FAILED = {"enroll", "error", "deploy failed", "clean failed", "inspect failed"}
POLL_FIELDS = "uuid,provision_state,target_provision_state,reservation,last_error"


class Api:
    """A small keep-alive Ironic client, one HTTP connection per thread."""

    def __init__(self, endpoint: str, token: str | None = None, timeout: float = 120) -> None:
        parts = urlsplit(endpoint)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 6385
        self.https = parts.scheme == "https"
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.headers = {
            "X-OpenStack-Ironic-API-Version": "latest",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if token:
            self.headers["X-Auth-Token"] = token
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request; reconnects once if the server closed the kept-alive connection."""
        status, raw, _ = self.request_raw(method, path, body)
        return status, (json.loads(raw) if raw else None)

    def request_raw(
        self, method: str, path: str, body: Any = None
    ) -> tuple[int, bytes, tuple[float, float]]:
        """:meth:`request` without parsing: the status, the body, and the seconds from
        sending to the response headers and to the body's last byte."""
        data = None if body is None else json.dumps(body).encode()
        url = path if path.startswith(self.prefix + "/") else self.prefix + path
        for attempt in (1, 2):
            conn = self._conn()
            try:
                started = time.perf_counter()
                conn.request(method, url, body=data, headers=self.headers)
                resp = conn.getresponse()
                headers = time.perf_counter()
                raw = resp.read()
                last = time.perf_counter()
                break
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        return resp.status, raw, (headers - started, last - started)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        ok: Iterable[int] = (200,),
        retry_for: float = 300,
    ) -> Any:
        """A request that retries 409 (node locked) and 503 (conductor busy) with backoff."""
        deadline, delay = time.monotonic() + retry_for, 0.02
        while True:
            status, payload = self.request(method, path, body)
            if status in ok:
                return payload
            if status not in (409, 503) or time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path} -> {status}: {payload}")
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def pages(self, path: str) -> Iterable[dict[str, Any]]:
        """Every item of a list, following Ironic's ``next`` links."""
        while path:
            payload = self.call("GET", path)
            yield from payload["nodes"]
            nxt = payload.get("next")
            path = "" if not nxt else urlsplit(nxt).path + "?" + urlsplit(nxt).query


def run_pool(concurrency: int, items: list[Any], fn: Callable[[Any], Any]) -> list[Any]:
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(fn, items))


def enroll(api: Api, nodes: int, concurrency: int, run_id: str) -> tuple[list[str], float]:
    """Create N fake-hardware nodes, each with one port; returns the UUIDs and seconds."""
    tag = int(run_id[:4], 16)

    def one(i: int) -> str:
        node = api.call(
            "POST",
            "/v1/nodes",
            {"driver": "fake-hardware", "name": f"bench-{run_id}-{i}"},
            ok=(201,),
        )
        octets = [0x52, tag >> 8, tag & 255, i >> 16 & 255, i >> 8 & 255, i & 255]
        mac = ":".join(f"{o:02x}" for o in octets)
        api.call("POST", "/v1/ports", {"node_uuid": node["uuid"], "address": mac}, ok=(201,))
        return str(node["uuid"])

    started = time.perf_counter()
    uuids = run_pool(concurrency, list(range(nodes)), one)
    return uuids, time.perf_counter() - started


def list_detail(api: Api, repeat: int = 3) -> dict[str, Any]:
    """Time ``GET /v1/nodes/detail`` of every node (all pages, following ``next``),
    ``repeat`` times.

    ``ms`` is the median time to fetch and parse every page with the client's parser
    (orjson when installed, else ``json.loads``). Beside it, the medians of the parts: to
    the headers and to the last byte of each page (summed over the pages), the parse, and
    ``ms_json_loads``: the last byte plus the stdlib's ``json.loads`` of the same bytes,
    which is what ``ms`` meant before the client parsed with orjson.
    """
    runs: list[dict[str, float]] = []
    count = 0
    for _ in range(repeat):
        run = dict.fromkeys(("ms", "headers_ms", "last_byte_ms", "parse_ms", "json_loads_ms"), 0.0)
        count, path = 0, "/v1/nodes/detail"
        while path:
            status, raw, (headers, last) = api.request_raw("GET", path)
            if status != 200:
                raise RuntimeError(f"GET {path} -> {status}: {raw[:500]!r}")
            started = time.perf_counter()
            payload = parse_json(raw)
            parse = time.perf_counter() - started
            started = time.perf_counter()
            json.loads(raw)
            run["json_loads_ms"] += (time.perf_counter() - started) * 1000
            run["ms"] += (last + parse) * 1000
            run["headers_ms"] += headers * 1000
            run["last_byte_ms"] += last * 1000
            run["parse_ms"] += parse * 1000
            count += len(payload["nodes"])
            nxt = payload.get("next")
            path = "" if not nxt else urlsplit(nxt).path + "?" + urlsplit(nxt).query
        run["ms_json_loads"] = run["last_byte_ms"] + run.pop("json_loads_ms")
        runs.append(run)

    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 1)

    return {
        "nodes": count,
        "ms": median("ms"),
        "runs_ms": [round(r["ms"], 1) for r in runs],
        "parser": PARSER,
        **{key: median(key) for key in ("headers_ms", "last_byte_ms", "parse_ms")},
        "ms_json_loads": median("ms_json_loads"),
        "runs_ms_json_loads": [round(r["ms_json_loads"], 1) for r in runs],
    }


def wait_settled(
    api: Api, uuids: set[str], target: str, interval: float, timeout: float
) -> tuple[int, list[str]]:
    """Poll the node list until every node in ``uuids`` is stable in ``target`` and unlocked.

    Returns the number of polling rounds and the failures (``uuid: state: last_error``).
    """
    deadline, rounds = time.monotonic() + timeout, 0
    pending = set(uuids)
    failures: list[str] = []
    while pending:
        rounds += 1
        for node in api.pages(f"/v1/nodes?fields={POLL_FIELDS}&limit=1000"):
            uuid = node["uuid"]
            if uuid not in pending or node["reservation"] or node["target_provision_state"]:
                continue
            if node["provision_state"] == target:
                pending.discard(uuid)
            elif node["provision_state"] in FAILED and node.get("last_error"):
                pending.discard(uuid)
                failures.append(f"{uuid}: {node['provision_state']}: {node['last_error']}")
        if pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} nodes did not reach {target} in {timeout}s")
            time.sleep(interval)
    return rounds, failures


def lifecycle(
    api: Api, uuids: list[str], concurrency: int, interval: float, timeout: float
) -> dict[str, Any]:
    """Each verb for every node, C at a time, then wait until all have settled."""
    out: dict[str, Any] = {}
    for verb, target in PHASES:
        started = time.perf_counter()
        run_pool(
            concurrency,
            uuids,
            lambda u, v=verb: api.call(  # type: ignore[misc]
                "PUT", f"/v1/nodes/{u}/states/provision", {"target": v}, ok=(202,)
            ),
        )
        sent = time.perf_counter() - started
        rounds, failures = wait_settled(api, set(uuids), target, interval, timeout)
        took = time.perf_counter() - started
        out[verb] = {
            "seconds": round(took, 2),
            "requests_s": round(sent, 2),
            "poll_rounds": rounds,
            "failures": len(failures),
        }
        if failures:
            raise RuntimeError(f"'{verb}' failed on {len(failures)} nodes, e.g. {failures[0]}")
    out["total_s"] = round(sum(p["seconds"] for p in out.values()), 2)
    return out


def delete_all(api: Api, uuids: list[str], concurrency: int) -> float:
    started = time.perf_counter()
    run_pool(concurrency, uuids, lambda u: api.call("DELETE", f"/v1/nodes/{u}", ok=(204,)))
    return time.perf_counter() - started


# --- the server's process ----------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids + [k for kid in kids for k in _children(kid)]


def server_usage(pids: list[int]) -> dict[str, float]:
    """Peak RSS (sum of VmHWM, MiB) and CPU seconds of ``pids`` and their children."""
    peak_kib, ticks = 0, 0
    for pid in {p for top in pids for p in [top, *_children(top)]}:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        peak_kib += next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")
        )
        ticks += int(stat[11]) + int(stat[12])
    return {
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "cpu_s": round(ticks / os.sysconf("SC_CLK_TCK"), 2),
    }


class IngotServer:
    """``ingot serve`` on a free loopback port with a throwaway state dir."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ingot-bench-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        exe = Path(sys.executable).parent / "ingot"
        cmd = [
            str(exe) if exe.exists() else shutil.which("ingot") or "ingot",
            "serve",
            "--state-dir",
            str(self.dir / "state"),
            "--port",
            str(port),
        ]
        env = {**os.environ, "INGOT_DEPLOY__HTTP_PORT": "0", **(extra_env or {})}
        self.log = open(self.dir / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    tail = (self.dir / "server.log").read_text()[-2000:]
                    self.stop()
                    raise RuntimeError(f"ingot serve did not start:\n{tail}") from None
                time.sleep(0.1)

    @property
    def pids(self) -> list[int]:
        return [self.proc.pid]

    def stop(self) -> None:
        from ingot.processes import stop_process_group  # --start-ingot: Ingot is installed

        stop_process_group(self.proc, timeout=20)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_cluster(pg_url: str, conductors: int) -> Any:
    """bench/cluster.py's Cluster (loaded by path: bench/ is not a package)."""
    import importlib.util

    path = Path(__file__).with_name("cluster.py")
    spec = importlib.util.spec_from_file_location("bench_cluster", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.Cluster(pg_url, conductors)


def compare(result: dict[str, Any]) -> dict[str, Any]:
    """Speed-ups over Ironic's figures and whether each target (10x, 1/3 memory) holds.

    Ironic's list and lifecycle figures are for 1,000 nodes; for other N they are scaled
    linearly (Ironic's own cost per node), so at N=10,000 the bars are 6.6 s and 5,770 s.
    """
    scale = result["nodes"] / 1000
    ours = {"enroll": result["enroll"]["nodes_per_s"] / IRONIC["enroll_nodes_per_s"]}
    if "list_detail" in result:
        ours["list_detail"] = (
            IRONIC["list_detail_ms"] * scale / max(result["list_detail"]["ms"], 0.001)
        )
    if "lifecycle" in result:
        ours["lifecycle"] = (
            IRONIC["lifecycle_s"] * scale / max(result["lifecycle"]["total_s"], 0.001)
        )
    out: dict[str, Any] = {f"{k}_speedup": round(v, 1) for k, v in ours.items()}
    out.update({f"{k}_target_met": v >= 10 for k, v in ours.items()})
    rss = result.get("server", {}).get("peak_rss_mib")
    if rss:
        out["memory_fraction"] = round(rss / IRONIC["peak_rss_mib"], 3)
        out["memory_target_met"] = rss < IRONIC["peak_rss_mib"] / 3
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--endpoint", help="Ironic API URL, e.g. http://127.0.0.1:6385")
    where.add_argument("--start-ingot", action="store_true", help="run a local ingot serve")
    where.add_argument(
        "--start-cluster",
        type=int,
        metavar="CONDUCTORS",
        help="run a local ingot api and this many ingot conductors on PostgreSQL",
    )
    ap.add_argument(
        "--pg-url",
        default=os.environ.get("INGOT_TEST_PG_URL"),
        help="PostgreSQL server for --start-cluster (default: $INGOT_TEST_PG_URL)",
    )
    ap.add_argument("--token", help="X-Auth-Token for a keystone-protected Ironic")
    ap.add_argument(
        "--server-pid",
        type=int,
        action="append",
        default=[],
        help="PID of the server (repeat; children count too) for peak RSS",
    )
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--poll-interval", type=float, default=0.2)
    ap.add_argument("--timeout", type=float, default=3600, help="per lifecycle phase")
    ap.add_argument(
        "--phases",
        default="enroll,list,lifecycle",
        help="comma-separated phases to run, of enroll, list, lifecycle (each needs enroll); "
        "e.g. enroll,list for a quick list-only run",
    )
    ap.add_argument("--list-runs", type=int, default=3, help="list runs (the median counts)")
    ap.add_argument("--keep", action="store_true", help="do not delete the nodes at the end")
    ap.add_argument("--out", type=Path, help="also write the JSON result here")
    args = ap.parse_args(argv)
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if not phases or not phases <= {"enroll", "list", "lifecycle"} or "enroll" not in phases:
        ap.error(f"--phases {args.phases!r}: use enroll plus any of list, lifecycle")

    server: IngotServer | Any = None
    if args.start_ingot:
        server = IngotServer()
    elif args.start_cluster:
        if not args.pg_url:
            ap.error("--start-cluster needs --pg-url or INGOT_TEST_PG_URL")
        server = start_cluster(args.pg_url, args.start_cluster)
    pids = server.pids if server else args.server_pid
    endpoint = server.url if server else args.endpoint
    api = Api(endpoint, args.token)
    run_id = secrets.token_hex(3)
    result: dict[str, Any] = {
        "endpoint": endpoint,
        "setup": (
            f"ingot api + {args.start_cluster} ingot conductor on PostgreSQL"
            if args.start_cluster
            else "ingot serve on SQLite"
            if args.start_ingot
            else "external"
        ),
        "server": {},
        "nodes": args.nodes,
        "concurrency": args.concurrency,
        "run_id": run_id,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }
    try:
        uuids, took = enroll(api, args.nodes, args.concurrency, run_id)
        result["enroll"] = {"seconds": round(took, 2), "nodes_per_s": round(args.nodes / took, 1)}
        if "list" in phases:
            before = server_usage(pids)["cpu_s"] if pids else 0.0
            result["list_detail"] = list_detail(api, args.list_runs)
            if pids:  # CPU time is steadier than wall time on a shared host
                spent = server_usage(pids)["cpu_s"] - before
                result["list_detail"]["server_cpu_ms"] = round(spent * 1000 / args.list_runs, 1)
        if "lifecycle" in phases:
            result["lifecycle"] = lifecycle(
                api, uuids, args.concurrency, args.poll_interval, args.timeout
            )
        if pids:
            result["server"] = server_usage(pids)
            if len(pids) > 1 and server:
                result["server"]["per_process"] = {
                    name: server_usage([proc.pid]) for name, proc in server.procs.items()
                }
        if not args.keep:
            result["delete_s"] = round(delete_all(api, uuids, args.concurrency), 2)
    finally:
        if server:
            server.stop()
    result["vs_ironic"] = compare(result)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
