"""Redfish protocol code over sushy: knows BMCs and systems, not nodes or tasks."""
