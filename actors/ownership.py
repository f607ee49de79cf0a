"""Which partitions a shard serves: leases taken, renewed, handed over and lost.

A shard beats in the registry and, every tick, renews its leases, works out which
partitions the members want it to own (rendezvous hashing over the live shards), starts
handing over those another member wants, and takes those wanted for it that are free.

A hand-over is graceful: the partition stops taking calls from gateways at once
(they are answered `moved` and retried by the gateway at the new owner), the work it
has in flight on Python pools and HTTP calls comes back and is applied, and only then
is the lease released, marked clean, so the next owner loads executions on demand
without dispatching anything again. A partition whose drain takes longer than
`DRAIN_SECONDS` is released unclean, and its next owner recovers it as after a crash.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field

from cluster.leases import Acquired, LeaseStore, ShardRecord, desired_owners, token_of

log = logging.getLogger("podium.ownership")

DRAIN_SECONDS = 10.0


def now_ms() -> int:
    return int(time.time() * 1000)


def node_id() -> str:
    """The Ray node this process runs on (the host name outside Ray)."""
    try:
        import ray

        if ray.is_initialized():
            return str(ray.get_runtime_context().get_node_id())
    except Exception:  # outside a Ray worker: a plain host name is as good a label
        pass
    return socket.gethostname()


@dataclass(slots=True)
class TickChanges:
    lost: set[int] = field(default_factory=set)  # taken over by another shard: drop at once
    acquired: list[Acquired] = field(default_factory=list)


class Ownership:
    """One shard's leases and its view of who owns every partition."""

    def __init__(self, name: str, leases: LeaseStore, lease_ms: int) -> None:
        self.name = name
        self.leases = leases
        self.lease_ms = lease_ms
        self.partitions = leases.partitions
        self.tokens: dict[int, str] = {}
        # Turns written to each held partition, as its lease counts them (`seq`).
        self.seqs: dict[int, int] = {}
        # Partitions being handed over -> monotonic deadline of their drain.
        self.leaving: dict[int, float] = {}
        self.owners: list[str] = [""] * self.partitions  # holder shard name per partition
        self.wanted: list[str | None] = [None] * self.partitions  # who the members want per partition
        self.node = node_id()

    @property
    def tick_seconds(self) -> float:
        return min(1.0, self.lease_ms / 4000)

    def owns(self, partition: int) -> bool:
        return partition in self.tokens

    def serves(self, partition: int) -> bool:
        """Takes calls from gateways: owned and not being handed over."""
        return partition in self.tokens and partition not in self.leaving

    def serving(self) -> list[int]:
        return sorted(p for p in self.tokens if p not in self.leaving)

    def owner_of(self, partition: int) -> str:
        return self.owners[partition]

    def wanted_owner(self, partition: int) -> str | None:
        return self.wanted[partition]

    async def tick(self) -> TickChanges:
        changes = TickChanges()
        now = now_ms()
        await self.leases.beat(ShardRecord(self.name, self.node, os.getpid(), now))
        changes.lost = await self.leases.renew(self.tokens, now, self.lease_ms)
        self.drop(changes.lost)
        if changes.lost:
            log.warning("%s lost %d partitions to other shards", self.name, len(changes.lost))
        members = await self.leases.members(now, self.lease_ms)
        self.wanted = wanted = desired_owners(self.partitions, members)
        for partition in self.tokens:
            if wanted[partition] not in (None, self.name) and partition not in self.leaving:
                self.leaving[partition] = time.monotonic() + DRAIN_SECONDS
        missing = [p for p, owner in enumerate(wanted) if owner == self.name and p not in self.tokens]
        changes.acquired = await self.leases.acquire(self.name, missing, now, self.lease_ms)
        for taken in changes.acquired:
            self.tokens[taken.partition] = token_of(self.name, taken.epoch)
            self.seqs[taken.partition] = taken.seq
        self.owners = await self.leases.owners()
        return changes

    def drop(self, partitions: set[int]) -> None:
        """Partitions another shard holds now."""
        for partition in partitions:
            self.tokens.pop(partition, None)
            self.seqs.pop(partition, None)
            self.leaving.pop(partition, None)

    def fences(self) -> dict[int, tuple[str, int]]:
        """What a turn expects of each partition's lease: our token, and the turns written."""
        return {p: (token, self.seqs.get(p, 0)) for p, token in self.tokens.items()}

    def counted(self, partitions: set[int]) -> None:
        """A turn that wrote these partitions landed: each lease counted one more turn."""
        for partition in partitions:
            self.seqs[partition] = self.seqs.get(partition, 0) + 1

    def drain_overdue(self, partition: int) -> bool:
        return time.monotonic() > self.leaving.get(partition, float("inf"))

    async def release(self, partitions: set[int], clean: bool) -> None:
        held = {p: self.tokens[p] for p in partitions if p in self.tokens}
        self.drop(partitions)
        await self.leases.release(held, clean)
