"""Inventory files (TripleO, Bifrost, Ansible per-server YAML, Ironic create) as API requests.

Pure parsing: no HTTP, no database. ``parse_inventory`` returns the ``POST`` bodies the importer
sends; see ``parse.py`` for the contract and the format modules for each file's field mapping.
"""

from ingot.inventory.driver_names import KNOWN_NAMES as KNOWN_DRIVER_NAMES
from ingot.inventory.driver_names import DriverName, lookup_driver
from ingot.inventory.loading import FORMATS
from ingot.inventory.model import ChassisRequest, Inventory, NodeRequest, is_secret_key, redact
from ingot.inventory.network_vars import resolve_network
from ingot.inventory.parse import parse_inventory
from ingot.inventory.problems import InventoryInvalid, Problem, Where

__all__ = [
    "FORMATS",
    "KNOWN_DRIVER_NAMES",
    "ChassisRequest",
    "DriverName",
    "Inventory",
    "InventoryInvalid",
    "NodeRequest",
    "Problem",
    "Where",
    "is_secret_key",
    "lookup_driver",
    "parse_inventory",
    "redact",
    "resolve_network",
]
