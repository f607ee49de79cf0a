"""Which shard wants which partition: rendezvous hashing over the live shards."""

from __future__ import annotations

from collections import Counter

from cluster.leases import desired_owners, holder_name, token_of

PARTITIONS = 256


def test_every_partition_has_exactly_one_wanted_owner_among_the_members() -> None:
    members = ["podium-shard-0", "podium-shard-1", "podium-shard-2"]
    owners = desired_owners(PARTITIONS, members)
    assert len(owners) == PARTITIONS
    assert set(owners) == set(members)


def test_no_member_takes_more_than_its_fair_share_rounded_up() -> None:
    for partitions in (16, 256):
        for count in (1, 2, 3, 4, 7, 8):
            members = [f"podium-shard-{i}" for i in range(count)]
            shares = Counter(desired_owners(partitions, members))
            assert sum(shares.values()) == partitions
            assert max(shares.values()) <= -(-partitions // count), (partitions, count, shares)
            assert len(shares) == count, "every member gets a share"


def test_a_joining_member_takes_its_share_and_little_else_moves() -> None:
    members = ["podium-shard-0", "podium-shard-1", "podium-shard-2"]
    before = desired_owners(PARTITIONS, members)
    after = desired_owners(PARTITIONS, [*members, "podium-shard-3"])
    moved = [p for p in range(PARTITIONS) if before[p] != after[p]]
    to_new = [p for p in moved if after[p] == "podium-shard-3"]
    assert len(to_new) == PARTITIONS // 4
    assert len(moved) - len(to_new) <= PARTITIONS // 20, "moves among the old members stay few"


def test_a_leaving_member_gives_up_its_partitions_and_little_else_moves() -> None:
    members = ["podium-shard-0", "podium-shard-1", "podium-shard-2", "podium-shard-3"]
    before = desired_owners(PARTITIONS, members)
    after = desired_owners(PARTITIONS, [m for m in members if m != "podium-shard-1"])
    moved = [p for p in range(PARTITIONS) if before[p] != after[p]]
    its_own = [p for p in moved if before[p] == "podium-shard-1"]
    assert len(its_own) == before.count("podium-shard-1")
    assert len(moved) - len(its_own) <= PARTITIONS // 20


def test_the_assignment_does_not_depend_on_the_order_members_are_listed() -> None:
    members = ["podium-shard-3", "podium-shard-1", "podium-shard-2"]
    assert desired_owners(PARTITIONS, members) == desired_owners(PARTITIONS, sorted(members))


def test_no_members_wants_no_owner() -> None:
    assert desired_owners(4, []) == [None] * 4


def test_a_token_names_its_holder() -> None:
    assert holder_name(token_of("podium-shard-12", 7)) == "podium-shard-12"
    assert holder_name("") == ""
