"""MAC address spelling: one canonical form in, the forms each boot loader looks up out."""

from __future__ import annotations

import re

from ingot.errors import InvalidInput

_MAC = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")


def normalize_mac(mac: str) -> str:
    """Return ``mac`` as lower-case ``aa:bb:cc:dd:ee:ff``.

    Raises InvalidInput when it is not a 48-bit MAC (colons, dashes or bare hex accepted).
    """
    text = mac.strip().lower()
    if not _MAC.match(text):
        raise InvalidInput(
            f"MAC address {mac!r} is not valid; expected six hex pairs like 52:54:00:12:34:56."
        )
    digits = text.replace(":", "").replace("-", "")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def hyphenated(mac: str) -> str:
    """``aa-bb-cc-dd-ee-ff``: iPXE's ``${mac:hexhyp}`` and pxelinux's file name spelling."""
    return normalize_mac(mac).replace(":", "-")


def bootif(mac: str) -> str:
    """The ``BOOTIF=`` value pxelinux's ``ipappend 2`` produces: ``01-`` (Ethernet) + hyphens."""
    return "01-" + hyphenated(mac)
