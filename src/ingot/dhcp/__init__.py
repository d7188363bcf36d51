"""DHCP providers: what the provisioning network's DHCP server tells each node (Ironic's
``[dhcp] dhcp_provider``)."""
