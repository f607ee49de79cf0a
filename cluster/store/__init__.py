"""Everything Podium keeps in Redis, and the only code that knows the key names.

`Store` is composed of one part per concern, each in its own module:

- `keys.py`: `Keys`, the name of every key, and the table of every key and what it holds.
- `encoding.py`: JSON, definition digests, ready-queue scores, timer members, a
  checkpoint read back (`StoredExecution`, `execution_json`).
- `base.py`: the Redis connection and `partition()`.
- `metadata.py`: workflow and task definitions.
- `executions.py`: executions, idempotent starts, finding tasks, removing an execution,
  running and correlation sets, timers and inboxes, task logs.
- `queues.py`: polls and their Lua scripts, rate and concurrency limits, poll data,
  delayed tasks, queue sizes, Python worker pools.
- `eventbus.py`: the event bus and event handlers.
- `schedules.py`: workflow schedules, their durable timers and the records of their fires.
- `brokers.py`: the outbox of EVENT task messages bound for a broker.
- `indexes.py`: the search-index writes (searching them is cluster/search.py).
- `auth.py`: application keys (hashed), the token signing key, failed-attempt counters.
- `checkpoint.py`: `Checkpoint`, the writes of one shard turn in one fenced script.

Partition leases and the shard registry are `cluster/leases.py`.
"""

from __future__ import annotations

from typing import Any

from cluster.store.auth import AppKey, AuthStore
from cluster.store.brokers import BROKER_GROUP, BrokerOutboxStore
from cluster.store.checkpoint import FENCED_APPLY, Checkpoint, Fenced
from cluster.store.encoding import (
    Json,
    StoredExecution,
    Timer,
    definition_digest,
    dumps,
    execution_json,
    ready_score,
)
from cluster.store.eventbus import EVENT_GROUP, EventBusStore, EventMessage, event_fields
from cluster.store.executions import ExecutionStore
from cluster.store.indexes import WORKFLOW_INDEX_STATUSES, WORKFLOW_SUMMARY_FIELDS, Indexed, IndexWrites
from cluster.store.keys import PREFIX, Keys, partition_of
from cluster.store.metadata import MetadataStore
from cluster.store.queues import LIMITS_TTL_SECONDS, QueueLimits, QueueStore
from cluster.store.schedules import ScheduleStore

__all__ = [
    "BROKER_GROUP",
    "EVENT_GROUP",
    "LIMITS_TTL_SECONDS",
    "PREFIX",
    "WORKFLOW_INDEX_STATUSES",
    "WORKFLOW_SUMMARY_FIELDS",
    "AppKey",
    "Checkpoint",
    "EventMessage",
    "Fenced",
    "IndexWrites",
    "Indexed",
    "Json",
    "Keys",
    "QueueLimits",
    "Store",
    "StoredExecution",
    "Timer",
    "definition_digest",
    "dumps",
    "event_fields",
    "execution_json",
    "partition_of",
    "ready_score",
]


class Store(MetadataStore, ExecutionStore, QueueStore, EventBusStore, BrokerOutboxStore, ScheduleStore, AuthStore):
    def __init__(self, redis_url: str, partitions: int, max_connections: int = 64, cluster: bool = False) -> None:
        super().__init__(redis_url, partitions, max_connections, cluster)
        self._register_queue_scripts()
        self._register_schedule_scripts()
        self._fenced_apply = self.redis.register_script(FENCED_APPLY)

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self)

    async def apply_fenced(self, lease_keys: list[str], args: list[Any]) -> list[int]:
        """Run a checkpoint's script; the positions of `lease_keys` it found held by another."""
        return list(await self._fenced_apply(keys=lease_keys, args=args))
