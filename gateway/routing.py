"""Routes calls for one execution to the shard that owns its partition."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

import ray

from actors.shard import owner_shard, shard_actor_name
from actors.workflow import events as ev
from cluster.store import Store


class ShardRouter:
    def __init__(self, store: Store, shards: int, namespace: str) -> None:
        self.namespace = namespace
        self.store = store
        self.shards = shards
        self._handles: dict[int, Any] = {}

    def handle(self, shard: int) -> Any:
        found = self._handles.get(shard)
        if found is None:
            found = self._handles[shard] = ray.get_actor(shard_actor_name(shard), namespace=self.namespace)
        return found

    def shard_of(self, workflow_id: str) -> int:
        return owner_shard(self.store.partition(workflow_id), self.shards)

    async def start(self, request: dict[str, Any]) -> str:
        replies = await self.handle(self.shard_of(request["workflowId"])).start_workflows.remote([request])
        return str(replies[0])

    async def deliver(self, workflow_id: str, event: ev.Event) -> str:
        replies = await self.handle(self.shard_of(workflow_id)).deliver.remote([(workflow_id, event)])
        return str(replies[0])

    def notify(self, events: list[tuple[str, ev.Event]]) -> None:
        """Fire-and-forget events (a poll marking tasks IN_PROGRESS)."""
        by_shard: dict[int, list[tuple[str, ev.Event]]] = {}
        for workflow_id, event in events:
            by_shard.setdefault(self.shard_of(workflow_id), []).append((workflow_id, event))
        for shard, batch in by_shard.items():
            self.handle(shard).deliver.remote(batch)

    async def broadcast_refresh(self) -> None:
        await asyncio.gather(*(self.handle(i).refresh_metadata.remote() for i in range(self.shards)))

    async def ping_all(self) -> list[int]:
        return list(await asyncio.gather(*(self.handle(i).ready.remote() for i in range(self.shards))))

    async def stats(self) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(self.handle(i).stats.remote() for i in range(self.shards))))


class PolledTasks:
    """Type and domain of tasks this gateway handed out, for update-v2's next poll."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[str, str | None]] = OrderedDict()

    def remember(self, task: dict[str, Any]) -> None:
        self._entries[task["taskId"]] = (task["taskType"], task.get("domain"))
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def take(self, task_id: str) -> tuple[str, str | None] | None:
        return self._entries.pop(task_id, None)
