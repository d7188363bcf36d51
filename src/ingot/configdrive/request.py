"""The ``configdrive`` of ``PUT /v1/nodes/{node}/states/provision``, resolved to something to write.

Ironic (API >= 1.56) accepts three shapes and so does Ingot:

* an ``http(s)://`` URL: kept as a URL, the agent downloads it;
* a gzip + base64 ISO9660 image (plain base64 too, as IPA accepts): checked that it decodes to
  an ISO labelled ``config-2`` within 64 MiB;
* a JSON object with ``meta_data``, ``network_data``, ``user_data`` and ``vendor_data`` (all
  optional) that Ingot builds into an ISO: ``uuid``/``name`` default to the node's, a
  ``user_data`` object or list is JSON-encoded, ``vendor_data`` goes to vendor_data2.json.

Ingot extension: ``network_data`` may also be the friendly interface list of
:mod:`ingot.configdrive.network`, turned into network_data.json with the node's port MACs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from ingot.configdrive import transport
from ingot.configdrive.iso import VOLUME_LABEL, build_iso, volume_label
from ingot.configdrive.metadata import apply_ironic_defaults
from ingot.configdrive.network import build_network_data
from ingot.configdrive.network_check import validate_network_data
from ingot.configdrive.userdata import UserDataKind, encode_user_data, validate_user_data
from ingot.errors import InvalidInput

_OBJECT_KEYS = ("meta_data", "network_data", "user_data", "vendor_data")


@dataclass(frozen=True)
class ConfigDrive:
    """A resolved config drive: either a URL for the agent or an ISO image in memory."""

    source: Literal["url", "encoded", "built"]
    url: str | None = None
    image: bytes | None = None
    user_data_kind: UserDataKind | None = None

    def encoded(self) -> str:
        """gzip + base64 of the image, the form Ironic keeps in ``instance_info``."""
        if self.image is None:
            raise InvalidInput("a config drive given by URL has no image to encode")
        return transport.encode(self.image)

    def instance_info_value(self) -> str:
        """What to store as ``instance_info['configdrive']``: the URL or the encoded image."""
        return self.url if self.url is not None else self.encoded()


def resolve_configdrive(
    value: object,
    *,
    node_uuid: str,
    node_name: str | None,
    port_macs: Mapping[str, str] | None = None,
) -> ConfigDrive | None:
    """Validate and resolve a request's ``configdrive``; None when absent (null or "").

    ``port_macs`` (interface name -> MAC) is only needed for the friendly network list.
    Raises InvalidInput with an Ironic-style "Invalid configdrive format" message that names
    the field and the fix.
    """
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        return _build(value, node_uuid=node_uuid, node_name=node_name, port_macs=port_macs)
    if isinstance(value, str):
        return _from_string(value)
    raise InvalidInput(
        f"Invalid configdrive format: expected a URL, a base64 string or a JSON object, "
        f"got {type(value).__name__}"
    )


def _from_string(value: str) -> ConfigDrive:
    if "://" in value:
        url = value.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(
                f"Invalid configdrive URL {url!r}: the agent downloads config drives over "
                "http:// or https:// only; serve the file over HTTP or pass it base64-encoded"
            )
        return ConfigDrive(source="url", url=url)
    if not transport.looks_like_base64(value):
        raise InvalidInput(
            "Invalid configdrive format: it is neither a JSON object, nor a URL, nor a base64 "
            "string; pass 'gzip -c drive.iso | base64 -w0' or a JSON object with meta_data"
        )
    image = transport.decode(value)
    if not transport.is_iso9660(image):
        raise InvalidInput(
            f"configdrive decodes to {len(image)} bytes that are not an ISO9660 image (no CD001 "
            "signature); build it with label config-2, e.g. 'genisoimage -J -r -V config-2'"
        )
    label = volume_label(image)
    if label.lower() != VOLUME_LABEL:
        raise InvalidInput(
            f"configdrive ISO is labelled {label!r}; cloud-init only finds a drive labelled "
            f"{VOLUME_LABEL!r}: rebuild it with '-V {VOLUME_LABEL}'"
        )
    return ConfigDrive(source="encoded", image=image)


def _build(
    value: Mapping[str, Any],
    *,
    node_uuid: str,
    node_name: str | None,
    port_macs: Mapping[str, str] | None,
) -> ConfigDrive:
    unknown = sorted(set(value) - set(_OBJECT_KEYS))
    if unknown:
        raise InvalidInput(
            f"Invalid configdrive format: unknown key {unknown[0]!r}; a configdrive object "
            f"may only have {', '.join(_OBJECT_KEYS)}"
        )
    meta = {} if value.get("meta_data") is None else value["meta_data"]
    vendor = {} if value.get("vendor_data") is None else value["vendor_data"]
    for key, obj in (("meta_data", meta), ("vendor_data", vendor)):
        if not isinstance(obj, Mapping):
            raise InvalidInput(
                f"Invalid configdrive format: configdrive.{key} must be a JSON object, "
                f"got {type(obj).__name__}"
            )
    raw_user = value.get("user_data")
    if raw_user is not None and not isinstance(raw_user, str | Mapping | list):
        raise InvalidInput(
            "Invalid configdrive format: configdrive.user_data must be a string, a JSON "
            f"object or a list, got {type(raw_user).__name__}"
        )
    user_data = encode_user_data(raw_user)
    kind = validate_user_data(user_data, field="configdrive.user_data")
    network = _network(value.get("network_data"), port_macs)
    image = build_iso(
        apply_ironic_defaults(meta, node_uuid=node_uuid, node_name=node_name),
        user_data=user_data,
        network_data=network,
        vendor_data=vendor or None,
    )
    return ConfigDrive(source="built", image=image, user_data_kind=kind)


def _network(value: Any, port_macs: Mapping[str, str] | None) -> dict[str, Any] | None:
    if not value:
        return None
    if isinstance(value, list):
        return build_network_data(
            value, port_macs=port_macs or {}, field="configdrive.network_data"
        )
    validate_network_data(value, field="configdrive.network_data")
    return dict(value)
