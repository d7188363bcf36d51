"""User data kinds as cloud-init and Ignition see them, and the checks that catch dead data."""

from __future__ import annotations

from typing import Any

import pytest

from ingot.configdrive.userdata import (
    UserDataKind,
    classify_user_data,
    encode_user_data,
    validate_user_data,
)
from ingot.errors import InvalidInput

# seed 002's user_data file, verbatim
SEED002_USER_DATA = b"""#cloud-config

users:
  - name: admin
    lock_passwd: False
    plain_text_passwd: 'admin'
    gecos: Admin User
    groups: [wheel, adm, audio, cdrom, dialout, floppy, video, dip]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash

runcmd:
  - lvextend -r -l +30%FREE /dev/mapper/system-root
  - lvextend -r -l +60%FREE /dev/mapper/system-var
  - lvextend -r -l +10%FREE /dev/mapper/system-tmp
"""
MIME = (
    b'Content-Type: multipart/mixed; boundary="==XX=="\nMIME-Version: 1.0\n\n--==XX==\n'
    b"Content-Type: text/x-shellscript\n\n#!/bin/sh\necho hi\n--==XX==--\n"
)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (SEED002_USER_DATA, UserDataKind.CLOUD_CONFIG),
        (b"#!/bin/bash\necho hi\n", UserDataKind.SCRIPT),
        (MIME, UserDataKind.MIME_MULTIPART),
        (b'{"ignition": {"version": "3.4.0"}}', UserDataKind.IGNITION),
        (b"## template: jinja\n#cloud-config\n", UserDataKind.JINJA),
        (b"#include\nhttp://x/y\n", UserDataKind.INCLUDE),
        (b"\x1f\x8b\x08\x00", UserDataKind.GZIP),
        (b"  \n", UserDataKind.EMPTY),
        (None, UserDataKind.EMPTY),
        (b"just text", UserDataKind.OTHER),
    ],
)
def test_classify(data: bytes | None, kind: UserDataKind) -> None:
    assert classify_user_data(data) is kind
    assert validate_user_data(data) is kind


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("#!/bin/sh\n", b"#!/bin/sh\n"),
        ({"ignition": {"version": "3.4.0"}}, b'{"ignition": {"version": "3.4.0"}}'),
        (["a", 1], b'["a", 1]'),
    ],
)
def test_encode_like_ironic(value: Any, expected: bytes | None) -> None:
    assert encode_user_data(value) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"#cloud-config\nusers: [\n", "not valid YAML at line 3"),
        (b"#cloud-config\n- just\n- a list\n", "must be a YAML mapping"),
        (b'{"ignition": {"version": "3.4.0"},}', "not valid JSON"),
    ],
)
def test_broken_user_data_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate_user_data(data)


def test_json_mentioning_ignition_without_the_section_is_opaque() -> None:
    assert validate_user_data(b'{"note": "ignition later"}') is UserDataKind.OTHER
