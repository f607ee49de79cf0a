"""Renames keys written before the hash tags of `keys.py` existed, once, at start.

Queues were `queue:[<domain>:]<type>` (and `queuedelay:`, `queued:`, `poolqueue:`,
`inflight:`, `ratewin:` alike) and search indexes `ix:...`; they are now
`queue:{q:<type>}[:<domain>]` and `{ix}:...`, so that each family lives in one Redis
Cluster slot. A single Redis renames in place; a Redis Cluster never held the old names.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.cluster import RedisCluster

from cluster.store.keys import PREFIX, Keys

_QUEUE_KINDS = ("queue", "queuedelay", "queued", "poolqueue", "poolqueuedelay", "poolqueued")


def _new_name(old: str) -> str | None:
    """The tagged name of an untagged key, or None if the key is not an old one."""
    if old.startswith(f"{PREFIX}ix:"):
        return Keys.INDEX + old[len(f"{PREFIX}ix:") :]
    kind, _, rest = old[len(PREFIX) :].partition(":")
    if rest.startswith("{"):
        return None
    if kind in ("inflight", "ratewin"):
        return f"{PREFIX}{kind}:{{q:{rest}}}"
    if kind in _QUEUE_KINDS:
        qualifier, _, task_type = rest.rpartition(":")
        if kind.startswith("pool"):
            # Pool queues were once per shard (`poolqueue:<shard>:<type>`); now one per type.
            return f"{PREFIX}{kind}:{{q:{task_type}}}"
        return f"{PREFIX}{kind}:{{q:{task_type}}}" + (f":{qualifier}" if qualifier else "")
    return None


def tag_old_keys(client: Any) -> int:
    """Rename every untagged queue and index key (a sync redis-py client); answers how many."""
    renamed = 0
    patterns = [f"{PREFIX}ix:*", *(f"{PREFIX}{kind}:*" for kind in (*_QUEUE_KINDS, "inflight", "ratewin"))]
    for pattern in patterns:
        for raw in list(client.scan_iter(match=pattern, count=1000)):
            old = raw.decode() if isinstance(raw, bytes) else str(raw)
            new = _new_name(old)
            if new is None or new == old:
                continue
            if client.exists(new):
                # Both exist (a pool queue per shard, merged into one): move the members over.
                kind = client.type(old).decode()
                if kind == "zset":
                    client.zunionstore(new, [new, old])
                elif kind == "hash":
                    client.hset(new, mapping=client.hgetall(old))
                elif kind == "set":
                    client.sunionstore(new, [new, old])
                client.delete(old)
            else:
                client.rename(old, new)
            renamed += 1
    return renamed


def is_cluster(url: str) -> bool:
    """Whether the Redis at `url` runs in cluster mode."""
    client = redis.Redis.from_url(url)
    try:
        return bool(int(client.info("cluster").get("cluster_enabled", 0)))
    finally:
        client.close()


def sync_client(url: str, cluster: bool) -> Any:
    """A blocking client for the driver's own few calls."""
    return RedisCluster.from_url(url) if cluster else redis.Redis.from_url(url)
