"""Debian packages as build inputs: the configured mirror, and kernels taken out of .debs.

The mirror and suite come from apt's own configuration (``sources.list`` or deb822
``*.sources``), so the builder reaches exactly what the operator's apt reaches and nothing
else. The kernel is fetched with ``apt-get download`` and unpacked with ``dpkg-deb``: it is
never installed on the build host.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ingot.errors import ConfigError

DEBIAN_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
_SKIP_SUITE = re.compile(r"-(updates|security|backports|proposed)$|/updates$")


@dataclass(frozen=True)
class AptSource:
    """One Debian archive: ``uri`` and the release ``suite`` debootstrap should install."""

    uri: str
    suite: str


def _one_line_sources(text: str) -> list[AptSource]:
    found: list[AptSource] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "deb":
            continue
        rest = words[1:]
        if rest[0].startswith("["):  # options: deb [arch=amd64 signed-by=...] URI suite
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) >= 2:
            found.append(AptSource(rest[0].rstrip("/"), rest[1]))
    return found


def _deb822_sources(text: str) -> list[AptSource]:
    found: list[AptSource] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
            continue
        for uri in fields.get("uris", "").split():
            found.extend(AptSource(uri.rstrip("/"), s) for s in fields.get("suites", "").split())
    return found


def configured_sources(apt_dir: Path = Path("/etc/apt")) -> list[AptSource]:
    """Every ``deb`` source apt is configured with, in file order."""
    sources: list[AptSource] = []
    main = apt_dir / "sources.list"
    if main.is_file():
        sources += _one_line_sources(main.read_text())
    parts = apt_dir / "sources.list.d"
    for path in sorted(parts.glob("*.list")) if parts.is_dir() else []:
        sources += _one_line_sources(path.read_text())
    for path in sorted(parts.glob("*.sources")) if parts.is_dir() else []:
        sources += _deb822_sources(path.read_text())
    return sources


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> AptSource:
    """The Debian release archive apt uses (not -updates/-security); ConfigError if none."""
    for source in configured_sources(apt_dir):
        if _SKIP_SUITE.search(source.suite) or "security" in source.uri:
            continue
        if "/debian" in source.uri or "/ubuntu" in source.uri:
            return source
    raise ConfigError(
        f"no Debian archive in {apt_dir}/sources.list(.d); configure apt, or pass "
        "--mirror URL --suite NAME."
    )


def require_tool(name: str, package: str) -> str:
    """Path of ``name``; ConfigError names the package to install (scripts/vm-tier-deps.sh)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        raise ConfigError(f"{name} not found; install it: apt-get install {package}")
    return found


def run(command: list[str], what: str, cwd: Path | None = None, timeout: float = 1800) -> str:
    """Run a build command; ConfigError with its output tail when it fails."""
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip()[-2000:]
        raise ConfigError(f"{what} failed (exit {result.returncode}): {tail}")
    return result.stdout


def kernel_package(arch: str = "x86_64") -> str:
    """The versioned kernel package ``linux-image-<arch>`` points to (e.g. 6.1.0-56-amd64)."""
    meta = f"linux-image-{DEBIAN_ARCH[arch]}"
    out = run(["apt-cache", "depends", meta], f"apt-cache depends {meta}")
    for line in out.splitlines():
        match = re.match(r"\s*Depends:\s*(linux-image-\d\S*)", line)
        if match:
            return match.group(1)
    raise ConfigError(f"apt knows no kernel behind {meta}; run apt-get update.")


def candidate_version(package: str) -> str:
    """The version apt would install of ``package`` ("" when unknown): a cache-key input."""
    out = run(["apt-cache", "policy", package], f"apt-cache policy {package}")
    match = re.search(r"Candidate:\s*(\S+)", out)
    return match.group(1) if match and match.group(1) != "(none)" else ""


def download(package: str, dest: Path) -> Path:
    """``apt-get download`` one package into ``dest`` (reused when already there)."""
    dest.mkdir(parents=True, exist_ok=True)
    existing = sorted(dest.glob(f"{package}_*.deb"))
    if existing:
        return existing[-1]
    run([require_tool("apt-get", "apt"), "download", package], f"apt-get download {package}", dest)
    existing = sorted(dest.glob(f"{package}_*.deb"))
    if not existing:
        raise ConfigError(f"apt-get download {package} left no .deb in {dest}.")
    return existing[-1]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unpack_kernel(deb: Path, dest: Path) -> tuple[Path, Path]:
    """Unpack a linux-image .deb's ``boot/vmlinuz-*`` and ``lib/modules/<ver>`` into ``dest``.

    Returns (vmlinuz, modules root). Uses ``dpkg-deb --fsys-tarfile`` and Python's tarfile.
    """
    dpkg = require_tool("dpkg-deb", "dpkg")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with subprocess.Popen([dpkg, "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                name = member.name.lstrip("./")
                if name.startswith(("boot/vmlinuz-", "lib/modules/")):
                    tar.extract(member, dest, filter="data")
    if proc.returncode != 0:
        raise ConfigError(f"dpkg-deb could not read {deb}.")
    kernels = sorted((dest / "boot").glob("vmlinuz-*"))
    modules = sorted((dest / "lib" / "modules").glob("*"))
    if not kernels or not modules:
        raise ConfigError(f"{deb} holds no boot/vmlinuz-* or lib/modules/<version>.")
    return kernels[0], modules[0]
