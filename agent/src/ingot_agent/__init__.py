"""ingot-agent: the deploy agent that runs in the ramdisk (IPA-compatible protocol)."""

__version__ = "0.1.0"
