"""Partition leases in Redis: who owns a partition, since which epoch, until when.

A partition's owner holds `{pN}:lease`, a hash in the partition's own hash slot:

| field | holds |
|---|---|
| `holder` | the owner's fencing token `<shard name>#<epoch>`, or empty when nobody holds it |
| `epoch` | grows by one at every acquisition, never goes back |
| `until` | epoch ms at which the lease expires unless renewed |
| `clean` | `1` when the last holder released it with nothing left in flight: nothing to recover |
| `seq` | turns written: a turn expects the count its shard last saw (so lost turns are noticed) |

Every shard also beats in the registry `podium:shards` (name -> JSON: node, pid, last
beat), and the set `podium:draining` names shards being retired. The members of the
cluster are the registered shards that beat within a lease period and are not draining;
each partition is wanted by one member, chosen by rendezvous hashing with bounded load
(`desired_owners`), so shards stay balanced and a member that joins or leaves moves
mostly its own share.

The scripts here are the only writers of lease keys. A checkpoint is fenced by the
token: the checkpoint's script (`cluster/store/checkpoint.py`) refuses a turn whose
token no longer matches `holder`, so a shard that was paused past its lease cannot land a write after
another took the partition over.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from cluster.store import Keys

# Takes each free, expired or own-name partition in KEYS; ARGV: name, now, lease ms.
# A restarted shard keeps its name: the lease its previous process held is taken at once
# (with a new epoch, so anything that process still tries to write is fenced).
# Answers, per key, {epoch, clean, seq} (epoch 0: not taken).
_ACQUIRE = """
local name, now, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i, key in ipairs(KEYS) do
  local lease = redis.call('HMGET', key, 'holder', 'until', 'clean')
  local holder = lease[1] or ''
  local free = holder == '' or tonumber(lease[2] or '0') < now or string.sub(holder, 1, #name + 1) == name .. '#'
  if free then
    local epoch = redis.call('HINCRBY', key, 'epoch', 1)
    local clean = (holder == '' and lease[3] == '1') and 1 or 0
    redis.call('HSET', key, 'holder', name .. '#' .. epoch, 'until', now + ttl, 'clean', '0')
    out[i] = {epoch, clean, tonumber(redis.call('HGET', key, 'seq') or '0')}
  else
    out[i] = {0, 0, 0}
  end
end
return out
"""
# Sets the fields given as JSON in ARGV[1] on each lease in KEYS still held by ARGV[1 + i]
# (renewing or releasing it); answers 1 or 0 per key.
_UPDATE_HELD = """
local fields = cjson.decode(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'holder') == ARGV[i + 1] then
    for name, value in pairs(fields) do redis.call('HSET', key, name, value) end
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""


def token_of(name: str, epoch: int) -> str:
    return f"{name}#{epoch}"


def holder_name(token: str) -> str:
    return token.rpartition("#")[0]


def _weight(member: str, partition: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{member}/{partition}".encode(), digest_size=8).digest(), "big")


@functools.lru_cache(maxsize=64)
def _assignment(partitions: int, members: tuple[str, ...]) -> tuple[str, ...]:
    cap = -(-partitions // len(members))
    pairs = sorted(((_weight(m, p), p, m) for p in range(partitions) for m in members), reverse=True)
    owners: list[str | None] = [None] * partitions
    load = dict.fromkeys(members, 0)
    for _, partition, member in pairs:
        if owners[partition] is None and load[member] < cap:
            owners[partition] = member
            load[member] += 1
    return tuple(owner or "" for owner in owners)


def desired_owners(partitions: int, members: Sequence[str]) -> list[str | None]:
    """Rendezvous hashing with bounded load: partitions go to the members that rank them
    highest, strongest preferences first, none taking more than its fair share (rounded
    up). So the shards stay balanced, and a member that joins or leaves moves mostly the
    partitions it gains or loses."""
    if not members:
        return [None] * partitions
    return list(_assignment(partitions, tuple(sorted(set(members)))))


@dataclass(frozen=True, slots=True)
class Acquired:
    partition: int
    epoch: int
    clean: bool  # released cleanly by its last holder: nothing to recover
    seq: int = 0  # turns written so far


@dataclass(frozen=True, slots=True)
class ShardRecord:
    name: str
    node: str
    pid: int
    beat: int  # epoch ms of its last heartbeat


class LeaseStore:
    """Lease and membership operations on one Redis (`store.redis`)."""

    def __init__(self, redis: Any, partitions: int, cluster: bool = False) -> None:
        self.redis = redis
        self.partitions = partitions
        # On a Redis Cluster each lease is in its partition's slot: one script call per lease.
        self.cluster = cluster
        self._acquire = redis.register_script(_ACQUIRE)
        self._update_held = redis.register_script(_UPDATE_HELD)

    async def _each(self, script: Any, keys: list[str], shared: list[Any], own: list[Any] | None = None) -> list[Any]:
        """Run a lease script over `keys` (ARGV: `shared`, then each key's item of `own`):
        in one call on a single Redis, one call per key on a Redis Cluster."""
        if not self.cluster:
            return list(await script(keys=keys, args=[*shared, *(own or [])]))
        calls = [script(keys=[key], args=[*shared, *([own[i]] if own else [])]) for i, key in enumerate(keys)]
        return [answer for answers in await asyncio.gather(*calls) for answer in answers]

    async def acquire(self, name: str, partitions: Iterable[int], now: int, lease_ms: int) -> list[Acquired]:
        wanted = list(partitions)
        if not wanted:
            return []
        answers = await self._each(self._acquire, [Keys.lease(p) for p in wanted], [name, now, lease_ms])
        return [
            Acquired(p, int(epoch), bool(clean), int(seq))
            for p, (epoch, clean, seq) in zip(wanted, answers, strict=True)
            if int(epoch) > 0
        ]

    async def seqs(self, partitions: Iterable[int]) -> dict[int, int]:
        """How many turns Redis holds for each partition (its `seq`)."""
        wanted = list(partitions)
        if not wanted:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for p in wanted:
            pipe.hget(Keys.lease(p), "seq")
        return {p: int(raw or 0) for p, raw in zip(wanted, await pipe.execute(), strict=True)}

    async def renew(self, tokens: dict[int, str], now: int, lease_ms: int) -> set[int]:
        """Extend held leases; answers the partitions whose lease is no longer ours."""
        held = list(tokens)
        if not held:
            return set()
        keys = [Keys.lease(p) for p in held]
        renewal = orjson.dumps({"until": now + lease_ms})
        answers = await self._each(self._update_held, keys, [renewal], list(tokens.values()))
        return {p for p, kept in zip(held, answers, strict=True) if not kept}

    async def release(self, tokens: dict[int, str], clean: bool) -> None:
        """Give leases up; `clean` when nothing of the partitions is left in flight (the next
        owner need not recover them)."""
        if tokens:
            fields = orjson.dumps({"holder": "", "until": 0, "clean": "1" if clean else "0"})
            await self._each(self._update_held, [Keys.lease(p) for p in tokens], [fields], list(tokens.values()))

    async def owners(self) -> list[str]:
        """The name of the shard holding each partition ('' when free), in partition order."""
        pipe = self.redis.pipeline(transaction=False)
        for p in range(self.partitions):
            pipe.hget(Keys.lease(p), "holder")
        return [holder_name((raw or b"").decode()) for raw in await pipe.execute()]

    async def beat(self, record: ShardRecord) -> None:
        fields = {"node": record.node, "pid": record.pid, "beat": record.beat}
        await self.redis.hset(Keys.shard_registry, record.name, orjson.dumps(fields))

    async def registry(self) -> list[ShardRecord]:
        found = await self.redis.hgetall(Keys.shard_registry)
        records = []
        for name, raw in found.items():
            entry = orjson.loads(raw)
            node, pid, beat = entry.get("node", ""), int(entry.get("pid", 0)), int(entry["beat"])
            records.append(ShardRecord(name.decode(), node, pid, beat))
        return sorted(records, key=lambda r: r.name)

    async def draining(self) -> set[str]:
        return {m.decode() for m in await self.redis.smembers(Keys.draining_shards)}

    async def members(self, now: int, lease_ms: int) -> list[str]:
        """Shards that beat within a lease period and are not being retired."""
        draining = await self.draining()
        return [r.name for r in await self.registry() if r.beat >= now - lease_ms and r.name not in draining]


@dataclass(frozen=True, slots=True)
class WantedShards:
    """How many shards the cluster wants: a fixed count, or a count per live Ray node."""

    shards: int | None = None
    per_node: int | None = None

    def count(self, nodes: int) -> int:
        if self.per_node:
            return self.per_node * max(nodes, 1)
        return self.shards or 1

    # The fields of `podium:cluster` it is stored in.
    FIELDS = ("shards", "shardsPerNode")

    @staticmethod
    def of(stored: Sequence[bytes | None], default_shards: int | None = None) -> WantedShards:
        """From the stored `FIELDS` values (None where unset)."""
        shards, per_node = stored
        return WantedShards(int(shards) if shards else default_shards, int(per_node) if per_node else None)


async def wanted_shards(redis: Any) -> WantedShards:
    return WantedShards.of(await redis.hmget(Keys.cluster, list(WantedShards.FIELDS)))


async def set_wanted_shards(redis: Any, wanted: WantedShards) -> None:
    """Ask the controller for a new shard count (it follows within a second)."""
    pipe = redis.pipeline(transaction=True)
    if wanted.per_node:
        pipe.hset(Keys.cluster, "shardsPerNode", wanted.per_node)
    else:
        pipe.hdel(Keys.cluster, "shardsPerNode")
        pipe.hset(Keys.cluster, "shards", wanted.shards or 1)
    await pipe.execute()
