"""Start a scaled-out Ingot for a benchmark: one ``ingot api`` and N ``ingot conductor`` processes.

They share a fresh PostgreSQL database created on the server of ``--pg-url`` and dropped at the
end, so runs never see each other's nodes. Each process gets its own state directory and log
under a temporary directory; :meth:`Cluster.stop` ends them by PID (each is its own process
group), and the log tails go into the error when one fails to start.

  cluster = Cluster(os.environ["INGOT_TEST_PG_URL"], conductors=3)
  try:
      ...  # talk to cluster.url; cluster.pids for the memory figure
  finally:
      cluster.stop()
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from ingot.lab.ports import free_port
from ingot.processes import stop_process_group


def ingot_exe() -> str:
    exe = Path(sys.executable).parent / "ingot"
    return str(exe) if exe.exists() else shutil.which("ingot") or "ingot"


class Cluster:
    """One API and ``conductors`` conductors (named c1..cN) on a fresh PostgreSQL database."""

    def __init__(
        self,
        pg_url: str,
        conductors: int,
        extra_env: dict[str, str] | None = None,
        timeout: float = 90,
    ) -> None:
        if not pg_url.startswith("postgresql"):
            raise ValueError(f"--pg-url must be a postgresql:// URL, not {pg_url!r}")
        if conductors < 1:
            raise ValueError("a cluster needs at least one conductor")
        self.dir = Path(tempfile.mkdtemp(prefix="ingot-cluster-"))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._admin_url = pg_url
        self.db_name = f"bench_{secrets.token_hex(5)}"
        self.db_url = pg_url.rsplit("/", 1)[0] + "/" + self.db_name
        self._sql(f'CREATE DATABASE "{self.db_name}"')
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "INGOT_DATABASE__CONNECTION": self.db_url, **(extra_env or {})}
        try:
            # Started together: migrations run once, under PostgreSQL's advisory lock.
            for i in range(1, conductors + 1):
                name = f"c{i}"
                self._start(name, "conductor", "--name", name, "--log-level", "warning",
                            env={"INGOT_DEPLOY__HTTP_PORT": str(free_port())})  # fmt: skip
            self._start("api", "api", "--port", str(port), "--log-level", "warning")
            self._wait_alive({f"c{i}" for i in range(1, conductors + 1)}, timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def _sql(self, statement: str) -> None:
        engine = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()

    def _start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        cmd = [ingot_exe(), *args, "--state-dir", str(self.dir / name)]
        with open(self.dir / f"{name}.log", "w") as log:
            self.procs[name] = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env={**self.env, **(env or {})},
                start_new_session=True,
            )  # fmt: skip

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(self.dir.glob("*.log"))
        )

    def _alive(self) -> set[str]:
        host, port = self.url.rsplit(":", 1)
        conn = http.client.HTTPConnection(host.removeprefix("http://"), int(port), timeout=2)
        try:
            conn.request("GET", "/v1/conductors", headers={"X-OpenStack-Ironic-API-Version":
                                                           "latest"})  # fmt: skip
            resp = conn.getresponse()
            body = json.loads(resp.read() or b"{}")
        finally:
            conn.close()
        return {c["hostname"] for c in body.get("conductors", []) if c.get("alive")}

    def _wait_alive(self, names: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._alive() >= names:
                    return
            except (OSError, http.client.HTTPException, ValueError):
                pass
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"{', '.join(dead)} exited" if dead else f"not all alive in {timeout:g} s"
                raise RuntimeError(f"cluster did not start ({why}):\n{self.logs()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop every process by PID, drop the database, remove the temporary directory."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            stop_process_group(proc, timeout=20)
        try:
            self._sql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
