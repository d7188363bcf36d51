"""Structural checks of a ``network_data.json`` document before it goes on a config drive.

A config drive with a broken network_data.json gives a node that boots with no network and
nobody to tell; cloud-init's converter raises KeyError on e.g. a VLAN without
``vlan_mac_address``. So both documents Ingot builds and raw ones from clients are checked
here, and each error names the entry index, the field and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingot.errors import InvalidInput

#: Link types cloud-init treats as physical NICs (helpers/openstack.py KNOWN_PHYSICAL_TYPES).
PHYSICAL_LINK_TYPES = frozenset(
    {"bridge", "dvs", "ethernet", "hw_veb", "hyperv", "ovs", "phy", "tap", "vhostuser", "vif"}
)
NETWORK_TYPES = frozenset(
    {
        "ipv4",
        "ipv6",
        "ipv4_dhcp",
        "ipv6_dhcp",
        "ipv6_slaac",
        "ipv6_dhcpv6-stateless",
        "ipv6_dhcpv6-stateful",
    }
)


def validate_network_data(doc: Any, *, field: str = "network_data") -> None:
    """Raise InvalidInput unless ``doc`` is a coherent links/networks/services document."""
    if not isinstance(doc, Mapping):
        raise InvalidInput(
            f"{field} must be a JSON object with 'links', 'networks' and 'services', "
            f"got {type(doc).__name__}"
        )
    unknown = set(doc) - {"links", "networks", "services"}
    if unknown:
        raise InvalidInput(
            f"{field} has unknown keys {sorted(unknown)}; only 'links', 'networks' and "
            "'services' belong in network_data.json"
        )
    links = _list_of_objects(doc.get("links", []), f"{field}.links")
    networks = _list_of_objects(doc.get("networks", []), f"{field}.networks")
    services = _list_of_objects(doc.get("services", []), f"{field}.services")
    ids = _check_links(links, field)
    _check_networks(networks, ids, field)
    for i, svc in enumerate(services):
        _require(svc, "type", f"{field}.services[{i}]", "e.g. 'dns'")
        _require(svc, "address", f"{field}.services[{i}]", "e.g. '8.8.8.8'")


def _check_links(links: list[Mapping[str, Any]], field: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    for i, link in enumerate(links):
        where = f"{field}.links[{i}]"
        link_id = _require(link, "id", where, "a unique name such as 'eth0' or 'bond0'")
        link_type = _require(link, "type", where, "'phy', 'bond' or 'vlan'")
        if link_id in ids:
            raise InvalidInput(f"{where}.id {link_id!r} is used twice; link ids must be unique")
        ids[link_id] = link_type
    for i, link in enumerate(links):
        where = f"{field}.links[{i}]"
        if link["type"] == "bond":
            members = link.get("bond_links")
            if not isinstance(members, list) or not members:
                raise InvalidInput(
                    f"{where}.bond_links: bond {link['id']!r} has no members; list the ids of "
                    "its physical links, e.g. ['eth0', 'eth1']"
                )
            for member in members:
                if ids.get(member) not in PHYSICAL_LINK_TYPES:
                    raise InvalidInput(
                        f"{where}.bond_links: {member!r} is not the id of a physical link in "
                        f"{field}.links; add it as a 'phy' link with its MAC"
                    )
        elif link["type"] == "vlan":
            parent = link.get("vlan_link")
            if parent not in ids:
                raise InvalidInput(
                    f"{where}.vlan_link {parent!r} is not a link id; point it at the "
                    "physical link or bond that carries the VLAN"
                )
            vid = link.get("vlan_id")
            if not isinstance(vid, int) or isinstance(vid, bool) or not 1 <= vid <= 4094:
                raise InvalidInput(f"{where}.vlan_id must be an integer 1-4094, got {vid!r}")
            _require(link, "vlan_mac_address", where, "the MAC of the parent link")
        elif not link.get("ethernet_mac_address") and not link.get("name"):
            raise InvalidInput(
                f"{where}.ethernet_mac_address is missing; cloud-init finds the NIC by MAC, "
                "so give the port's MAC address"
            )
    return ids


def _check_networks(networks: list[Mapping[str, Any]], ids: Mapping[str, str], field: str) -> None:
    for i, net in enumerate(networks):
        where = f"{field}.networks[{i}]"
        _require(net, "id", where, "a unique name such as 'network0'")
        link = _require(net, "link", where, "the id of a link")
        if link not in ids:
            raise InvalidInput(f"{where}.link {link!r} is not the id of any entry in links")
        net_type = _require(net, "type", where, f"one of {sorted(NETWORK_TYPES)}")
        if net_type not in NETWORK_TYPES:
            raise InvalidInput(
                f"{where}.type {net_type!r} is unknown; use one of {sorted(NETWORK_TYPES)}"
            )
        if net_type in ("ipv4", "ipv6"):
            _require(net, "ip_address", where, "the static address")
            _require(net, "netmask", where, "e.g. '255.255.255.0'")
        routes = _list_of_objects(net.get("routes", []), f"{where}.routes")
        for j, route in enumerate(routes):
            for key in ("network", "netmask", "gateway"):
                _require(route, key, f"{where}.routes[{j}]", "as in {'network': '0.0.0.0', ...}")


def _list_of_objects(value: Any, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise InvalidInput(f"{where} must be a list of JSON objects")
    return value


def _require(obj: Mapping[str, Any], key: str, where: str, hint: str) -> Any:
    value = obj.get(key)
    if value in (None, ""):
        raise InvalidInput(f"{where}.{key} is missing; set it to {hint}")
    return value
