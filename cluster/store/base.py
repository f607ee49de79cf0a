"""The Redis connection and partitioning every part of `Store` relies on."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cluster.store.keys import partition_of

# Retries of a command whose connection failed: about four seconds in all.
RECONNECT_ATTEMPTS = 12


class StoreBase:
    """`self.redis`, `self.partitions` and `self.partition()`: what the store's mixins use."""

    def __init__(self, redis_url: str, partitions: int, max_connections: int = 64, cluster: bool = False) -> None:
        self.url = redis_url
        # On a Redis Cluster a transaction or a script must stay in one hash slot: the
        # parts of the store that write several slots at once ask `self.cluster`.
        self.cluster = cluster
        # Typed as Any: redis-py's own annotations say `bytes | str` for every reply,
        # whatever decode_responses is; with decode_responses off they are bytes.
        self.redis: Any
        if cluster:
            self.redis = RedisCluster.from_url(redis_url, max_connections=max_connections, decode_responses=False)
        else:
            # A blocking pool: under a burst, callers wait for a connection instead of failing.
            # A Redis that restarts (the embedded one is started again by `podium up`) is
            # waited for, a few seconds, before a call fails.
            pool = aioredis.BlockingConnectionPool.from_url(
                redis_url,
                max_connections=max_connections,
                timeout=None,
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), RECONNECT_ATTEMPTS),
                retry_on_error=[RedisConnectionError, RedisTimeoutError],
            )
            self.redis = aioredis.Redis(connection_pool=pool, decode_responses=False)
        self.partitions = partitions

    def multi(self) -> Any:
        """A transaction on one Redis; on a Redis Cluster, where one may not span slots, a
        plain pipeline (the writes it groups are each idempotent)."""
        return self.redis.pipeline(transaction=not self.cluster)

    async def close(self) -> None:
        await self.redis.aclose()

    def partition(self, workflow_id: str) -> int:
        return partition_of(workflow_id, self.partitions)
