"""Wakes long polls the moment a shard makes tasks ready in their queue.

The turn that queues a task publishes the queue's key on the `podium:queue-ready` channel
in its own script (cluster/store/checkpoint.py), so the message is sent if and only if
the task is in the queue. Each gateway listens on one pub/sub connection and wakes the
polls waiting on that queue; a poll also looks again every `FALLBACK_SECONDS` on its own,
for delayed tasks coming due and for a message missed while reconnecting.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import redis.asyncio as aioredis

from cluster.store import Keys, Store

log = logging.getLogger("podium.gateway")
FALLBACK_SECONDS = 0.1


class QueueWaker:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._waiting: dict[str, set[asyncio.Event]] = defaultdict(set)

    @contextmanager
    def watching(self, queue: str) -> Iterator[asyncio.Event]:
        """An event set whenever `queue` gets ready tasks, while the block runs."""
        ready = asyncio.Event()
        self._waiting[queue].add(ready)
        try:
            yield ready
        finally:
            waiting = self._waiting[queue]
            waiting.discard(ready)
            if not waiting:
                del self._waiting[queue]

    def wake(self, queue: str) -> None:
        for ready in self._waiting.get(queue, ()):
            ready.set()

    async def run(self) -> None:
        # A Redis Cluster passes every message published on any node to every node: one
        # plain connection to the node named in the URL hears them all.
        redis = aioredis.Redis.from_url(self.store.url) if self.store.cluster else self.store.redis
        while True:
            pubsub = redis.pubsub()
            try:
                await pubsub.subscribe(Keys.queue_ready_channel)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.wake(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Redis went away: polls fall back to looking on their own
                log.warning("queue wake-ups interrupted (%s); resubscribing", error)
                await asyncio.sleep(1.0)
            finally:
                await pubsub.aclose()
