"""Bifrost's legacy CSV inventory, one server per line, columns in Bifrost's order.

Columns (0-based, from Bifrost's documentation): 0 MAC, 1 BMC user, 2 BMC password, 3 BMC
address, 4 CPU count, 5 memory MiB, 6 disk GiB, 7 flavor and 8 type (unused by Bifrost, kept in
``extra["ingot_host_vars"]``), 9 node UUID, 10 node name, 11 host IPv4 address, 12-15 IPMI
bridging (target channel, target address, transit channel, transit address), 16 driver
(default ``ipmi``), 17 provisioning IPv4 address. Empty cells mean "not given". Like Bifrost,
``cpu_arch`` is ``x86_64``. Blank lines, ``#`` comments and a header line are skipped.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from ingot.inventory import assemble
from ingot.inventory import field_checks as check
from ingot.inventory.bmc import BmcFields, Field, driver_info
from ingot.inventory.driver_names import IPMI
from ingot.inventory.model import NodeRequest
from ingot.inventory.problems import ProblemLog, Where

COLUMNS = (
    "mac",
    "bmc_username",
    "bmc_password",
    "bmc_address",
    "cpus",
    "memory_mb",
    "local_gb",
    "flavor",
    "type",
    "uuid",
    "name",
    "ipv4_address",
    "ipmi_target_channel",
    "ipmi_target_address",
    "ipmi_transit_channel",
    "ipmi_transit_address",
    "driver",
    "provisioning_ipv4_address",
)


def parse_bifrost_csv(text: str, file: str, log: ProblemLog) -> list[NodeRequest]:
    requests = []
    index = 0
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if index == 0 and cells[0].lower() in ("mac", "mac address", "mac_address"):
            continue  # a header line
        request = _row(cells, Where(file, index, _cell(cells, 10), line_no), log)
        index += 1
        if request is not None:
            requests.append(request)
    return requests


def _cell(cells: list[str], column: int) -> str | None:
    return cells[column] if column < len(cells) and cells[column] != "" else None


def _field(cells: list[str], column: int) -> Field:
    return Field(f"column {column} ({COLUMNS[column]})", _cell(cells, column))


def _row(cells: list[str], where: Where, log: ProblemLog) -> NodeRequest | None:
    if len(cells) > len(COLUMNS):
        log.add(
            where,
            None,
            f"{len(cells)} columns, Bifrost's format has {len(COLUMNS)}",
            "check for a stray comma; quote values that contain commas",
        )
        return None
    notes: list[str] = []
    node: dict[str, Any] = {}
    if _cell(cells, 10) is not None:
        name = check.node_name(log, where, _field(cells, 10).name, _cell(cells, 10))
        if name is not None:
            node["name"] = name
    if _cell(cells, 9) is not None:
        node["uuid"] = _cell(cells, 9)
    written = _cell(cells, 16) or IPMI
    found = assemble.driver(log, where, Field(_field(cells, 16).name, written))
    if found is not None:
        assemble.pin_interfaces(node, found, notes)
        bmc = BmcFields(
            _field(cells, 3),
            Field("port", None),
            _field(cells, 1),
            _field(cells, 2),
            Field("system_id", None),
        )
        info = driver_info(found.hardware_type, bmc, where, log, notes)
        if found.hardware_type == IPMI:
            info.update(_bridging(cells))
        node["driver_info"] = info
    node["properties"] = assemble.properties(
        log,
        where,
        cpus=_field(cells, 4),
        memory_mb=_field(cells, 5),
        local_gb=_field(cells, 6),
        cpu_arch=Field("cpu_arch", "x86_64"),
    )
    host_vars = {COLUMNS[c]: _cell(cells, c) for c in (7, 8, 11, 17) if _cell(cells, c)}
    if host_vars:
        node["extra"] = {"ingot_host_vars": host_vars}
    mac = _field(cells, 0)
    if not mac.given:
        log.add(
            where, mac.name, "missing the MAC of the PXE NIC", "put the MAC in the first column"
        )
        ports = []
    else:
        ports = assemble.ports_from_macs(log, where, mac.name, [mac.value])
    if log.count_for(where):
        return None
    return NodeRequest(node=node, ports=ports, notes=notes, source=where.source, where=where)


def _bridging(cells: list[str]) -> dict[str, Any]:
    """IPMI bridging as Bifrost set it: single with a target, dual with a transit hop too."""
    info = {COLUMNS[c]: _cell(cells, c) for c in range(12, 16) if _cell(cells, c)}
    if "ipmi_transit_channel" in info and "ipmi_transit_address" in info:
        info["ipmi_bridging"] = "dual"
    elif "ipmi_target_channel" in info and "ipmi_target_address" in info:
        info["ipmi_bridging"] = "single"
    return info
