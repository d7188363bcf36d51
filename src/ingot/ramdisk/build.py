"""Build (or reuse) the deploy kernel + ramdisk: inputs -> content hash -> cached outputs.

The cache key covers everything that changes the result: the builder's format version, the
architecture, mirror and suite, the package list and candidate versions apt reports, the
kernel .deb's hash, the module list, the agent wheel's contents and the /init text. A second
build with the same inputs is a copy from the cache (seconds instead of about two minutes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingot.errors import ConfigError, InvalidInput
from ingot.ramdisk import cpio, debian, init_script, rootfs
from ingot.ramdisk.kmods import DEFAULT_MODULES, ModuleTree, load_order

LOG = logging.getLogger(__name__)

FORMAT_VERSION = 1
SOURCE_DATE_EPOCH = 1704067200  # 2024-01-01: every file in the archive gets this mtime


@dataclass(frozen=True)
class RamdiskSpec:
    """What to build. ``mirror``/``suite`` default to apt's configured Debian archive."""

    arch: str = "x86_64"
    packages: tuple[str, ...] = ()
    modules: tuple[str, ...] = DEFAULT_MODULES
    mirror: str | None = None
    suite: str | None = None
    agent_source: Path | None = None  # the agent/ project; default: next to this checkout
    agent_wheel: Path | None = None  # or a prebuilt wheel


@dataclass(frozen=True)
class RamdiskResult:
    """The built files and how long each phase took (seconds)."""

    kernel: Path
    ramdisk: Path
    key: str
    cached: bool
    timings: dict[str, float] = field(default_factory=dict)

    def driver_info(self, http_url: str | None = None) -> dict[str, str]:
        """``deploy_kernel``/``deploy_ramdisk`` values: URLs under ``http_url`` or local paths."""
        if http_url:
            base = http_url.rstrip("/")
            return {
                "deploy_kernel": f"{base}/{self.kernel.name}",
                "deploy_ramdisk": f"{base}/{self.ramdisk.name}",
            }
        return {"deploy_kernel": str(self.kernel), "deploy_ramdisk": str(self.ramdisk)}


def default_agent_source() -> Path:
    """``agent/`` of the checkout this package runs from (editable installs)."""
    return Path(__file__).resolve().parents[3] / "agent"


def build_agent_wheel(source: Path, dest: Path) -> Path:
    """``pip wheel --no-deps`` of the agent project; ConfigError when it is not there."""
    if not (source / "pyproject.toml").is_file():
        raise ConfigError(
            f"agent project not found at {source}; pass --agent-source DIR (the repository's "
            "agent/ directory) or --agent-wheel FILE."
        )
    dest.mkdir(parents=True, exist_ok=True)
    debian.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(dest), str(source)],
        "pip wheel of the agent",
    )  # fmt: skip
    wheels = sorted(dest.glob("ingot_agent-*.whl"))
    if not wheels:
        raise ConfigError(f"pip wheel left no ingot_agent wheel in {dest}.")
    return wheels[-1]


def wheel_digest(wheel: Path) -> str:
    """Hash of a wheel's file names and contents, not its zip metadata (timestamps vary)."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            if name.endswith(".dist-info/RECORD"):
                continue
            digest.update(name.encode() + b"\0" + hashlib.sha256(archive.read(name)).digest())
    return digest.hexdigest()


def cache_key(inputs: Mapping[str, object]) -> str:
    """Stable hash of the build inputs (JSON with sorted keys)."""
    text = json.dumps({"format": FORMAT_VERSION, **inputs}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def build_inputs(spec: RamdiskSpec, source: debian.AptSource, kernel_sha: str,
                 wheel_sha: str, versions: Mapping[str, str]) -> dict[str, object]:  # fmt: skip
    """Everything the result depends on, as the cache key sees it."""
    return {
        "arch": spec.arch,
        "mirror": source.uri,
        "suite": source.suite,
        "packages": sorted({*rootfs.BASE_PACKAGES, *spec.packages}),
        "versions": dict(sorted(versions.items())),
        "modules": sorted(set(spec.modules)),
        "kernel_sha256": kernel_sha,
        "agent_wheel": wheel_sha,
        "init": hashlib.sha256(
            (init_script.INIT + init_script.UDHCPC_SCRIPT + init_script.AGENT_LAUNCHER).encode()
        ).hexdigest(),
        "trim": list(rootfs.TRIM),
    }


class _Clock:
    def __init__(self, progress: Callable[[str], None]) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress

    def phase(self, name: str, started: float) -> None:
        self.timings[name] = round(time.monotonic() - started, 1)
        self.progress(f"{name}: {self.timings[name]} s")


def build_ramdisk(
    spec: RamdiskSpec,
    cache_dir: Path,
    *,
    apt_dir: Path = Path("/etc/apt"),
    progress: Callable[[str], None] = LOG.info,
) -> RamdiskResult:
    """Build the deploy kernel and ramdisk into ``cache_dir/<key>/`` (or reuse them).

    Raises ConfigError when a tool, root privileges or the agent project is missing, and
    InvalidInput for an unsupported architecture.
    """
    if spec.arch not in debian.DEBIAN_ARCH:
        raise InvalidInput(f"--arch {spec.arch!r}: supported are {', '.join(debian.DEBIAN_ARCH)}.")
    if spec.arch != os.uname().machine:
        raise InvalidInput(
            f"--arch {spec.arch} differs from this host ({os.uname().machine}); the builder "
            "chroots into the root file system, so build on a host of that architecture."
        )
    clock = _Clock(progress)
    source = debian.debian_mirror(apt_dir)
    if spec.mirror or spec.suite:
        source = debian.AptSource(spec.mirror or source.uri, spec.suite or source.suite)
    started = time.monotonic()
    kernel_pkg = debian.kernel_package(spec.arch)
    deb = debian.download(kernel_pkg, cache_dir / "debs")
    with tempfile.TemporaryDirectory(prefix="ingot-wheel-") as wheel_tmp:
        wheel = spec.agent_wheel or build_agent_wheel(
            spec.agent_source or default_agent_source(), Path(wheel_tmp)
        )
        versions = {p: debian.candidate_version(p) for p in (*rootfs.BASE_PACKAGES, *spec.packages)}
        inputs = build_inputs(spec, source, debian.sha256_file(deb), wheel_digest(wheel), versions)
        key = cache_key(inputs)
        out = cache_dir / key
        kernel, ramdisk = out / "deploy_kernel", out / "deploy_ramdisk"
        clock.phase("inputs", started)
        if kernel.is_file() and ramdisk.is_file():
            progress(f"reusing cached build {out}")
            return RamdiskResult(kernel, ramdisk, key, True, clock.timings)
        _build_into(spec, source, deb, wheel, out, inputs, clock)
    return RamdiskResult(kernel, ramdisk, key, False, clock.timings)


def _build_into(spec: RamdiskSpec, source: debian.AptSource, deb: Path, wheel: Path, out: Path,
                inputs: Mapping[str, object], clock: _Clock) -> None:  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="ingot-ramdisk-", dir=out.parent))
    try:
        started = time.monotonic()
        vmlinuz, modules_root = debian.unpack_kernel(deb, work / "kernel")
        tree = ModuleTree.scan(modules_root)
        order = load_order(tree, spec.modules)
        clock.phase("kernel", started)
        started = time.monotonic()
        root = work / "root"
        rootfs.debootstrap(root, source, spec.packages, debian.DEBIAN_ARCH[spec.arch])
        clock.phase("debootstrap", started)
        started = time.monotonic()
        rootfs.trim(root)
        rootfs.install_wheel(root, wheel)
        rootfs.install_modules(root, tree, order, modules_root.name)
        rootfs.install_init(root)
        rootfs.compile_python(root)
        clock.phase("customize", started)
        started = time.monotonic()
        staging = work / "out"
        staging.mkdir()
        shutil.copyfile(vmlinuz, staging / "deploy_kernel")
        size = cpio.pack_initramfs(root, staging / "deploy_ramdisk", mtime=SOURCE_DATE_EPOCH)
        clock.phase("pack", started)
        manifest = {
            "key": out.name,
            "inputs": inputs,
            "kernel_version": modules_root.name,
            "modules": order,
            "ramdisk_bytes": size,
            "timings": clock.timings,
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        _remove_tree(work)


def _remove_tree(path: Path) -> None:
    # debootstrap may leave proc mounted inside the root after a failure; never recurse into it.
    for mount in ("proc", "sys", "dev/pts"):
        target = path / "root" / mount
        if os.path.ismount(target):
            subprocess.run(["umount", "-l", str(target)], check=False)
    shutil.rmtree(path, ignore_errors=True)


def publish(result: RamdiskResult, dest: Path) -> RamdiskResult:
    """Place the kernel and ramdisk in ``dest`` (hard links when possible)."""
    dest.mkdir(parents=True, exist_ok=True)
    placed = []
    for source in (result.kernel, result.ramdisk, result.kernel.parent / "manifest.json"):
        target = dest / source.name
        target.unlink(missing_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
        placed.append(target)
    return RamdiskResult(placed[0], placed[1], result.key, result.cached, result.timings)


def describe(result: RamdiskResult, http_url: str | None = None) -> Sequence[str]:
    """Lines telling the operator what to put in driver_info."""
    info = result.driver_info(http_url)
    return [f"deploy_kernel={info['deploy_kernel']}", f"deploy_ramdisk={info['deploy_ramdisk']}"]
