"""The Redis connection and partitioning every part of `Store` relies on."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from cluster.store.keys import partition_of


class StoreBase:
    """`self.redis`, `self.partitions` and `self.partition()`: what the store's mixins use."""

    def __init__(self, redis_url: str, partitions: int, max_connections: int = 64) -> None:
        # A blocking pool: under a burst, callers wait for a connection instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=max_connections, timeout=None)
        # Typed as Any: redis-py's own annotations say `bytes | str` for every reply,
        # whatever decode_responses is; with decode_responses off they are bytes.
        self.redis: Any = aioredis.Redis(connection_pool=pool, decode_responses=False)
        self.partitions = partitions

    async def close(self) -> None:
        await self.redis.aclose()

    def partition(self, workflow_id: str) -> int:
        return partition_of(workflow_id, self.partitions)
