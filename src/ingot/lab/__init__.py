"""The lab: virtual servers and their BMCs, speaking real protocols on loopback."""
