"""Routes calls for one execution to the shard that owns its partition."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import ray

from actors.faults import PROCESS_LOSS
from actors.shard import Answer, Outcome, ShardEvent
from actors.stream import PickleCodec, StreamClient
from actors.workflow import events as ev
from cluster.leases import LeaseStore
from cluster.store import Store

log = logging.getLogger("podium.gateway")
Item = TypeVar("Item")
Result = TypeVar("Result")
MAX_BATCH = 512


class Batcher(Generic[Item, Result]):
    """Group concurrent calls into few: a request goes at once while fewer than
    `in_flight` batches are on their way, otherwise with the others that arrive meanwhile
    in the next one. One request alone never waits for another's batch (a worker's result
    right behind its poll's IN_PROGRESS mark), and under load one call carries many."""

    def __init__(self, send: Callable[[list[Item]], Awaitable[list[Result]]], in_flight: int = 2) -> None:
        self._send = send
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._senders = 0
        self._in_flight = in_flight
        self._background: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if self._senders < self._in_flight:
            self._senders += 1
            sender = loop.create_task(self._flush())
            self._background.add(sender)
            sender.add_done_callback(self._background.discard)
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
            self._senders -= 1


class ShardUnavailable(Exception):
    """No shard took the call within the reroute deadline (the gateway answers 503)."""


# How long a call keeps looking for its partition's owner before the client is told.
REROUTE_DEADLINE_SECONDS = 30.0
# A call unanswered this long makes the router check whether its partition moved away
# from the shard (a paused or lost shard answers nothing).
STALL_SECONDS = 2.0
OWNERS_REFRESH_SECONDS = 1.0
# A shard that is gone: no actor of that name (ValueError: retired, or not created yet),
# or its process or node lost (Ray may be restarting it).
GONE: tuple[type[BaseException], ...] = (ValueError, *PROCESS_LOSS)
# A shard that cannot answer now: gone, or too slow.
UNREACHABLE: tuple[type[BaseException], ...] = (*GONE, TimeoutError)


class ShardRouter:
    """Routes each call to the shard holding its partition's lease, and follows the
    partition when it moves: an answer MOVED, a dead shard or a stalled call sends it to
    the owner named by the lease table, read again from Redis."""

    def __init__(self, store: Store, namespace: str, lease_ms: int) -> None:
        self.namespace = namespace
        self.lease_ms = lease_ms
        self.store = store
        self.leases = LeaseStore(store.redis, store.partitions, store.cluster)
        self.owners: list[str] = [""] * store.partitions
        self._owners_read = 0.0
        self._owners_reading: asyncio.Task[None] | None = None
        self._handles: dict[str, Any] = {}
        self._streams: dict[str, StreamClient] = {}
        self._starts: dict[str, Batcher[ev.StartFields, Answer]] = {}
        self._deliveries: dict[str, Batcher[tuple[str, ShardEvent], Answer]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # -- the lease table --------------------------------------------------------------

    async def refresh_owners(self, max_age: float = 0.1) -> None:
        """Read who holds each partition, at most once per `max_age` seconds (concurrent
        callers share one read)."""
        if time.monotonic() - self._owners_read < max_age:
            return
        if self._owners_reading is None or self._owners_reading.done():
            self._owners_reading = asyncio.get_running_loop().create_task(self._read_owners())
        await asyncio.shield(self._owners_reading)

    async def _read_owners(self) -> None:
        self.owners = await self.leases.owners()
        self._owners_read = time.monotonic()

    async def follow_owners(self) -> None:
        """Keep the lease table fresh in the background, off every request's path (a call
        answered MOVED reads it again at once)."""
        while True:
            await asyncio.sleep(OWNERS_REFRESH_SECONDS)
            try:
                await self.refresh_owners()
            except Exception as error:
                log.warning("reading the partition owners failed: %s", error)

    def owner_of(self, workflow_id: str) -> str:
        return self.owners[self.store.partition(workflow_id)]

    def handle(self, shard: str) -> Any:
        found = self._handles.get(shard)
        if found is None:
            found = self._handles[shard] = ray.get_actor(shard, namespace=self.namespace)
        return found

    async def stream(self, shard: str) -> StreamClient:
        """The stream to a shard for starts and results (found once through Ray)."""
        found = self._streams.get(shard)
        if found is None or found.closed:
            endpoint = await self.handle(shard).endpoint.remote()
            found = self._streams.get(shard)
            if found is None or found.closed:
                found = self._streams[shard] = StreamClient(endpoint, PickleCodec())
        return found

    def _forget_handle(self, shard: str) -> None:
        self._handles.pop(shard, None)
        stream = self._streams.pop(shard, None)
        if stream is not None:
            stream.close()
        self._starts.pop(shard, None)
        self._deliveries.pop(shard, None)

    def _start_batcher(self, shard: str) -> Batcher[ev.StartFields, Answer]:
        found = self._starts.get(shard)
        if found is None:

            async def send(requests: list[ev.StartFields]) -> list[Answer]:
                return list(await (await self.stream(shard)).call("start_workflows", requests))

            found = self._starts[shard] = Batcher(send)
        return found

    def _deliver_batcher(self, shard: str) -> Batcher[tuple[str, ShardEvent], Answer]:
        found = self._deliveries.get(shard)
        if found is None:

            async def send(events: list[tuple[str, ShardEvent]]) -> list[Answer]:
                return list(await (await self.stream(shard)).call("deliver", events))

            found = self._deliveries[shard] = Batcher(send)
        return found

    # -- calls ------------------------------------------------------------------------

    async def _routed(self, workflow_id: str, call: Callable[[str], Awaitable[Answer]]) -> Answer:
        """Call the owner of the workflow's partition until one answers other than MOVED."""
        deadline = time.monotonic() + REROUTE_DEADLINE_SECONDS
        pause = 0.01
        if not self._owners_read:
            await self.refresh_owners()  # the first call: nothing known yet
        while True:
            shard = self.owner_of(workflow_id)
            outcome: Answer | None = None
            if shard:
                try:
                    outcome = await self._answer_or_moved(workflow_id, shard, call(shard))
                except GONE:  # ask the lease table again
                    self._forget_handle(shard)
            if outcome is not None and outcome is not Outcome.MOVED:
                return outcome
            if time.monotonic() > deadline:
                raise ShardUnavailable(
                    f"no shard serves workflow {workflow_id} (partition {self.store.partition(workflow_id)}) "
                    f"after {REROUTE_DEADLINE_SECONDS:.0f} s; retry later"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)
            await self.refresh_owners()

    async def _answer_or_moved(self, workflow_id: str, shard: str, answer: Awaitable[Answer]) -> Answer:
        """The shard's answer; MOVED if the call stalls while the lease table names
        another owner (the first shard may be paused: if it wakes, its write is fenced)."""
        pending = asyncio.ensure_future(answer)
        while True:
            done, _ = await asyncio.wait({pending}, timeout=STALL_SECONDS)
            if done:
                return pending.result()
            await self.refresh_owners()
            if self.owner_of(workflow_id) != shard:
                pending.add_done_callback(_ignore_outcome)
                return Outcome.MOVED

    async def start(self, request: ev.StartFields) -> Answer:
        return await self._routed(request["workflowId"], lambda shard: self._start_batcher(shard).submit(request))

    async def deliver(self, workflow_id: str, event: ShardEvent) -> Answer:
        return await self._routed(workflow_id, lambda shard: self._deliver_batcher(shard).submit((workflow_id, event)))

    def notify(self, events: list[tuple[str, ShardEvent]]) -> None:
        """Events nobody waits for (a poll marking tasks IN_PROGRESS), still routed to the owner."""
        for workflow_id, event in events:
            task = asyncio.get_running_loop().create_task(self.deliver(workflow_id, event))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            task.add_done_callback(_ignore_outcome)

    # -- every shard ------------------------------------------------------------------

    async def shard_names(self) -> list[str]:
        """Shards registered and beating (one lease period of grace for a slow beat)."""
        now = int(time.time() * 1000)
        records = await self.leases.registry()
        window = 3 * self.lease_ms
        return [record.name for record in records if record.beat >= now - window]

    async def _each_shard(self, method: str, timeout: float = 5.0) -> list[Any]:
        names = await self.shard_names()

        async def one(name: str) -> Any:
            try:
                return await asyncio.wait_for(getattr(self.handle(name), method).remote(), timeout)
            except UNREACHABLE as e:
                self._forget_handle(name)
                return {"name": name, "error": f"{type(e).__name__}: {e}"}

        return list(await asyncio.gather(*(one(name) for name in names)))

    async def broadcast_refresh(self) -> None:
        await self._each_shard("refresh_metadata")

    async def ping_all(self) -> list[Any]:
        return await self._each_shard("ready")

    async def stats(self) -> list[dict[str, Any]]:
        return await self._each_shard("stats", timeout=2.0)


def _ignore_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


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
