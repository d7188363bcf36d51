"""Interfaces that work through ingot-agent (IPA-compatible) in the deploy ramdisk."""
