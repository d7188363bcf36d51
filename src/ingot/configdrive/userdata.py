"""User data: encode it as Ironic does, tell what kind it is, and catch what will not run.

cloud-init decides what to do with user data from its first line (``#cloud-config``, ``#!``,
``Content-Type: multipart/...``); Ignition reads JSON. Ingot passes the bytes through
unchanged and only refuses data the first-boot agent would silently drop: broken YAML after
``#cloud-config`` and broken Ignition JSON.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any

import yaml

from ingot.configdrive.ignition import looks_like_ignition, parse_ignition
from ingot.errors import InvalidInput


class UserDataKind(enum.StrEnum):
    """What a first-boot agent will see in ``openstack/latest/user_data``."""

    EMPTY = "empty"
    CLOUD_CONFIG = "cloud-config"
    SCRIPT = "script"
    MIME_MULTIPART = "mime-multipart"
    IGNITION = "ignition"
    INCLUDE = "include"
    BOOTHOOK = "boothook"
    JINJA = "jinja"
    GZIP = "gzip"
    OTHER = "other"


_PREFIXES: tuple[tuple[bytes, UserDataKind], ...] = (
    (b"## template: jinja", UserDataKind.JINJA),
    (b"#cloud-config", UserDataKind.CLOUD_CONFIG),
    (b"#!", UserDataKind.SCRIPT),
    (b"#include", UserDataKind.INCLUDE),
    (b"#cloud-boothook", UserDataKind.BOOTHOOK),
    (b"\x1f\x8b", UserDataKind.GZIP),
)


def encode_user_data(value: str | bytes | Mapping[str, Any] | list[Any] | None) -> bytes | None:
    """Bytes for the drive: objects and lists are JSON-encoded and strings UTF-8, as Ironic does."""
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")

    return json.dumps(value).encode("utf-8")


def classify_user_data(data: bytes | None) -> UserDataKind:
    """The kind of ``data`` by its first bytes; Ignition by a JSON object with ``ignition``."""
    if not data or not data.strip():
        return UserDataKind.EMPTY
    for prefix, kind in _PREFIXES:
        if data.startswith(prefix):
            return kind
    head = data[:4096].lstrip().lower()
    if head.startswith((b"content-type: multipart/", b"mime-version:")):
        return UserDataKind.MIME_MULTIPART
    if looks_like_ignition(data):
        return UserDataKind.IGNITION
    return UserDataKind.OTHER


def validate_user_data(data: bytes | None, *, field: str = "user_data") -> UserDataKind:
    """Classify ``data`` and raise InvalidInput for cloud-config or Ignition that cannot parse."""
    kind = classify_user_data(data)
    if data is None:
        return kind
    if kind is UserDataKind.CLOUD_CONFIG:
        _check_cloud_config(data, field)
    elif kind is UserDataKind.IGNITION and parse_ignition(data, field=field) is None:
        return UserDataKind.OTHER
    return kind


def _check_cloud_config(data: bytes, field: str) -> None:
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise InvalidInput(
            f"{field} starts with #cloud-config but is not valid YAML{where}: "
            f"{getattr(exc, 'problem', None) or exc}; cloud-init would ignore all of it"
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{field} is #cloud-config but not UTF-8 text ({exc})") from exc
    if doc is not None and not isinstance(doc, dict):
        raise InvalidInput(
            f"{field}: a #cloud-config document must be a YAML mapping (keys like users:, "
            f"runcmd:), got a {type(doc).__name__}"
        )
