"""Routes calls for one execution to the shard that owns its partition."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import ray

from actors.shard import owner_shard, shard_actor_name
from actors.workflow import events as ev
from cluster.store import Store

Item = TypeVar("Item")
Result = TypeVar("Result")
MAX_BATCH = 512


class Batcher(Generic[Item, Result]):
    """Group concurrent calls into one: requests that arrive while a batch is in flight
    go together in the next one, so one Ray call carries many starts or results."""

    def __init__(self, send: Callable[[list[Item]], Awaitable[list[Result]]]) -> None:
        self._send = send
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flushing = False
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if not self._flushing:
            self._flushing = True
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                try:
                    results = await self._send([item for item, _ in batch])
                except Exception as error:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._flushing = False


class ShardRouter:
    def __init__(self, store: Store, shards: int, namespace: str) -> None:
        self.namespace = namespace
        self.store = store
        self.shards = shards
        self._handles: dict[int, Any] = {}
        self._starts = [Batcher(self._start_sender(i)) for i in range(shards)]
        self._deliveries = [Batcher(self._deliver_sender(i)) for i in range(shards)]

    def _start_sender(self, shard: int) -> Callable[[list[dict[str, Any]]], Awaitable[list[str]]]:
        async def send(requests: list[dict[str, Any]]) -> list[str]:
            return list(await self.handle(shard).start_workflows.remote(requests))

        return send

    def _deliver_sender(self, shard: int) -> Callable[[list[tuple[str, ev.Event]]], Awaitable[list[str]]]:
        async def send(events: list[tuple[str, ev.Event]]) -> list[str]:
            return list(await self.handle(shard).deliver.remote(events))

        return send

    def handle(self, shard: int) -> Any:
        found = self._handles.get(shard)
        if found is None:
            found = self._handles[shard] = ray.get_actor(shard_actor_name(shard), namespace=self.namespace)
        return found

    def shard_of(self, workflow_id: str) -> int:
        return owner_shard(self.store.partition(workflow_id), self.shards)

    async def start(self, request: dict[str, Any]) -> str:
        return await self._starts[self.shard_of(request["workflowId"])].submit(request)

    async def deliver(self, workflow_id: str, event: ev.Event) -> str:
        return await self._deliveries[self.shard_of(workflow_id)].submit((workflow_id, event))

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
