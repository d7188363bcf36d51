"""A real ``ingot serve`` and a virtual lab in one test: the site every lab test runs on.

``ingot serve`` runs as a subprocess (stopped by PID) with short timeouts, so failure paths
end in seconds; the lab (:class:`ingot.lab.runner.Lab`) runs in the test process, which lets a
test press a server's power button or read its disk file directly. Whole-disk test images are
built here, small, and published in the server's HTTP boot root with their sha256.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ingot.lab.runner import Lab, LabConfig, mac_for
from tests.e2e.conftest import VENV_BIN, free_port
from tests.serve_process import ingot_serve

MiB = 1024 * 1024
LINUX_GUID = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2eLabTestKeyForIngotEndToEndTestsOnly test@lab"

# Short enough that a failure path ends within seconds, long enough for a loaded CI machine.
FAST_ENV = {
    "INGOT_CONDUCTOR__SYNC_POWER_STATE_INTERVAL": "0",
    "INGOT_CONDUCTOR__CHECK_PROVISION_STATE_INTERVAL": "1",
    "INGOT_CONDUCTOR__DEPLOY_CALLBACK_TIMEOUT": "90",
    "INGOT_CONDUCTOR__CLEAN_CALLBACK_TIMEOUT": "90",
    "INGOT_CONDUCTOR__INSPECT_WAIT_TIMEOUT": "90",
    "INGOT_AGENT__POWER_OFF_TIMEOUT": "2",
    "INGOT_IPMI__COMMAND_RETRY_TIMEOUT": "5",
}


@dataclass
class IngotProcess:
    """A running ``ingot serve``: API URL, HTTP boot server URL, state directory and log."""

    url: str
    boot_url: str
    state_dir: Path
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def boot_root(self) -> Path:
        return self.state_dir / "boot"

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"X-OpenStack-Ironic-API-Version": "latest"}, timeout=30
        )


@contextlib.contextmanager
def running_ingot(workdir: Path, env: dict[str, str] | None = None) -> Iterator[IngotProcess]:
    """Start ``ingot serve`` with its boot server on free loopback ports; stop it by PID."""
    port, boot_port = free_port(), free_port()
    state, log = workdir / "server", workdir / "server.log"
    (state / "boot").mkdir(parents=True, exist_ok=True)
    full_env = {**FAST_ENV, "INGOT_DEPLOY__HTTP_PORT": str(boot_port), **(env or {})}
    with ingot_serve(state, log, port, full_env) as proc:
        yield IngotProcess(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{boot_port}", state,
                           log, proc)  # fmt: skip


@dataclass
class TestImage:
    """A whole-disk image published on the boot server: its bytes, URL and sha256."""

    __test__ = False  # not a pytest test class
    path: Path
    url: str
    data: bytes
    label: str  # "gpt" or "msdos"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def gpt_image(path: Path, size: int = 4 * MiB) -> bytes:
    """A whole-disk image: a GPT with one Linux partition of recognisable bytes (at most 2 MiB
    of them: a large image stays mostly zeros, which the boot server and agent skip fast)."""
    from ingot_agent.partition_table import create_gpt

    with open(path, "w+b") as fh:
        fh.truncate(size)
        table = create_gpt(fh, size, [("root", size // 2, LINUX_GUID)])
        fh.seek(table.partitions[0].start * 512)
        fh.write(_payload(min(size // 2, 2 * MiB), path.name))
    return path.read_bytes()


def mbr_image(path: Path, size: int = 4 * MiB) -> bytes:
    """A whole-disk image with a DOS (MBR) table written here with struct: one Linux partition
    from 1 MiB, boot code bytes and a disk signature, so a test can see they survive."""
    start, sectors = 2048, (size // 2) // 512
    mbr = bytearray(512)
    mbr[:440] = (b"INGOT-TEST-BOOTCODE " * 22)[:440]
    struct.pack_into("<I", mbr, 440, 0x1A2B3C4D)  # disk signature
    struct.pack_into("<B3sB3sII", mbr, 446, 0x80, b"\x20\x21\x00", 0x83, b"\xfe\xff\xff",
                     start, sectors)  # fmt: skip
    mbr[510:512] = b"\x55\xaa"
    data = bytearray(size)
    data[:512] = mbr
    data[start * 512 : start * 512 + sectors * 512] = _payload(sectors * 512, path.name)
    path.write_bytes(bytes(data))
    return bytes(data)


def _payload(size: int, seed: str) -> bytes:
    # Deterministic, incompressible-looking, different per image: a misplaced byte shows.
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block * 16
    return bytes(out[:size])


def publish_image(
    server: IngotProcess, name: str, label: str = "gpt", size: int = 4 * MiB
) -> TestImage:
    """Build an image into the server's boot root, where its HTTP boot server serves it."""
    path = server.boot_root / name
    data = (gpt_image if label == "gpt" else mbr_image)(path, size)
    return TestImage(path, f"{server.boot_url}/{name}", data, label)


def config_drive(hostname: str, index: int = 0) -> dict[str, Any]:
    """Hostname, SSH key, cloud-config user data and a bond + VLAN network (lab MACs)."""
    mac0, mac1 = mac_for(index, 0), mac_for(index, 1)
    return {
        "meta_data": {"hostname": hostname, "public_keys": {"0": SSH_KEY}},
        "user_data": f"#cloud-config\nfqdn: {hostname}\nruncmd:\n  - [touch, /etc/lab-ok]\n",
        "network_data": {
            "links": [
                {"id": "eth0", "type": "phy", "ethernet_mac_address": mac0},
                {"id": "eth1", "type": "phy", "ethernet_mac_address": mac1},
                {"id": "bond0", "type": "bond", "bond_links": ["eth0", "eth1"],
                 "bond_mode": "active-backup", "ethernet_mac_address": mac0},
                {"id": "bond0.100", "type": "vlan", "vlan_link": "bond0", "vlan_id": 100,
                 "vlan_mac_address": mac0},
            ],
            "networks": [
                {"id": "net0", "type": "ipv4", "link": "bond0.100",
                 "ip_address": f"192.0.2.{10 + index}", "netmask": "255.255.255.0",
                 "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "192.0.2.1"}]},
            ],
            "services": [{"type": "dns", "address": "192.0.2.53"}],
        },
    }  # fmt: skip


@dataclass
class Site:
    """One Ingot and one lab: what every lab test drives."""

    server: IngotProcess
    lab: Lab
    workdir: Path
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = self.server.http()

    @property
    def inventory(self) -> Path:
        return self.lab.dir / "inventory.json"

    def names(self) -> list[str]:
        return [s.name for s in self.lab.servers]

    def node(self, name: str) -> dict[str, Any]:
        r = self.http.get(f"/v1/nodes/{name}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def ingot(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """Run the ``ingot`` CLI against this site's server."""
        env = {**os.environ, "INGOT_URL": self.server.url, "COLUMNS": "200"}
        proc = subprocess.run([str(VENV_BIN / "ingot"), *args], capture_output=True, text=True,
                              env=env, timeout=timeout)  # fmt: skip
        if check and proc.returncode != 0:
            raise AssertionError(f"ingot {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")  # fmt: skip
        return proc

    def import_inventory(self, *flags: str) -> None:
        """``ingot import DIR/inventory.json`` with ``flags`` (``--manage``, ``--provide``...)."""
        self.ingot("import", str(self.inventory), *flags)

    def set_state(self, name: str, target: str, **body: Any) -> None:
        r = self.http.put(f"/v1/nodes/{name}/states/provision", json={"target": target, **body})
        assert r.status_code == 202, f"{name} {target}: {r.status_code} {r.text}"

    def patch(self, name: str, *ops: dict[str, Any]) -> dict[str, Any]:
        r = self.http.patch(f"/v1/nodes/{name}", json=list(ops))
        assert r.status_code == 200, f"{name} patch {ops}: {r.status_code} {r.text}"
        return dict(r.json())

    def set_image(self, name: str, image: TestImage, checksum: str | None = None) -> None:
        info = {"image_source": image.url, "image_checksum": checksum or image.sha256}
        self.patch(name, {"op": "add", "path": "/instance_info", "value": info})

    def wait(
        self, names: Iterable[str], states: set[str], timeout: float = 120
    ) -> dict[str, dict[str, Any]]:
        """Poll until every node is in one of ``states`` and unlocked; bounded by ``timeout``."""
        pending, done = set(names), {}
        deadline = time.monotonic() + timeout
        while pending:
            for name in sorted(pending):
                body = self.node(name)
                if body["provision_state"] in states and body["reservation"] is None:
                    done[name] = body
                    pending.discard(name)
            if not pending:
                break
            if time.monotonic() > deadline:
                shown = {n: (self.node(n)["provision_state"], self.node(n)["last_error"])
                         for n in sorted(pending)}  # fmt: skip
                raise AssertionError(f"wanted {states} within {timeout:g} s; still {shown}\n"
                                     f"{self.log_tail()}")  # fmt: skip
            time.sleep(0.2)
        return done

    def history(self, name: str) -> list[dict[str, Any]]:
        return list(
            self.http.get(f"/v1/nodes/{name}/history", params={"detail": True}).json()["history"]
        )

    def lab_state(self, name: str) -> dict[str, Any]:
        machines = json.loads((self.lab.dir / "lab.json").read_text())["machines"]
        return dict(next(m for m in machines if m["name"] == name))

    def wait_booted(self, name: str, hostname: str, timeout: float = 30) -> dict[str, Any]:
        """The server comes up from its disk a little after Ingot says active, as real ones do."""
        deadline = time.monotonic() + timeout
        server = self.lab.server(name)
        while server.booted_hostname != hostname:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} did not boot as {hostname}: "
                                     f"{server.serial_log.read_text()[-3000:]}")  # fmt: skip
            time.sleep(0.2)
        return self.lab_state(name)

    def log_tail(self, chars: int = 4000) -> str:
        return "ingot serve log (tail):\n" + self.server.log.read_text()[-chars:]


@contextlib.contextmanager
def lab_site(
    workdir: Path,
    nodes: int = 1,
    bmc: str = "ipmi",
    env: dict[str, str] | None = None,
    **lab: Any,
) -> Iterator[Site]:
    """``ingot serve`` plus a started lab of ``nodes`` servers netbooting from it.

    ``lab`` overrides :class:`LabConfig` fields (``disk_gb``, ``boot``, ``post_seconds``...).
    Every process and thread is stopped on exit, the lab first (its agents call the server).
    """
    with running_ingot(workdir, env) as server:
        options: dict[str, Any] = {"disk_gb": 0.25, "post_seconds": 0.5, **lab}
        config = LabConfig(state_dir=workdir / "lab", nodes=nodes, bmc=bmc,  # type: ignore[arg-type]
                           boot_url=server.boot_url, api_url=server.url, **options)  # fmt: skip
        the_lab = Lab(config)
        try:
            the_lab.start()
            site = Site(server, the_lab, workdir)
            try:
                yield site
            except BaseException:
                _print_troubled_consoles(the_lab)
                raise
            finally:
                site.http.close()
        finally:
            the_lab.stop()


_TROUBLE = ("agent exited", "boot failed", "Traceback", "nothing to boot", "No bootable")


def _print_troubled_consoles(the_lab: Lab) -> None:
    """On a failure, show the consoles that say something went wrong (pytest prints stdout)."""
    for server in the_lab.servers:
        text = server.serial_log.read_text(errors="replace") if server.serial_log.exists() else ""
        if any(word in text for word in _TROUBLE):
            print(f"--- {server.name} serial log (tail) ---\n{text[-3000:]}")


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll ``check()`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


class Baremetal:
    """python-ironicclient's ``baremetal`` command against the site's noauth endpoint."""

    def __init__(self, url: str) -> None:
        self.base = [str(VENV_BIN / "baremetal"), "--os-auth-type", "none", "--os-endpoint", url]

    def run(self, *args: str, timeout: float = 180) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        proc = subprocess.run([*self.base, *args], capture_output=True, text=True, env=env,
                              timeout=timeout)  # fmt: skip
        if proc.returncode != 0:
            raise AssertionError(f"baremetal {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")  # fmt: skip
        return proc.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-f", "json"))


def sdk_connection(url: str) -> Any:
    """openstacksdk on the noauth endpoint, ignoring any clouds.yaml or OS_* variables."""
    import openstack

    return openstack.connect(auth_type="none", baremetal_endpoint_override=url,
                             load_yaml_config=False, load_envvars=False)  # fmt: skip


def read_table(disk: Path) -> tuple[str | None, list[dict[str, Any]]]:
    """The disk's partition table read with struct alone (not Ingot's reader): ``("gpt"|
    "msdos"|None, [{number, start, sectors, name, type}...])``."""
    with open(disk, "rb") as fh:
        mbr = fh.read(512)
        header = fh.read(512)
        if header[:8] == b"EFI PART":
            entries_lba, count, size = struct.unpack_from("<QII", header, 72)
            fh.seek(entries_lba * 512)
            array = fh.read(count * size)
            parts = []
            for i in range(count):
                raw = array[i * size : (i + 1) * size]
                if raw[:16] == bytes(16):
                    continue
                first, last = struct.unpack_from("<QQ", raw, 32)
                name = raw[56:128].decode("utf-16-le").rstrip("\x00")
                parts.append({"number": i + 1, "start": first, "sectors": last - first + 1,
                              "name": name, "type": raw[:16].hex()})  # fmt: skip
            return "gpt", parts
    if mbr[510:512] != b"\x55\xaa":
        return None, []
    parts = []
    for i in range(4):
        ptype = mbr[446 + 16 * i + 4]
        start, sectors = struct.unpack_from("<II", mbr, 446 + 16 * i + 8)
        if ptype:
            parts.append({"number": i + 1, "start": start, "sectors": sectors, "name": "",
                          "type": f"{ptype:02x}"})  # fmt: skip
    return "msdos", parts


def iso_files(disk: Path, start_sector: int, sectors: int) -> tuple[str, dict[str, bytes]]:
    """Volume label and files of the ISO9660 in a partition, read with pycdlib."""
    import io

    import pycdlib

    with open(disk, "rb") as fh:
        fh.seek(start_sector * 512)
        image = io.BytesIO(fh.read(sectors * 512))
    iso = pycdlib.PyCdlib()
    iso.open_fp(image)
    try:
        label = iso.pvd.volume_identifier.decode().rstrip(" \x00")
        files = {}
        for root, _dirs, names in iso.walk(rr_path="/"):
            for name in names:
                path = f"{root.rstrip('/')}/{name}"
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, rr_path=path)
                files[path.lstrip("/")] = out.getvalue()
        return label, files
    finally:
        iso.close()
