"""Task queues: polls (with their Lua scripts) within a task type's rate and concurrency
limits, in-flight slots, poll data, delayed tasks, queue sizes, and the Python worker pools
registry. A checkpoint enqueues and dequeues (cluster/store/checkpoint.py)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from cluster.store.base import StoreBase
from cluster.store.encoding import Json, dumps
from cluster.store.keys import PREFIX, Keys

# Pops up to ARGV[2] visible tasks (score <= ARGV[1]) from a queue with their payloads,
# atomically, so two pollers never receive the same task.
_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, 1000)
for i = 1, #due, 2 do
  local rank = 100
  local raw = redis.call('HGET', KEYS[2], due[i])
  if raw then
    local ok, task = pcall(cjson.decode, raw)
    local priority = ok and type(task) == 'table' and tonumber(task['workflowPriority']) or nil
    if priority and priority >= 1 and priority <= 99 then rank = priority end
  end
  redis.call('ZADD', KEYS[1], string.format('%.0f', rank * 1e13 + tonumber(due[i + 1])), due[i])
  redis.call('ZREM', KEYS[3], due[i])
end
"""
_PROMOTE_ALL_SCRIPT = (
    "local moved = redis.call('ZCARD', KEYS[3])\n"
    + _PROMOTE.replace("ARGV[1]", "'+inf'").replace("'LIMIT', 0, 1000", "'LIMIT', 0, -1")
    + "return moved"
)
# A task handed out stays in the unacknowledged set (KEYS[4], scored by when it goes
# back) with its payload until the shard records the poll (or the task's result): a
# gateway that dies between popping tasks and answering the poller loses nothing. Tasks
# whose time came are put back at the front of the queue before the pop.
_REQUEUE_UNACKED = """
local lost = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, id in ipairs(lost) do
  if redis.call('HEXISTS', KEYS[2], id) == 1 then
    redis.call('ZADD', KEYS[1], string.format('%.0f', 1e13 + tonumber(ARGV[1])), id)
  end
  redis.call('ZREM', KEYS[4], id)
end
"""
_HAND_OUT = """
local back_at = tonumber(ARGV[1]) + UNACK_MS
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[4], back_at, id) end
"""
_POLL_SCRIPT = (
    _PROMOTE
    + _REQUEUE_UNACKED
    + """
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if #ids == 0 then return {} end
redis.call('ZREM', KEYS[1], unpack(ids))
local payloads = redis.call('HMGET', KEYS[2], unpack(ids))
"""
    + _HAND_OUT
    + """
return payloads
"""
)


# The same, within a task type's limits (KEYS[5] the tasks in flight, KEYS[6] the rate
# window): at most ARGV[3] tasks in flight (0 = no limit)
# and at most ARGV[4] hand-outs per ARGV[5] ms (0 = no limit), counted across every
# queue of the type (all domains, external workers and Python pools alike).
_LIMITED_POLL_SCRIPT = (
    _PROMOTE
    + _REQUEUE_UNACKED
    + """
local now = tonumber(ARGV[1])
local room = tonumber(ARGV[2])
local concurrency = tonumber(ARGV[3])
local rate = tonumber(ARGV[4])
if concurrency > 0 then
  room = math.min(room, concurrency - redis.call('SCARD', KEYS[5]))
end
if rate > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - tonumber(ARGV[5]))
  room = math.min(room, rate - redis.call('ZCARD', KEYS[6]))
end
if room <= 0 then return {} end
local ids = redis.call('ZRANGE', KEYS[1], 0, room - 1)
if #ids == 0 then return {} end
redis.call('ZREM', KEYS[1], unpack(ids))
local payloads = redis.call('HMGET', KEYS[2], unpack(ids))
for _, id in ipairs(ids) do
  if concurrency > 0 then redis.call('SADD', KEYS[5], id) end
  if rate > 0 then redis.call('ZADD', KEYS[6], now, id) end
end
"""
    + _HAND_OUT
    + """
return payloads
"""
)
# How long a handed-out task waits for its poll to be recorded before it is handed out again.
UNACK_MS = 30_000
_POLL_SCRIPT = _POLL_SCRIPT.replace("UNACK_MS", str(UNACK_MS))
_LIMITED_POLL_SCRIPT = _LIMITED_POLL_SCRIPT.replace("UNACK_MS", str(UNACK_MS))
# How long a poller trusts its copy of a task type's limits.
LIMITS_TTL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """A TaskDef's concurrentExecLimit and rateLimitPerFrequency/FrequencyInSeconds."""

    concurrency: int = 0
    rate: int = 0
    window_ms: int = 1000

    @staticmethod
    def of(task_def: Json | None) -> QueueLimits | None:
        if not task_def:
            return None
        concurrency = task_def.get("concurrentExecLimit") or 0
        rate = task_def.get("rateLimitPerFrequency") or 0
        if concurrency <= 0 and rate <= 0:
            return None
        window = task_def.get("rateLimitFrequencyInSeconds") or 1
        return QueueLimits(max(concurrency, 0), max(rate, 0), max(window, 1) * 1000)


class QueueStore(StoreBase):
    """The queues external workers and Python pools poll."""

    _poll: Any
    _limited_poll: Any
    _promote_all: Any
    _limits: dict[str, tuple[float, QueueLimits | None]]

    if TYPE_CHECKING:
        # Answered by MetadataStore and ExecutionStore, the other parts of `Store`.
        async def get_task_def(self, name: str) -> Json | None: ...
        async def get_task(self, task_id: str) -> Json | None: ...
        async def workflow_of_task(self, task_id: str) -> str | None: ...

    def _register_queue_scripts(self) -> None:
        self._poll = self.redis.register_script(_POLL_SCRIPT)
        self._limited_poll = self.redis.register_script(_LIMITED_POLL_SCRIPT)
        self._promote_all = self.redis.register_script(_PROMOTE_ALL_SCRIPT)
        self._limits = {}

    async def poll(
        self, task_type: str, domain: str | None, count: int, now: int, queue: str | None = None
    ) -> list[Json]:
        """Take up to `count` visible tasks, within the type's rate and concurrency limits."""
        queue = queue or Keys.queue(task_type, domain)
        limits = await self.limits_for(task_type)
        keys = [queue, Keys.queue_tasks(queue), Keys.queue_delayed(queue), Keys.queue_unacked(queue)]
        if limits is None:
            payloads = await self._poll(keys=keys, args=[now, count])
        else:
            payloads = await self._limited_poll(
                keys=[*keys, Keys.in_flight(task_type), Keys.rate_window(task_type)],
                args=[now, count, limits.concurrency, limits.rate, limits.window_ms],
            )
        return [orjson.loads(p) for p in payloads if p]

    async def limits_for(self, task_type: str) -> QueueLimits | None:
        cached = self._limits.get(task_type)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        limits = QueueLimits.of(await self.get_task_def(task_type))
        self._limits[task_type] = (time.monotonic() + LIMITS_TTL_SECONDS, limits)
        return limits

    async def reconcile_in_flight(self, task_type: str) -> None:
        """Free slots whose task ended or vanished without its end being seen (a removed
        workflow, a crash between a poll and its record)."""
        members = [m.decode() for m in await self.redis.smembers(Keys.in_flight(task_type))]
        stale = []
        for task_id in members:
            task = await self.get_task(task_id)
            if task is None or task["status"] not in ("SCHEDULED", "IN_PROGRESS"):
                stale.append(task_id)
        await self.release(task_type, stale)

    async def release_pool_slots(self, task_type: str, partitions: Iterable[int]) -> None:
        """Free the slots a shard's pool calls held when its process died."""
        owned = set(partitions)
        members = [m.decode() for m in await self.redis.smembers(Keys.in_flight(task_type))]
        mine = []
        for task_id in members:
            workflow_id = await self.workflow_of_task(task_id)
            if workflow_id is None or self.partition(workflow_id) in owned:
                mine.append(task_id)
        await self.release(task_type, mine)

    async def release(self, task_type: str, task_ids: list[str]) -> None:
        if task_ids:
            await self.redis.srem(Keys.in_flight(task_type), *task_ids)

    async def record_poll(self, task_type: str, worker_id: str, domain: str | None, now: int) -> None:
        entry = {"queueName": task_type, "domain": domain, "workerId": worker_id, "lastPollTime": now}
        field = f"{domain}:{worker_id}" if domain else worker_id
        await self.redis.hset(Keys.poll_data(task_type), field, dumps(entry))

    async def poll_data(self, task_type: str) -> list[Json]:
        found = await self.redis.hgetall(Keys.poll_data(task_type))
        return [orjson.loads(v) for v in found.values()]

    async def all_poll_data(self) -> list[Json]:
        found: list[Json] = []
        async for key in self.redis.scan_iter(match=f"{PREFIX}polldata:*", count=500):
            found.extend(orjson.loads(v) for v in (await self.redis.hgetall(key)).values())
        return found

    async def queues(self) -> dict[tuple[str, str | None], dict[str, int]]:
        """Every external-worker queue, (task type, domain) -> ready, delayed and in-flight counts.

        Found by SCAN: an administrative view, not a path any workflow step takes.
        """
        ordered = await self._queue_names()
        pipe = self.redis.pipeline(transaction=False)
        for task_type, domain in ordered:
            queue = Keys.queue(task_type, domain)
            pipe.zcard(queue)
            pipe.zcard(Keys.queue_delayed(queue))
            pipe.scard(Keys.in_flight(task_type))
        counts = await pipe.execute()
        return {
            name: {"ready": counts[3 * i], "delayed": counts[3 * i + 1], "inFlight": counts[3 * i + 2]}
            for i, name in enumerate(ordered)
        }

    async def _queue_names(self) -> list[tuple[str, str | None]]:
        """(task type, domain) of every queue holding ready or delayed tasks, by SCAN."""
        names: set[tuple[str, str | None]] = set()
        for kind in ("queue", "queuedelay"):
            async for raw in self.redis.scan_iter(match=f"{PREFIX}{kind}:{{q:*", count=500):
                name = Keys.queue_name(raw.decode())
                if name is not None:
                    names.add(name)
        return sorted(names, key=lambda name: (name[0], name[1] or ""))

    async def requeue_delayed(self, task_type: str) -> int:
        """Make every task of this type that waits out a delay visible now, in every domain."""
        moved = 0
        for name in await self._queue_names():
            if name[0] == task_type:
                queue = Keys.queue(task_type, name[1])
                keys = [queue, Keys.queue_tasks(queue), Keys.queue_delayed(queue)]
                moved += int(await self._promote_all(keys=keys, args=[]))
        return moved

    async def queue_sizes(self, task_types: Iterable[str]) -> dict[str, int]:
        names = list(task_types)
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.zcard(Keys.queue(name))
            pipe.zcard(Keys.queue_delayed(Keys.queue(name)))
        counts = await pipe.execute()
        return {name: counts[2 * i] + counts[2 * i + 1] for i, name in enumerate(names)}

    # -- Python worker pools ------------------------------------------------------------

    async def register_pools(self, sizes: dict[str, int]) -> None:
        if sizes:
            await self.redis.hset(Keys.pools, mapping=sizes)

    async def pool_sizes(self) -> dict[str, int]:
        found = await self.redis.hgetall(Keys.pools)
        return {k.decode(): int(v) for k, v in found.items()}

    async def colocated_workers(self) -> dict[str, str]:
        """Task types whose worker each shard runs in its own process: type -> module."""
        found = await self.redis.hgetall(Keys.colocated_workers)
        return {k.decode(): v.decode() for k, v in found.items()}

