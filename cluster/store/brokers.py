"""The broker outbox (`brokers:outbox`): EVENT task messages whose sink names a broker,
written in the checkpoint of the step that ran the task and read by the gateways'
publishers (gateway/brokers/publisher.py) as one consumer group, so each message is
published by one gateway, and again by another if that one dies before acknowledging it."""

from __future__ import annotations

from cluster.store.base import StoreBase
from cluster.store.eventbus import EventMessage, claim_stale, ensure_group, read_group
from cluster.store.keys import Keys

# The consumer group every broker publisher (one per gateway) reads the outbox in.
BROKER_GROUP = "podium-broker-publishers"


class BrokerOutboxStore(StoreBase):
    async def ensure_broker_group(self) -> None:
        """Create the publishers' group (and the stream) unless it exists, from the first entry."""
        await ensure_group(self.redis, Keys.broker_outbox, BROKER_GROUP)

    async def read_broker_outbox(self, consumer: str, count: int, block_ms: int) -> list[EventMessage]:
        """Messages no publisher has received yet, now `consumer`'s until acknowledged."""
        return await read_group(self.redis, Keys.broker_outbox, BROKER_GROUP, consumer, count, block_ms)

    async def claim_stale_broker_messages(self, consumer: str, min_idle_ms: int, count: int) -> list[EventMessage]:
        """Messages received at least `min_idle_ms` ago by a publisher that never acknowledged
        them (it died), now `consumer`'s."""
        return await claim_stale(self.redis, Keys.broker_outbox, BROKER_GROUP, consumer, min_idle_ms, count)

    async def keep_broker_messages(self, consumer: str, entry_ids: list[str]) -> None:
        """Reset the idle time of messages `consumer` is still trying to publish (a broker is
        down), so no other publisher claims them as abandoned."""
        if entry_ids:
            await self.redis.xclaim(Keys.broker_outbox, BROKER_GROUP, consumer, 0, entry_ids, justid=True)

    async def ack_broker_message(self, entry_id: str) -> None:
        """A message is published (or its task failed): acknowledged and removed."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(Keys.broker_outbox, BROKER_GROUP, entry_id)
        pipe.xdel(Keys.broker_outbox, entry_id)
        await pipe.execute()

