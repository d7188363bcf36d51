"""Build and read back an OpenStack ``config-2`` ISO9660 image with pycdlib (no genisoimage).

Layout, as nova and Ironic produce it and cloud-init's ConfigDrive datasource reads it::

    openstack/<version>/meta_data.json      required
    openstack/<version>/user_data           optional, opaque bytes
    openstack/<version>/network_data.json   optional
    openstack/<version>/vendor_data.json    optional (v1 vendor data)
    openstack/<version>/vendor_data2.json   optional (what Ironic writes for ``vendor_data``)
    openstack/content/NNNN                  files referenced from meta_data ``files``

cloud-init picks the newest dated version directory it knows and only falls back to ``latest``,
so every version directory gets the same files. The copies are ISO9660 hard links: extra
directory records pointing at one extent, so a 60 MiB user_data is stored once.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pycdlib
from pycdlib.pycdlibexception import PyCdlibException

from ingot.configdrive.transport import check_size
from ingot.errors import InvalidInput

VOLUME_LABEL = "config-2"

#: The dated metadata versions cloud-init knows (helpers/openstack.py ``OS_VERSIONS``) + latest.
VERSIONS: tuple[str, ...] = (
    "2012-08-10",
    "2013-04-04",
    "2013-10-17",
    "2015-10-15",
    "2016-06-30",
    "2016-10-06",
    "2017-02-22",
    "2018-08-27",
    "latest",
)

_ISO_UNSAFE = re.compile(r"[^A-Z0-9_]")


def build_iso(
    meta_data: Mapping[str, Any],
    *,
    user_data: bytes | None = None,
    network_data: Mapping[str, Any] | None = None,
    vendor_data: Mapping[str, Any] | None = None,
    vendor_data_v1: Mapping[str, Any] | None = None,
    content: Mapping[str, bytes] | None = None,
    versions: Iterable[str] = VERSIONS,
) -> bytes:
    """Return a ``config-2`` ISO image (Rock Ridge + Joliet) holding the given documents.

    ``content`` maps names under ``openstack/content/`` (e.g. ``"0000"``) to bytes; point at
    them from ``meta_data["files"]`` with ``content_path: "/content/0000"``.
    Raises InvalidInput when the image would be over the 64 MiB config drive limit.
    """
    per_version: dict[str, bytes] = {"meta_data.json": _json_bytes(meta_data)}
    if user_data:
        per_version["user_data"] = user_data
    if network_data:
        per_version["network_data.json"] = _json_bytes(network_data)
    if vendor_data_v1:
        per_version["vendor_data.json"] = _json_bytes(vendor_data_v1)
    if vendor_data:
        per_version["vendor_data2.json"] = _json_bytes(vendor_data)
    total = sum(len(v) for v in per_version.values()) + sum(
        len(v) for v in (content or {}).values()
    )
    check_size(total)

    version_list = list(dict.fromkeys(versions))
    if not version_list:
        raise InvalidInput("at least one config drive metadata version (e.g. 'latest') is needed")
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, joliet=3, rock_ridge="1.09", vol_ident=VOLUME_LABEL)
    try:
        _add_dir(iso, "openstack")
        first = version_list[0]
        for version in version_list:
            _add_dir(iso, f"openstack/{version}")
            for name, data in per_version.items():
                path = f"openstack/{version}/{name}"
                if version == first:
                    _add_file(iso, path, data)
                else:
                    _link_file(iso, f"openstack/{first}/{name}", path)
        if content:
            _add_dir(iso, "openstack/content")
            for name, data in content.items():
                if "/" in name or not name:
                    raise InvalidInput(
                        f"config drive content name {name!r} must be a plain file name such as "
                        "'0000' (it lands in openstack/content/)"
                    )
                _add_file(iso, f"openstack/content/{name}", data)
        out = io.BytesIO()
        iso.write_fp(out)
    finally:
        iso.close()
    image = out.getvalue()
    check_size(len(image))
    return image


def read_iso(image: bytes, *, joliet: bool = False) -> dict[str, bytes]:
    """Every file in ``image`` by Rock Ridge (or Joliet) path, e.g. ``openstack/latest/user_data``.

    Used by tests, the CLI's inspect command and the lab's virtual server. Raises InvalidInput
    when the bytes are not a readable ISO9660 image.
    """
    iso = pycdlib.PyCdlib()
    try:
        iso.open_fp(io.BytesIO(image))
    except PyCdlibException as exc:
        raise InvalidInput(f"config drive is not a readable ISO9660 image: {exc}") from exc
    files: dict[str, bytes] = {}
    try:
        key = "joliet_path" if joliet else "rr_path"
        if joliet and not iso.has_joliet():
            raise InvalidInput("config drive ISO has no Joliet tree")
        if not joliet and not iso.has_rock_ridge():
            raise InvalidInput("config drive ISO has no Rock Ridge names")
        for dirpath, _dirs, names in iso.walk(**{key: "/"}):
            for name in names:
                path = f"{dirpath.rstrip('/')}/{name}"
                buf = io.BytesIO()
                iso.get_file_from_iso_fp(buf, **{key: path})
                files[path.lstrip("/")] = buf.getvalue()
    finally:
        iso.close()
    return files


def volume_label(image: bytes) -> str:
    """The ISO's volume identifier; cloud-init only looks at drives labelled ``config-2``."""
    iso = pycdlib.PyCdlib()
    try:
        iso.open_fp(io.BytesIO(image))
    except PyCdlibException as exc:
        raise InvalidInput(f"config drive is not a readable ISO9660 image: {exc}") from exc
    try:
        label: bytes = iso.pvd.volume_identifier
    finally:
        iso.close()
    return label.decode("ascii", "replace").strip()


def _json_bytes(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, indent=2).encode("utf-8")


def _iso_name(path: str, *, is_file: bool) -> str:
    # pycdlib needs a plain ISO9660 name for every entry even though readers use the Rock Ridge
    # or Joliet names: upper case, [A-Z0-9_] only, files get an extension and ";1".
    parts = path.split("/")
    out = [_ISO_UNSAFE.sub("_", p.upper()) for p in parts[:-1]]
    last = parts[-1].upper()
    if is_file:
        stem, _, ext = last.rpartition(".") if "." in last else (last, "", "")
        out.append(f"{_ISO_UNSAFE.sub('_', stem)}.{_ISO_UNSAFE.sub('_', ext)};1")
    else:
        out.append(_ISO_UNSAFE.sub("_", last))
    return "/" + "/".join(out)


def _add_dir(iso: pycdlib.PyCdlib, path: str) -> None:
    iso.add_directory(
        _iso_name(path, is_file=False), rr_name=path.rsplit("/", 1)[-1], joliet_path="/" + path
    )


def _add_file(iso: pycdlib.PyCdlib, path: str, data: bytes) -> None:
    iso.add_fp(
        io.BytesIO(data),
        len(data),
        _iso_name(path, is_file=True),
        rr_name=path.rsplit("/", 1)[-1],
        joliet_path="/" + path,
    )


def _link_file(iso: pycdlib.PyCdlib, old: str, new: str) -> None:
    old_iso = _iso_name(old, is_file=True)
    iso.add_hard_link(
        iso_old_path=old_iso,
        iso_new_path=_iso_name(new, is_file=True),
        rr_name=new.rsplit("/", 1)[-1],
    )
    iso.add_hard_link(iso_old_path=old_iso, joliet_new_path="/" + new)
