"""Cache keys change with every build input and nothing else; apt's mirror is found in both
sources formats."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ingot.errors import ConfigError
from ingot.ramdisk.build import RamdiskSpec, build_inputs, cache_key, wheel_digest
from ingot.ramdisk.debian import AptSource, debian_mirror

SOURCE = AptSource("http://deb.debian.org/debian", "bookworm")
SECURITY = "deb http://security.debian.org/debian-security bookworm-security main\n"
VERSIONS = {"python3": "3.11.2-1+b1", "busybox": "1:1.35.0-4"}


def key(spec: RamdiskSpec = RamdiskSpec(), **overrides: object) -> str:
    args: dict[str, object] = {"source": SOURCE, "kernel_sha": "k1", "wheel_sha": "w1",
                               "versions": VERSIONS}  # fmt: skip
    args.update(overrides)
    return cache_key(build_inputs(spec, **args))  # type: ignore[arg-type]


def test_same_inputs_same_key_whatever_the_order() -> None:
    a = RamdiskSpec(packages=("lvm2", "mdadm"), modules=("igb", "nvme"))
    b = RamdiskSpec(packages=("mdadm", "lvm2", "mdadm"), modules=("nvme", "igb"))
    assert key(a) == key(b)
    assert key(a, versions=dict(reversed(list(VERSIONS.items())))) == key(a)


@pytest.mark.parametrize(
    ("spec", "overrides"),
    [
        (RamdiskSpec(packages=("lvm2",)), {}),
        (RamdiskSpec(modules=("igb",)), {}),
        (RamdiskSpec(), {"kernel_sha": "k2"}),
        (RamdiskSpec(), {"wheel_sha": "w2"}),
        (RamdiskSpec(), {"source": AptSource("http://mirror.example/debian", "bookworm")}),
        (RamdiskSpec(), {"source": AptSource(SOURCE.uri, "trixie")}),
        (RamdiskSpec(), {"versions": {**VERSIONS, "python3": "3.11.3"}}),
    ],
)
def test_any_input_change_changes_the_key(spec: RamdiskSpec, overrides: dict[str, object]) -> None:
    assert key(spec, **overrides) != key()


def make_wheel(path: Path, when: tuple[int, int, int, int, int, int], body: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in (
            ("ingot_agent/cli.py", body),
            ("ingot_agent-0.1.dist-info/RECORD", when),
        ):
            info = zipfile.ZipInfo(name, date_time=when)
            archive.writestr(info, data if isinstance(data, bytes) else repr(data))
    return path


def test_wheel_digest_ignores_timestamps_not_content(tmp_path: Path) -> None:
    one = make_wheel(tmp_path / "a.whl", (2020, 1, 1, 0, 0, 0), b"print(1)")
    two = make_wheel(tmp_path / "b.whl", (2024, 5, 5, 5, 5, 6), b"print(1)")
    three = make_wheel(tmp_path / "c.whl", (2020, 1, 1, 0, 0, 0), b"print(2)")
    assert wheel_digest(one) == wheel_digest(two) != wheel_digest(three)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"sources.list": "# none\n", "sources.list.d/debian.sources": (
                "Types: deb\nURIs: http://deb.debian.org/debian\n"
                "Suites: bookworm bookworm-updates\nComponents: main\n\n"
                "Types: deb\nURIs: http://deb.debian.org/debian-security\n"
                "Suites: bookworm-security\nComponents: main\n")},
            SOURCE,
        ),
        (
            {"sources.list": SECURITY + "deb [arch=amd64 signed-by=/k.gpg] "
                             "http://mirror.lan/debian/ bookworm main\n"},
            AptSource("http://mirror.lan/debian", "bookworm"),
        ),
    ],
)  # fmt: skip
def test_debian_mirror_from_apt_config(
    tmp_path: Path, files: dict[str, str], expected: AptSource
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert debian_mirror(tmp_path) == expected


def test_no_debian_mirror_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "deb https://deb.nodesource.com/node_20.x nodistro main\n"
    )
    with pytest.raises(ConfigError, match="--mirror"):
        debian_mirror(tmp_path)
