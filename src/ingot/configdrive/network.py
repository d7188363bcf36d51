"""Turn an operator's network description into OpenStack ``network_data.json``.

The description is what the Ansible/metalsmith world writes per server (seed 002)::

    - device: bond0            # type inferred from the name, or say type: bond|vlan|physical
      type: bond
      bond_mode: "1"           # numbers 0-6 or names; 1 == active-backup
      address: 10.100.100.10   # or 10.100.100.10/24, a list for dual stack, dhcp, none
      netmask: 255.255.255.0
      gateway: 10.100.100.1
      nameservers: [8.8.8.8]
      domain: example.com
      backend: [eth0, eth2]    # bond members / the VLAN's parent
    - device: eth1.500         # VLAN 500 on eth1
      type: vlan
      address: 192.168.100.100
      netmask: 255.255.255.0
      backend: [eth1]

Physical interfaces are named as the node's ports are (``port_macs``: name -> MAC, e.g. from
inspection, or :func:`macs_by_name` for "eth0, eth1... in port order"); a port MAC works as a
name too. cloud-init matches links to NICs by MAC, so the names only have to be consistent here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingot.configdrive.network_check import validate_network_data
from ingot.errors import InvalidInput

IPNet = ipaddress.IPv4Interface | ipaddress.IPv6Interface

#: Linux bonding modes by number, as ifcfg files and the seed's ``bond_mode: "1"`` write them.
BOND_MODES = {
    "0": "balance-rr",
    "1": "active-backup",
    "2": "balance-xor",
    "3": "broadcast",
    "4": "802.3ad",
    "5": "balance-tlb",
    "6": "balance-alb",
}
_ENTRY_KEYS = frozenset(
    {
        "device",
        "type",
        "mac",
        "backend",
        "bond_mode",
        "bond_miimon",
        "bond_xmit_hash_policy",
        "bond_lacp_rate",
        "vlan_id",
        "address",
        "netmask",
        "gateway",
        "nameservers",
        "domain",
        "routes",
        "mtu",
    }
)
_TYPES = {"physical": "phy", "phy": "phy", "ethernet": "phy", "bond": "bond", "vlan": "vlan"}
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_NO_IP = ("none", "manual", "link")


def macs_by_name(macs: Sequence[str], *, prefix: str = "eth") -> dict[str, str]:
    """Name port MACs ``eth0, eth1, ...`` in the order given (for nodes never inspected)."""
    return {f"{prefix}{i}": _norm_mac(m, f"port_macs[{i}]") for i, m in enumerate(macs)}


@dataclass
class _Link:
    doc: dict[str, Any]
    mac: str
    entry: int | None  # index of the describing entry, None when implied by a backend
    used_by: str | None = None
    vlan_ids: set[int] = field(default_factory=set)


def build_network_data(
    entries: Sequence[Mapping[str, Any]],
    *,
    port_macs: Mapping[str, str],
    field: str = "network",
) -> dict[str, Any]:
    """Return a ``network_data.json`` document (links, networks, services) for ``entries``.

    Raises InvalidInput naming ``field[index].key`` for: unknown keys, an interface that
    matches no port, a bond with no members, duplicate VLAN ids on a link, bad addresses.
    """
    if isinstance(entries, Mapping) or not isinstance(entries, Sequence):
        raise InvalidInput(f"{field} must be a list of interfaces, one entry per device")
    ports = {name: _norm_mac(mac, f"port_macs[{name}]") for name, mac in port_macs.items()}
    b = _Builder(ports, field)
    parsed = [b.parse(i, e) for i, e in enumerate(entries)]
    backends = {m for p in parsed for m in p.members}
    for p in sorted(parsed, key=lambda p: {"phy": 0, "bond": 1, "vlan": 2}[p.kind]):
        b.add_link(p)
    for p in parsed:
        b.add_networks(p, is_backend=p.device in backends)
    rank = {"phy": 0, "bond": 1, "vlan": 2}
    links = sorted((lk.doc for lk in b.links.values()), key=lambda d: rank[d["type"]])
    doc = {"links": links, "networks": b.networks}
    doc["services"] = [{"type": "dns", "address": a} for a in b.dns]
    validate_network_data(doc, field=f"{field} (as network_data)")
    return doc


@dataclass
class _Entry:
    index: int
    raw: Mapping[str, Any]
    device: str
    kind: str
    members: list[str]


class _Builder:
    def __init__(self, ports: Mapping[str, str], field: str) -> None:
        self.ports = ports
        self.field = field
        self.links: dict[str, _Link] = {}
        self.networks: list[dict[str, Any]] = []
        self.dns: list[str] = []
        self.seen: dict[str, int] = {}

    def err(self, index: int, key: str, msg: str) -> InvalidInput:
        return InvalidInput(f"{self.field}[{index}].{key}: {msg}")

    def parse(self, i: int, entry: Any) -> _Entry:
        if not isinstance(entry, Mapping):
            raise InvalidInput(f"{self.field}[{i}] must be a mapping with at least 'device'")
        unknown = sorted(set(entry) - _ENTRY_KEYS)
        if unknown:
            raise self.err(i, unknown[0], f"unknown key; accepted keys: {sorted(_ENTRY_KEYS)}")
        device = entry.get("device")
        if not isinstance(device, str) or not device:
            raise self.err(i, "device", "missing; name the interface, e.g. 'eth0' or 'bond0'")
        if device in self.seen:
            raise self.err(
                i,
                "device",
                f"{device!r} is already described by entry {self.seen[device]}; "
                "merge the two (address may be a list for several addresses)",
            )
        self.seen[device] = i
        kind = _TYPES.get(str(entry.get("type", "")).lower()) if "type" in entry else None
        if "type" in entry and kind is None:
            raise self.err(i, "type", f"{entry['type']!r} is not one of physical, bond, vlan")
        if kind is None:
            kind = (
                "vlan"
                if re.search(r"\.\d+$", device)
                else ("bond" if device.startswith("bond") or "bond_mode" in entry else "phy")
            )
        backend = entry.get("backend", [])
        members = [backend] if isinstance(backend, str) else list(backend)
        if not all(isinstance(m, str) and m for m in members):
            raise self.err(i, "backend", "must be a list of interface names")
        if kind == "vlan" and not members:
            members = [device.rsplit(".", 1)[0]] if "." in device else []
        return _Entry(i, entry, device, kind, members)

    def mac_of(self, name: str, i: int, key: str) -> str:
        if name in self.ports:
            return self.ports[name]
        lowered = name.lower()
        if lowered in self.ports.values():
            return lowered
        known = ", ".join(f"{n}={m}" for n, m in self.ports.items()) or "none enrolled"
        raise self.err(
            i,
            key,
            f"interface {name!r} matches no port of this node (ports: {known}); use "
            "one of those names or MACs, or enroll a port with its MAC",
        )

    def phy(self, name: str, i: int, key: str, *, explicit_mac: str | None = None) -> _Link:
        if name in self.links:
            return self.links[name]
        mac = explicit_mac or self.mac_of(name, i, key)
        link = _Link({"id": name, "type": "phy", "ethernet_mac_address": mac}, mac, None)
        self.links[name] = link
        return link

    def add_link(self, p: _Entry) -> None:
        raw, i = p.raw, p.index
        if p.kind == "phy":
            if p.members:
                raise self.err(i, "backend", "a physical interface has no backend; drop it")
            mac = _norm_mac(raw["mac"], f"{self.field}[{i}].mac") if "mac" in raw else None
            link = self.phy(p.device, i, "device", explicit_mac=mac)
        elif p.kind == "bond":
            link = self._bond(p)
        else:
            link = self._vlan(p)
        link.entry = i
        if "mtu" in raw:
            mtu = raw["mtu"]
            if not isinstance(mtu, int) or isinstance(mtu, bool) or not 68 <= mtu <= 65535:
                raise self.err(i, "mtu", f"{mtu!r} is not an MTU between 68 and 65535")
            link.doc["mtu"] = mtu

    def _bond(self, p: _Entry) -> _Link:
        raw, i = p.raw, p.index
        if not p.members:
            raise self.err(i, "backend", f"bond {p.device!r} has no members; list its NICs")
        mode = str(raw.get("bond_mode", "active-backup")).strip().lower()
        mode = BOND_MODES.get(mode, mode)
        if mode not in BOND_MODES.values():
            raise self.err(
                i,
                "bond_mode",
                f"{raw['bond_mode']!r} is not a bonding mode; use "
                f"0-6 or one of {sorted(BOND_MODES.values())}",
            )
        macs = []
        for member in p.members:
            link = self.phy(member, i, "backend")
            if link.used_by:
                raise self.err(i, "backend", f"{member!r} is already used by {link.used_by!r}")
            link.used_by = p.device
            macs.append(link.mac)
        doc: dict[str, Any] = {
            "id": p.device,
            "type": "bond",
            "bond_links": list(p.members),
            "bond_mode": mode,
            "ethernet_mac_address": macs[0],
        }
        for key in ("bond_miimon", "bond_xmit_hash_policy", "bond_lacp_rate"):
            if key in raw:
                doc[key] = raw[key]
        link = _Link(doc, macs[0], i)
        self.links[p.device] = link
        return link

    def _vlan(self, p: _Entry) -> _Link:
        raw, i = p.raw, p.index
        if len(p.members) != 1:
            raise self.err(
                i,
                "backend",
                f"VLAN {p.device!r} needs exactly one parent interface, e.g. backend: [eth1]",
            )
        vid = raw.get("vlan_id")
        if vid is None:
            suffix = re.search(r"\.(\d+)$", p.device)
            if suffix is None:
                raise self.err(
                    i, "vlan_id", "missing; name the device '<parent>.<id>' or set vlan_id"
                )
            vid = int(suffix.group(1))
        if not isinstance(vid, int) or isinstance(vid, bool) or not 1 <= vid <= 4094:
            raise self.err(i, "vlan_id", f"{vid!r} is not a VLAN id between 1 and 4094")
        parent_name = p.members[0]
        parent = self.links.get(parent_name) or self.phy(parent_name, i, "backend")
        if parent.doc["type"] == "vlan":
            raise self.err(
                i, "backend", f"{parent_name!r} is itself a VLAN; stacked VLANs are not supported"
            )
        if vid in parent.vlan_ids:
            raise self.err(
                i,
                "vlan_id",
                f"VLAN {vid} is already defined on {parent_name!r}; "
                "each VLAN id may appear once per link",
            )
        parent.vlan_ids.add(vid)
        doc = {
            "id": p.device,
            "type": "vlan",
            "vlan_link": parent_name,
            "vlan_id": vid,
            "vlan_mac_address": parent.mac,
        }
        link = _Link(doc, parent.mac, i)
        self.links[p.device] = link
        return link

    def add_networks(self, p: _Entry, *, is_backend: bool) -> None:
        raw, i = p.raw, p.index
        address = raw.get("address")
        if address is None:
            address = "none" if is_backend else "dhcp"
        if self.links[p.device].used_by and str(address).lower() not in _NO_IP:
            raise self.err(
                i,
                "address",
                f"{p.device!r} is a member of bond "
                f"{self.links[p.device].used_by!r}; put the address on the bond",
            )
        addresses = [address] if isinstance(address, str) else address
        if not isinstance(addresses, list) or not addresses:
            raise self.err(i, "address", "must be an IP address, a list of them, or 'dhcp'")
        nameservers = _str_list(
            raw.get("nameservers", []), self.err(i, "nameservers", "must be a list of IP addresses")
        )
        for ns in nameservers:
            _ip(ns, self.err(i, "nameservers", f"{ns!r} is not an IP address"))
        domains = _str_list(raw.get("domain", []), self.err(i, "domain", "must be a string"))
        gateways = _str_list(raw.get("gateway", []), self.err(i, "gateway", "must be an IP"))
        used_gateways: set[str] = set()
        for addr in addresses:
            net = self._network(p, str(addr), gateways, used_gateways)
            if net is None:
                continue
            if nameservers:
                # "services" is the OpenStack field; cloud-init before 23.x only reads the
                # per-network servers from "dns_nameservers", which newer versions also accept.
                net["services"] = [{"type": "dns", "address": a} for a in nameservers]
                net["dns_nameservers"] = list(nameservers)
            if domains:
                net["dns_search"] = domains
            self.networks.append(net)
        if unused := [g for g in gateways if g not in used_gateways]:
            raise self.err(
                i,
                "gateway",
                f"{unused[0]} is not inside any static subnet of "
                f"{p.device!r}; fix the address/netmask or the gateway",
            )
        self.dns.extend(a for a in nameservers if a not in self.dns)
        self._routes(p)

    def _network(
        self, p: _Entry, addr: str, gateways: list[str], used: set[str]
    ) -> dict[str, Any] | None:
        i, lowered = p.index, addr.lower()
        if lowered in _NO_IP:
            return None
        net: dict[str, Any] = {"id": f"network{len(self.networks)}", "link": p.device}
        if lowered in ("dhcp", "dhcp4", "dhcp6", "slaac"):
            net["type"] = {
                "dhcp": "ipv4_dhcp",
                "dhcp4": "ipv4_dhcp",
                "dhcp6": "ipv6_dhcp",
                "slaac": "ipv6_slaac",
            }[lowered]
            return net
        iface = _interface(
            addr,
            p.raw.get("netmask"),
            self.err(
                i,
                "address",
                f"{addr!r} is not an IP address (with /prefix or a netmask field) or 'dhcp'",
            ),
        )
        v6 = iface.version == 6
        net.update(
            type="ipv6" if v6 else "ipv4",
            ip_address=str(iface.ip),
            netmask=str(iface.netmask),
            routes=[],
        )
        for gw in gateways:
            gw_ip = _ip(gw, self.err(i, "gateway", f"{gw!r} is not an IP address"))
            if gw_ip.version == iface.version and gw_ip in iface.network:
                default = "::" if v6 else "0.0.0.0"
                net["routes"].append({"network": default, "netmask": default, "gateway": gw})
                used.add(gw)
        return net

    def _routes(self, p: _Entry) -> None:
        routes = p.raw.get("routes", [])
        if not isinstance(routes, list):
            raise self.err(p.index, "routes", "must be a list of {to: CIDR, via: gateway}")
        for j, route in enumerate(routes):
            bad = self.err(
                p.index,
                f"routes[{j}]",
                "needs 'to' (CIDR) and 'via' (gateway), or network/netmask/gateway",
            )
            if not isinstance(route, Mapping):
                raise bad
            to = route.get("to") or (
                f"{route.get('network')}/{route.get('netmask')}" if "network" in route else None
            )
            via = route.get("via") or route.get("gateway")
            if not to or not via:
                raise bad
            try:
                dest = ipaddress.ip_network(str(to), strict=False)
            except ValueError as exc:
                raise bad from exc
            gw = _ip(str(via), bad)
            target = next(
                (
                    n
                    for n in self.networks
                    if n["link"] == p.device
                    and "ip_address" in n
                    and gw in ipaddress.ip_interface(f"{n['ip_address']}/{n['netmask']}").network
                ),
                None,
            )
            if target is None:
                raise self.err(
                    p.index,
                    f"routes[{j}].via",
                    f"{via} is not inside a static subnet of {p.device!r}",
                )
            target["routes"].append(
                {
                    "network": str(dest.network_address),
                    "netmask": str(dest.netmask),
                    "gateway": str(gw),
                }
            )


def _norm_mac(mac: Any, where: str) -> str:
    value = str(mac).strip().lower().replace("-", ":")
    if not _MAC.match(value):
        raise InvalidInput(f"{where}: {mac!r} is not a MAC address like 52:54:00:12:34:56")
    return value


def _str_list(value: Any, err: InvalidInput) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise err
    return list(items)


def _ip(value: str, err: InvalidInput) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(value)
    except ValueError as exc:
        raise err from exc


def _interface(addr: str, netmask: Any, err: InvalidInput) -> IPNet:
    try:
        if "/" in addr:
            return ipaddress.ip_interface(addr)
        ip = ipaddress.ip_address(addr)
        if netmask is None:
            if ip.version == 4:
                raise err
            return ipaddress.ip_interface(f"{addr}/64")
        return ipaddress.ip_interface(f"{addr}/{netmask}")
    except ValueError as exc:
        raise err from exc
