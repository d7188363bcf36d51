"""OpenStack config drives: build ``config-2`` ISOs from meta/user/network data, as Ironic does.

Entry points: :func:`resolve_configdrive` for the provision API's ``configdrive`` field,
:func:`build_iso` / :func:`read_iso` for the image, :func:`build_network_data` for the operator's
interface list, :func:`merge_ignition` for CoreOS user data.
"""

from ingot.configdrive.compose import compose_configdrive
from ingot.configdrive.ignition import looks_like_ignition, merge_ignition, parse_ignition
from ingot.configdrive.iso import VERSIONS, VOLUME_LABEL, build_iso, read_iso, volume_label
from ingot.configdrive.metadata import apply_ironic_defaults, build_meta_data
from ingot.configdrive.network import build_network_data, macs_by_name
from ingot.configdrive.network_check import validate_network_data
from ingot.configdrive.request import ConfigDrive, resolve_configdrive
from ingot.configdrive.transport import MAX_IMAGE_BYTES, decode, encode
from ingot.configdrive.userdata import (
    UserDataKind,
    classify_user_data,
    encode_user_data,
    validate_user_data,
)

__all__ = [
    "MAX_IMAGE_BYTES",
    "VERSIONS",
    "VOLUME_LABEL",
    "ConfigDrive",
    "UserDataKind",
    "apply_ironic_defaults",
    "build_iso",
    "build_meta_data",
    "build_network_data",
    "classify_user_data",
    "compose_configdrive",
    "decode",
    "encode",
    "encode_user_data",
    "looks_like_ignition",
    "macs_by_name",
    "merge_ignition",
    "parse_ignition",
    "read_iso",
    "resolve_configdrive",
    "validate_network_data",
    "validate_user_data",
    "volume_label",
]
