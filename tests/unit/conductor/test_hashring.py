"""Node ownership: stable, spread out, and moving as little as possible when conductors change."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable

import pytest

from ingot.conductor.hashring import HashRing, NoConductorAlive, RingSet
from ingot.errors import InvalidInput

HOSTS = ["conductor-1.example.com", "conductor-2.example.com", "conductor-3.example.com"]
KEYS = [str(uuid.UUID(int=i * 7919 + 17)) for i in range(10_000)]


@pytest.fixture(scope="module")
def owners() -> dict[str, str]:
    ring = HashRing(HOSTS)
    return {key: ring.get_hosts(key)[0] for key in KEYS}


def test_assignment_is_stable_across_instances_and_host_order(owners: dict[str, str]) -> None:
    again = HashRing(reversed(HOSTS))
    assert all(again.get_hosts(key)[0] == owner for key, owner in owners.items())


def test_distribution_is_even_ish(owners: dict[str, str]) -> None:
    counts = Counter(owners.values())
    assert set(counts) == set(HOSTS)
    # 32 points per host: each gets roughly a third, never less than a fifth or more than half.
    assert all(2_000 < n < 5_000 for n in counts.values()), counts


def test_only_the_leaving_hosts_keys_move(owners: dict[str, str]) -> None:
    gone = HOSTS[1]
    smaller = HashRing(h for h in HOSTS if h != gone)
    for key, owner in owners.items():
        new = smaller.get_hosts(key)[0]
        if owner == gone:
            assert new != gone
        else:
            assert new == owner, key


def test_a_joining_host_only_takes_keys(owners: dict[str, str]) -> None:
    bigger = HashRing([*HOSTS, "conductor-4.example.com"])
    moved = {k for k, owner in owners.items() if bigger.get_hosts(k)[0] != owner}
    assert moved
    assert all(bigger.get_hosts(k)[0] == "conductor-4.example.com" for k in moved)


@pytest.mark.parametrize(("replicas", "expected"), [(1, 1), (2, 2), (3, 3), (5, 3)])
def test_replicas_are_distinct_hosts_owner_first(replicas: int, expected: int) -> None:
    ring = HashRing(HOSTS)
    for key in KEYS[:100]:
        hosts = ring.get_hosts(key, replicas)
        assert len(hosts) == len(set(hosts)) == expected
        assert hosts[0] == ring.get_hosts(key)[0]


def test_partition_exponent_changes_the_ring() -> None:
    fine = HashRing(HOSTS, partition_exponent=8)
    counts = Counter(fine.get_hosts(k)[0] for k in KEYS)
    assert all(2_800 < n < 4_000 for n in counts.values()), counts


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: HashRing([]).get_hosts("k"), "no hosts"),
        (lambda: HashRing(HOSTS).get_hosts("k", replicas=0), "replicas must be at least 1"),
        (lambda: HashRing(HOSTS, partition_exponent=40), "hash_partition_exponent"),
    ],
)
def test_bad_ring_use_is_refused(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build()


def test_ringset_keeps_groups_apart() -> None:
    rings = RingSet({"a1": "", "a2": "", "r1": "rack-2", "r2": "rack-2"})
    assert rings.groups == ["", "rack-2"]
    for key in KEYS[:200]:
        assert rings.owner(key, "") in {"a1", "a2"}
        owner = rings.owner(key, "rack-2")
        assert owner in {"r1", "r2"}
        assert rings.owns(owner, key, "rack-2")
        assert not rings.owns("a1", key, "rack-2")
    assert rings.hosts_for(KEYS[0], "rack-2", replicas=2)[1] in {"r1", "r2"}


def test_ringset_without_conductor_in_group_says_what_to_do() -> None:
    rings = RingSet({"a1": "", "r1": "rack-2"})
    with pytest.raises(NoConductorAlive) as err:
        rings.owner("1be26c0b-03f2-4d2e-ae87-c02d7f33c123", "rack-9")
    text = str(err.value)
    assert 'conductor group "rack-9"' in text
    assert "1be26c0b-03f2-4d2e-ae87-c02d7f33c123" in text
    assert '"", "rack-2"' in text
    assert err.value.status == 400
    assert not rings.owns("a1", "x", "rack-9")


def test_ringset_with_no_conductors_at_all() -> None:
    with pytest.raises(NoConductorAlive, match="groups with live conductors: none"):
        RingSet({}).owner("x", "")
