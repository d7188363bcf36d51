"""The deploy ramdisk real servers boot: Debian kernel + initramfs with ingot-agent.

``ingot ramdisk build`` (see :mod:`ingot.ramdisk.build`) is Ingot's equivalent of
ironic-python-agent-builder: debootstrap minbase + python3 + the agent wheel + the kernel
modules servers need for disks and NICs, trimmed, packed reproducibly and cached by content.
"""
