"""Executions: their checkpoints, definitions by digest, idempotent starts, finding tasks,
removing an execution, the running and correlation sets, timers and inboxes, task logs."""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from actors.workflow.task_view import api_task, definition_index
from cluster.store.base import StoreBase
from cluster.store.encoding import Json, StoredExecution, Timer, dumps, execution_json, stored_execution
from cluster.store.indexes import _unindex
from cluster.store.keys import Keys

_COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end
return 0
"""
_COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# A digest names a definition's content, so its index never goes stale: kept per process.
_DEFINITION_INDEXES: dict[bytes, dict[str, Json]] = {}
_DEFINITION_INDEXES_MAX = 512


class ExecutionStore(StoreBase):
    """Executions, as their checkpoints left them, and what points at them."""

    async def load_executions(self, workflow_ids: list[str]) -> list[StoredExecution | None]:
        """Each execution's checkpoint, or None where there is none."""
        pipe = self.redis.pipeline(transaction=False)
        for workflow_id in workflow_ids:
            pipe.hgetall(Keys.execution(self.partition(workflow_id), workflow_id))
        return [stored_execution(raw) if raw else None for raw in await pipe.execute()]

    async def definitions_by_digest(self, digests: list[bytes]) -> dict[bytes, bytes]:
        if not digests:
            return {}
        found = await self.redis.hmget(Keys.definitions, digests)
        return {digest: raw for digest, raw in zip(digests, found, strict=True) if raw is not None}

    async def definition_indexes(self, digests: Iterable[bytes | None]) -> dict[bytes, dict[str, Json]]:
        """The WorkflowTasks of stored definitions by reference name, for `api_task`."""
        wanted = {digest for digest in digests if digest}
        missing = [digest for digest in wanted if digest not in _DEFINITION_INDEXES]
        if missing:
            found = await self.definitions_by_digest(missing)
            if len(_DEFINITION_INDEXES) + len(found) > _DEFINITION_INDEXES_MAX:
                _DEFINITION_INDEXES.clear()
            for digest, raw in found.items():
                _DEFINITION_INDEXES[digest] = definition_index(orjson.loads(raw))
        return {digest: _DEFINITION_INDEXES[digest] for digest in wanted if digest in _DEFINITION_INDEXES}

    async def with_workflow_tasks(self, tasks: list[Json]) -> list[Json]:
        """Tasks (as a queue hands them out) with the `workflowTask` of their definition."""
        workflow_ids = list({task["workflowInstanceId"] for task in tasks if "workflowTask" not in task})
        if not workflow_ids:
            return tasks
        pipe = self.redis.pipeline(transaction=False)
        for workflow_id in workflow_ids:
            pipe.hget(Keys.execution(self.partition(workflow_id), workflow_id), "def")
        digests = dict(zip(workflow_ids, await pipe.execute(), strict=True))
        indexes = await self.definition_indexes(digests.values())
        return [api_task(task, indexes.get(digests.get(task["workflowInstanceId"]) or b"")) for task in tasks]

    async def get_workflow(self, workflow_id: str, include_tasks: bool = True) -> Json | None:
        """The execution as Conductor's API shows it, from its last checkpoint."""
        key = Keys.execution(self.partition(workflow_id), workflow_id)
        if include_tasks:
            raw = await self.redis.hgetall(key)
        else:
            meta, digest = await self.redis.hmget(key, ["meta", "def"])
            raw = {b"meta": meta, b"def": digest} if meta is not None else {}
        if not raw:
            return None
        digest = raw.get(b"def")
        if digest:
            raw[b"def"] = await self.redis.hget(Keys.definitions, digest) or b"{}"
        return execution_json(raw, include_tasks=include_tasks)

    # -- idempotent starts ----------------------------------------------------------------

    async def claim_idempotency_key(self, name: str, key: str, workflow_id: str) -> str | None:
        """Record that `workflow_id` starts for this key; the id already recorded, if any."""
        redis_key = Keys.idempotency(name, key)
        if await self.redis.set(redis_key, workflow_id, nx=True):
            return None
        existing = await self.redis.get(redis_key)
        return existing.decode() if existing else await self.claim_idempotency_key(name, key, workflow_id)

    async def replace_idempotency_key(self, name: str, key: str, old_id: str, new_id: str) -> bool:
        """Point the key at `new_id` if it still names `old_id` (compare and set)."""
        swapped = await self.redis.eval(_COMPARE_AND_SET, 1, Keys.idempotency(name, key), old_id, new_id)
        return bool(swapped)

    async def release_idempotency_key(self, name: str, key: str, workflow_id: str) -> None:
        await self.redis.eval(_COMPARE_AND_DELETE, 1, Keys.idempotency(name, key), workflow_id)

    async def workflow_of_task(self, task_id: str) -> str | None:
        raw = await self.redis.hget(Keys.task_workflow, task_id)
        return raw.decode() if raw else None

    async def get_task(self, task_id: str) -> Json | None:
        workflow_id = await self.workflow_of_task(task_id)
        if workflow_id is None:
            return None
        key = Keys.execution(self.partition(workflow_id), workflow_id)
        raw, digest = await self.redis.hmget(key, ["t:" + task_id, "def"])
        if not raw:
            return None
        indexes = await self.definition_indexes([digest])
        return api_task(orjson.loads(raw), indexes.get(digest or b""))

    async def get_workflows(self, workflow_ids: list[str], with_definition: bool = True) -> list[Json | None]:
        """Executions without their tasks (as `get_workflow(id, False)`), in one round trip or two."""
        pipe = self.redis.pipeline(transaction=False)
        for workflow_id in workflow_ids:
            pipe.hmget(Keys.execution(self.partition(workflow_id), workflow_id), ["meta", "def"])
        found = await pipe.execute() if workflow_ids else []
        digests = list({digest for meta, digest in found if meta is not None and digest}) if with_definition else []
        definitions = await self.definitions_by_digest(digests)
        workflows: list[Json | None] = []
        for meta, digest in found:
            raw = {b"meta": meta} if meta is not None else None
            if raw is not None and digest in definitions:
                raw[b"def"] = definitions[digest]
            workflows.append(execution_json(raw, include_tasks=False) if raw is not None else None)
        return workflows

    async def get_tasks(self, task_ids: list[str]) -> list[Json | None]:
        """Tasks by id, as `get_task` answers them, in two round trips."""
        if not task_ids:
            return []
        owners = await self.redis.hmget(Keys.task_workflow, task_ids)
        pipe = self.redis.pipeline(transaction=False)
        for task_id, owner in zip(task_ids, owners, strict=True):
            if owner is not None:
                workflow_id = owner.decode()
                pipe.hmget(Keys.execution(self.partition(workflow_id), workflow_id), ["t:" + task_id, "def"])
        found = iter(await pipe.execute())
        pairs = [next(found) if owner is not None else [None, None] for owner in owners]
        indexes = await self.definition_indexes(digest for _, digest in pairs)
        return [api_task(orjson.loads(raw), indexes.get(digest or b"")) if raw else None for raw, digest in pairs]

    async def task_ids_of_workflow(self, workflow_id: str) -> list[str]:
        fields = await self.redis.hkeys(Keys.execution(self.partition(workflow_id), workflow_id))
        return [f[2:].decode() for f in fields if f.startswith(b"t:")]

    async def remove_workflow(self, workflow_id: str) -> bool:
        """Delete an execution and every index entry pointing at it."""
        partition = self.partition(workflow_id)
        key = Keys.execution(partition, workflow_id)
        raw = await self.redis.hgetall(key)
        if not raw:
            return False
        workflow = orjson.loads(raw[b"meta"])
        task_ids = [field[2:].decode() for field in raw if field.startswith(b"t:")]
        if workflow.get("idempotencyKey"):
            await self.release_idempotency_key(workflow["workflowName"], workflow["idempotencyKey"], workflow_id)
        pipe = self.multi()
        pipe.delete(key)
        _unindex(pipe, workflow_id, workflow, [orjson.loads(v) for f, v in raw.items() if f.startswith(b"t:")])
        pipe.srem(Keys.partition_running(partition), workflow_id)
        pipe.srem(Keys.running(workflow["workflowName"]), workflow_id)
        if workflow.get("correlationId"):
            pipe.srem(Keys.correlated(workflow["workflowName"], workflow["correlationId"]), workflow_id)
        if task_ids:
            pipe.hdel(Keys.task_workflow, *task_ids)
            pipe.delete(*[Keys.task_log(task_id) for task_id in task_ids])
            for field, value in raw.items():
                if field.startswith(b"t:"):
                    task = orjson.loads(value)
                    queue = Keys.queue(task["taskType"], task.get("domain"))
                    pipe.zrem(queue, task["taskId"])
                    pipe.zrem(Keys.queue_delayed(queue), task["taskId"])
                    pipe.hdel(Keys.queue_tasks(queue), task["taskId"])
        await pipe.execute()
        return True

    async def running_ids(self, name: str) -> list[str]:
        return sorted(m.decode() for m in await self.redis.smembers(Keys.running(name)))

    async def correlated_ids(self, name: str, correlation_id: str) -> list[str]:
        return sorted(m.decode() for m in await self.redis.smembers(Keys.correlated(name, correlation_id)))

    async def partition_running_ids(self, partition: int) -> list[str]:
        return [m.decode() for m in await self.redis.smembers(Keys.partition_running(partition))]

    # -- timers and inboxes -------------------------------------------------------------

    async def due_timers(
        self, partitions: Iterable[int], now: int, limit: int = 1000
    ) -> tuple[list[tuple[int, Timer]], dict[int, int | None]]:
        """Timers due by `now` (with their partition), and each partition's earliest timer
        due later (None when it has none)."""
        pipe = self.redis.pipeline(transaction=False)
        owned = list(partitions)
        for partition in owned:
            pipe.zrangebyscore(Keys.timers(partition), "-inf", now, start=0, num=limit)
            pipe.zrangebyscore(Keys.timers(partition), f"({now}", "+inf", start=0, num=1, withscores=True)
        replies = await pipe.execute() if owned else []
        due: list[tuple[int, Timer]] = []
        later: dict[int, int | None] = {}
        for index, partition in enumerate(owned):
            due.extend((partition, Timer.of_member(member)) for member in replies[2 * index])
            following = replies[2 * index + 1]
            later[partition] = int(following[0][1]) if following else None
        return due, later

    async def inbox_messages(self, partitions: Iterable[int]) -> list[tuple[int, str, Json]]:
        pipe = self.redis.pipeline(transaction=False)
        owned = list(partitions)
        for partition in owned:
            pipe.hgetall(Keys.inbox(partition))
        found: list[tuple[int, str, Json]] = []
        for partition, messages in zip(owned, await pipe.execute(), strict=True):
            found.extend((partition, key.decode(), orjson.loads(value)) for key, value in messages.items())
        return found

    # -- task logs ----------------------------------------------------------------------

    async def append_task_log(self, task_id: str, entry: Json) -> None:
        await self.redis.rpush(Keys.task_log(task_id), dumps(entry))

    async def task_logs(self, task_id: str) -> list[Json]:
        return [orjson.loads(e) for e in await self.redis.lrange(Keys.task_log(task_id), 0, -1)]
