"""A turn's writes on a Redis Cluster, where a script or a transaction stays in one slot.

The writes a turn makes in its partition's slot (the checkpoint, the running set, timers,
the inbox it read) go into the fenced script, together with an **outbox** entry
`{pN}:outbox` listing every other write of the turn: queue pushes, search indexes, the task
lookup, the definition store, messages to other partitions' inboxes, events. Once the
script has landed, those follow-up writes are applied slot by slot, and the entry is
removed. A shard that takes a partition over after a crash applies what is left in the
partition's outbox before it recovers the partition, so nothing is lost if a process dies
in between. Every follow-up write sets a member, a field or a key to a value, so applying
one twice changes nothing (an event published twice is delivered at least once, as
events are anyway).

On a single Redis none of this is needed: the whole turn is one script.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
from redis.crc import key_slot

from cluster.store.keys import Keys

# How often applying one turn's follow-up writes is tried before the turn fails (the
# outbox keeps them: the sweep applies them again).
ATTEMPTS = 5


def operations(args: list[Any]) -> Iterator[tuple[str, list[Any]]]:
    """The (command, arguments) of a flat argument list: name, count, arguments..."""
    i = 0
    while i < len(args):
        name, count = str(args[i]), int(args[i + 1])
        yield name, args[i + 2 : i + 2 + count]
        i += 2 + count


def slot_of(key: Any) -> int:
    return int(key_slot(key if isinstance(key, bytes) else str(key).encode()))


def _single_slot(args: list[Any]) -> Iterator[tuple[int | None, str, str, list[Any]]]:
    """Each write with its slot and a key in that slot to route it by (None and '' for a
    PUBLISH: a channel is in no slot); a DEL of several keys becomes one DEL per key, and
    the search index writes are in the slot of `{ix}`."""
    for name, op in operations(args):
        if name == "PUBLISH":
            yield None, "", name, op
        elif name == "DEL":
            for key in op:
                yield slot_of(key), _text(key), "DEL", [key]
        else:
            key = Keys.workflow_index_all if name == "INDEX" else _text(op[0])
            yield slot_of(key), key, name, op


def _text(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


def split(args: list[Any], local_slot: int) -> tuple[list[Any], list[Any]]:
    """The writes in `local_slot`, and every other one."""
    local: list[Any] = []
    other: list[Any] = []
    for slot, _, name, op in _single_slot(args):
        (local if slot == local_slot else other).extend((name, len(op), *op))
    return local, other


def encode(args: list[Any]) -> bytes:
    return orjson.dumps([a.decode() if isinstance(a, bytes) else a for a in args])


def decode(raw: bytes) -> list[Any]:
    return list(orjson.loads(raw))


def by_slot(args: list[Any]) -> tuple[dict[int, tuple[str, list[Any]]], list[list[Any]]]:
    """Follow-up writes grouped by slot, each group with a key of its slot to route it by;
    and the messages to publish."""
    groups: dict[int, tuple[str, list[Any]]] = {}
    publishes: list[list[Any]] = []
    for slot, key, name, op in _single_slot(args):
        if slot is None:
            publishes.append(op)
        else:
            groups.setdefault(slot, (key, []))[1].extend((name, len(op), *op))
    return groups, publishes


async def apply(store: Any, args: list[Any]) -> None:
    """Apply follow-up writes, one script call per slot, all slots at once."""
    groups, publishes = by_slot(args)
    for attempt in range(ATTEMPTS):
        try:
            await asyncio.gather(*(store.apply_fenced([key], [0, *ops]) for key, ops in groups.values()))
            for channel, message in publishes:
                await store.redis.publish(channel, message)
            return
        except Exception:
            if attempt == ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.1 * 2**attempt)


async def pending(store: Any, partitions: list[int]) -> list[int]:
    """The partitions whose outbox holds entries (one pipelined read)."""
    if not partitions:
        return []
    pipe = store.redis.pipeline(transaction=False)
    for partition in partitions:
        pipe.llen(Keys.outbox(partition))
    return [p for p, length in zip(partitions, await pipe.execute(), strict=True) if length]


async def replay(store: Any, partitions: list[int]) -> int:
    """Apply what is left in these partitions' outboxes, oldest first; answers how many entries."""
    replayed = 0
    for partition in await pending(store, partitions):
        key = Keys.outbox(partition)
        while (raw := await store.redis.lindex(key, 0)) is not None:
            await apply(store, decode(raw))
            await store.redis.lpop(key)
            replayed += 1
    return replayed
