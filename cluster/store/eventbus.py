"""The event bus (the `events` stream and its consumer group) and event handlers
(`meta:eventhandlers`). A checkpoint publishes EVENT tasks' messages with `event_fields`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from redis.exceptions import ResponseError

from cluster.store.base import StoreBase
from cluster.store.encoding import Json, dumps
from cluster.store.keys import Keys

# The consumer group every event processor (one per gateway) reads the event bus in.
EVENT_GROUP = "podium-event-processors"
_REPLACE_FIELD = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) + 1 end
return 0
"""


def event_fields(event: str, payload: Json, message_id: str) -> dict[str, bytes | str]:
    return {"event": event, "payload": dumps(payload), "id": message_id}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One message of the event bus: its stream entry id, event name, JSON payload and id."""

    entry_id: str
    event: str
    payload: bytes
    message_id: str

    @staticmethod
    def of(entry_id: Any, fields: dict[bytes, bytes]) -> EventMessage:
        return EventMessage(
            _text(entry_id),
            _text(fields.get(b"event", b"")),
            fields.get(b"payload", b"null"),
            _text(fields.get(b"id", b"")),
        )


# -- a stream read by a consumer group (the event bus here, the broker outbox in brokers.py) --


async def ensure_group(redis: Any, stream: str, group: str) -> None:
    """Create `group` on `stream` (and the stream) unless it exists; a new group starts at
    the stream's first entry, so nothing added before is missed."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


async def read_group(
    redis: Any, stream: str, group: str, consumer: str, count: int, block_ms: int
) -> list[EventMessage]:
    """Messages no member of `group` has received yet, now `consumer`'s until acknowledged."""
    reply = await redis.xreadgroup(group, consumer, {stream: ">"}, count=count, block=block_ms)
    streams = reply.items() if isinstance(reply, dict) else (reply or [])
    return [EventMessage.of(entry_id, fields) for _, entries in streams for entry_id, fields in entries]


async def claim_stale(
    redis: Any, stream: str, group: str, consumer: str, min_idle_ms: int, count: int
) -> list[EventMessage]:
    """Messages a member of `group` received at least `min_idle_ms` ago and never
    acknowledged (it died), now `consumer`'s (XAUTOCLAIM; each claim counts as a delivery)."""
    claimed: list[EventMessage] = []
    cursor: Any = "0-0"
    while len(claimed) < count:
        reply = await redis.xautoclaim(
            stream, group, consumer, min_idle_ms, start_id=cursor, count=count - len(claimed)
        )
        cursor, entries = reply[0], reply[1]
        claimed.extend(EventMessage.of(entry_id, fields) for entry_id, fields in entries if entry_id is not None)
        if cursor in (b"0-0", "0-0"):
            break
    return claimed


class EventBusStore(StoreBase):
    """Publishing, reading, claiming and acknowledging event bus messages; event handlers."""

    async def publish_event(self, event: str, payload: Json, message_id: str) -> str:
        """Add a message to the event bus; answers its stream entry id."""
        entry_id = await self.redis.xadd(Keys.events, event_fields(event, payload, message_id))
        return str(entry_id.decode())

    async def ensure_event_group(self) -> None:
        """Create the processors' consumer group (and the stream) unless it exists."""
        await ensure_group(self.redis, Keys.events, EVENT_GROUP)

    async def read_events(self, consumer: str, count: int, block_ms: int) -> list[EventMessage]:
        """Messages no processor has received yet, now `consumer`'s until acknowledged."""
        return await read_group(self.redis, Keys.events, EVENT_GROUP, consumer, count, block_ms)

    async def claim_stale_events(self, consumer: str, min_idle_ms: int, count: int) -> list[EventMessage]:
        """Messages another processor (or this one) received at least `min_idle_ms` ago and
        never acknowledged, now `consumer`'s."""
        return await claim_stale(self.redis, Keys.events, EVENT_GROUP, consumer, min_idle_ms, count)

    async def event_deliveries(self, entry_id: str) -> int:
        """How many times a pending message was handed to a processor (0 if not pending)."""
        found = await self.redis.xpending_range(Keys.events, EVENT_GROUP, min=entry_id, max=entry_id, count=1)
        return int(found[0]["times_delivered"]) if found else 0

    async def ack_event(self, entry_id: str) -> None:
        """A message is handled: acknowledged and removed from the stream."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(Keys.events, EVENT_GROUP, entry_id)
        pipe.xdel(Keys.events, entry_id)
        await pipe.execute()

    async def pending_events(self) -> dict[str, int]:
        """Unacknowledged messages per consumer."""
        try:
            summary = await self.redis.xpending(Keys.events, EVENT_GROUP)
        except ResponseError:
            return {}
        return {_text(c["name"]): int(c["pending"]) for c in summary["consumers"] or []}

    async def event_backlog(self) -> dict[str, int]:
        """Messages on the bus not yet handled (read or not), per event name. Handled ones
        are deleted, so the stream holds only these: an administrative read of all of it."""
        counts: dict[str, int] = {}
        start = "-"
        while True:
            entries = await self.redis.xrange(Keys.events, min=start, count=1000)
            for _, fields in entries:
                event = _text(fields.get(b"event", b""))
                counts[event] = counts.get(event, 0) + 1
            if len(entries) < 1000:
                return counts
            start = "(" + _text(entries[-1][0])

    async def add_event_handler(self, handler: Json) -> bool:
        """Store a new handler; False if one with that name exists."""
        return bool(await self.redis.hsetnx(Keys.event_handlers, handler["name"], dumps(handler)))

    async def update_event_handler(self, handler: Json) -> bool:
        """Replace an existing handler; False if there is none with that name."""
        replaced = await self.redis.eval(_REPLACE_FIELD, 1, Keys.event_handlers, handler["name"], dumps(handler))
        return bool(replaced)

    async def delete_event_handler(self, name: str) -> bool:
        return bool(await self.redis.hdel(Keys.event_handlers, name))

    async def list_event_handlers(self) -> list[Json]:
        found = await self.redis.hgetall(Keys.event_handlers)
        return [orjson.loads(found[name]) for name in sorted(found)]
