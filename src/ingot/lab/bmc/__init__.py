"""Virtual BMCs for lab machines: IPMI 2.0 lanplus (``ipmi``) and Redfish (``redfish``).

Both serve the same :class:`ingot.lab.machine.VirtualMachine` objects, so a test can set power
through one protocol and read it back through the other, or change it "out of band" directly.
"""
