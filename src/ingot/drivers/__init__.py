"""Hardware types and interface implementations."""
