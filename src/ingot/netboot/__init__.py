"""Boot server: per-node PXE/iPXE/GRUB configs, TFTP, HTTP and dnsmasq DHCP host entries.

Each network service is one module with one typed ``Config`` and one ``start()``; nothing here
reads the environment or global configuration.
"""
