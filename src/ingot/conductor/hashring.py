"""Which conductor owns which node: a consistent hash ring per conductor group.

Several conductors share one database; only a node's owner acts on it. Hashing the node UUID onto
a ring of conductor points means that when a conductor joins or leaves, only the nodes it gains or
loses change owner, so the others keep their work (Ironic does the same, with the same
``hash_partition_exponent`` setting). Pure data: the caller builds a ring from the conductors
alive in the database and rebuilds it when that list changes.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Mapping

from ingot.errors import ClientError, InvalidInput


class NoConductorAlive(ClientError):
    """No live conductor serves the node's conductor group (400, like Ironic's NoValidHost)."""


def _hash(text: str) -> int:
    # md5 as Ironic's ring uses: spread, not secrecy, is what matters here.
    return int.from_bytes(hashlib.md5(text.encode(), usedforsecurity=False).digest(), "big")


class HashRing:
    """A ring over ``hosts``; each host holds ``2 ** partition_exponent`` points on it."""

    def __init__(self, hosts: Iterable[str], partition_exponent: int = 5) -> None:
        if not 0 <= partition_exponent <= 16:
            raise InvalidInput(
                f"hash_partition_exponent must be between 0 and 16, got {partition_exponent}."
            )
        self.hosts: frozenset[str] = frozenset(hosts)
        partitions = 2**partition_exponent
        points = sorted(
            (_hash(f"{host}-{p}"), host) for host in self.hosts for p in range(partitions)
        )
        self._positions = [position for position, _ in points]
        self._owners = [host for _, host in points]

    def get_hosts(self, key: str, replicas: int = 1) -> list[str]:
        """The first ``replicas`` distinct hosts clockwise from ``key``'s hash; owner first.

        Returns fewer when the ring has fewer hosts; raises InvalidInput on an empty ring or
        ``replicas < 1``.
        """
        if replicas < 1:
            raise InvalidInput(f"replicas must be at least 1, got {replicas}.")
        if not self._owners:
            raise InvalidInput("The hash ring has no hosts; register a conductor first.")
        wanted = min(replicas, len(self.hosts))
        found: list[str] = []
        start = bisect.bisect(self._positions, _hash(key))
        for offset in range(len(self._owners)):
            host = self._owners[(start + offset) % len(self._owners)]
            if host not in found:
                found.append(host)
                if len(found) == wanted:
                    break
        return found


class RingSet:
    """One ring per conductor group, built from the live conductors (host -> group)."""

    def __init__(self, conductors: Mapping[str, str], partition_exponent: int = 5) -> None:
        by_group: dict[str, list[str]] = {}
        for host, group in conductors.items():
            by_group.setdefault(group, []).append(host)
        self._rings = {g: HashRing(hosts, partition_exponent) for g, hosts in by_group.items()}

    @property
    def groups(self) -> list[str]:
        """Conductor groups with at least one live conductor, sorted."""
        return sorted(self._rings)

    def hosts_for(self, node_uuid: str, group: str, replicas: int = 1) -> list[str]:
        """The conductors for a node in ``group``, owner first, then takeover candidates.

        Raises NoConductorAlive naming the group and the groups that do have conductors.
        """
        ring = self._rings.get(group)
        if ring is None:
            alive = ", ".join(f'"{g}"' for g in self.groups) or "none"
            raise NoConductorAlive(
                "No valid host was found. Reason: no conductor is alive in conductor group "
                f'"{group}" for node {node_uuid} (groups with live conductors: {alive}). Start a '
                f'conductor with conductor_group = "{group}" or change the node\'s '
                "conductor_group."
            )
        return ring.get_hosts(node_uuid, replicas)

    def owner(self, node_uuid: str, group: str) -> str:
        """The one conductor that acts on the node; raises NoConductorAlive."""
        return self.hosts_for(node_uuid, group)[0]

    def owns(self, host: str, node_uuid: str, group: str) -> bool:
        """True when ``host`` owns the node; False too when nobody in the group is alive."""
        ring = self._rings.get(group)
        return ring is not None and ring.get_hosts(node_uuid)[0] == host
