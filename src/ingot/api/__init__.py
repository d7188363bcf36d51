"""The HTTP API: Ironic v1 compatible."""
