"""Everything Podium keeps in Redis, and the only code that knows the key names.

Layout (all keys start with `podium:`):

| key | type | holds |
|---|---|---|
| `meta:wf:{name}` | hash version -> WorkflowDef JSON | workflow definitions |
| `meta:wfnames` | set | names with at least one version |
| `meta:task` | hash name -> TaskDef JSON | task definitions |
| `defs` | hash digest -> WorkflowDef JSON | the definitions executions run, stored once each |
| `{pN}:wf:{id}` | hash `meta`, `def` (digest), `t:{taskId}` | one execution's checkpoint |
| `{pN}:running` | set of ids | executions to recover in partition N |
| `{pN}:timers` | zset `id|taskId|kind` by due ms | durable timers of partition N |
| `{pN}:inbox` | hash message id -> event | messages between executions |
| `taskwf` | hash taskId -> workflowId | finding a task by its id |
| `queue:{domain:}{type}` | zset taskId by priority rank, then enqueue ms | tasks ready for external workers |
| `queuedelay:{domain:}{type}` | zset taskId by visible-at ms | tasks waiting out a delay, moved to `queue:` by polls |
| `queued:{domain:}{type}` | hash taskId -> Task JSON | what a poll hands out |
| `running:{name}` | set of ids | RUNNING/PAUSED executions of a workflow |
| `corr:{name}:{correlationId}` | set of ids | executions by correlation id |
| `poolqueue:{shard}:{type}` | zset, like `queue:` | rate- or concurrency-limited Python pool tasks waiting for a slot |
| `inflight:{type}` | set of task ids | tasks handed out and not ended (concurrentExecLimit) |
| `ratewin:{type}` | zset taskId by hand-out ms | hand-outs within the rate window (rateLimitPerFrequency) |
| `idem:{name}:{key}` | string workflow id | the execution an idempotencyKey started |
| `log:{taskId}` | list | task execution logs |
| `polldata:{type}` | hash worker -> JSON | last poll per worker |
| `pools` | hash type -> pool size | task types served by Python actor pools |
| `cluster` | hash | settings fixed at creation (`partitions`) |
| `events` | stream of `{event, payload, id}` | the event bus: EVENT task messages and events posted to the API |
| `meta:eventhandlers` | hash name -> EventHandler JSON | event handlers |
| `ix:wf:all` | zset id by startTime | every execution, for search (cluster/search.py) |
| `ix:wf:type:{name}` | zset id by startTime | executions of one workflow type |
| `ix:wf:status:{status}` | zset id by startTime | executions in one status |
| `ix:wf:corr:{correlationId}` | zset id by startTime | executions with one correlation id (any type) |
| `ix:wf:sum` | hash id -> JSON array (`WORKFLOW_SUMMARY_FIELDS`) | what search filters and sorts on |
| `ix:task:type:{type}` | zset taskId by updateTime (of its last status change) | tasks of one task type, for search |
| `ix:task:status:{status}` | zset taskId by updateTime | tasks in one status |
| `ix:tmp:{token}` | zset | a search's scratch set, deleted in the transaction that makes it |

The `ix:` entries change only when an execution's status (or start time, correlation id,
version) or a task's status changes, in the same transaction as the checkpoint that made
the change; the scores of one member are equal in every index it is in. Tasks have no
`all` set (every task is in exactly one status set) and no summary (their records in
`{pN}:wf:{id}` serve).

`{pN}` is a Redis Cluster hash tag: every key of one partition lives in one slot.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from actors.workflow.state import WorkflowState, public_task

PREFIX = "podium:"
Json = dict[str, Any]


def partition_of(workflow_id: str, partitions: int) -> int:
    """A stable hash: the same id lands in the same partition on every node and run."""
    return zlib.crc32(workflow_id.encode()) % partitions


class Keys:
    @staticmethod
    def workflow_def(name: str) -> str:
        return f"{PREFIX}meta:wf:{name}"

    workflow_names = f"{PREFIX}meta:wfnames"
    task_defs = f"{PREFIX}meta:task"
    definitions = f"{PREFIX}defs"
    task_workflow = f"{PREFIX}taskwf"
    pools = f"{PREFIX}pools"
    cluster = f"{PREFIX}cluster"
    events = f"{PREFIX}events"
    event_handlers = f"{PREFIX}meta:eventhandlers"

    @staticmethod
    def _in_partition(partition: int, rest: str) -> str:
        # The one place the hash tag is written: every key of a partition shares it.
        return f"{PREFIX}{{p{partition}}}:{rest}"

    @staticmethod
    def execution(partition: int, workflow_id: str) -> str:
        return Keys._in_partition(partition, f"wf:{workflow_id}")

    @staticmethod
    def partition_running(partition: int) -> str:
        return Keys._in_partition(partition, "running")

    @staticmethod
    def timers(partition: int) -> str:
        return Keys._in_partition(partition, "timers")

    @staticmethod
    def inbox(partition: int) -> str:
        return Keys._in_partition(partition, "inbox")

    @staticmethod
    def queue(task_type: str, domain: str | None = None) -> str:
        return f"{PREFIX}queue:{domain}:{task_type}" if domain else f"{PREFIX}queue:{task_type}"

    @staticmethod
    def queue_delayed(queue_key: str) -> str:
        for kind in ("queue", "poolqueue"):
            marker = f"{PREFIX}{kind}:"
            if queue_key.startswith(marker):
                return f"{PREFIX}{kind}delay:{queue_key[len(marker) :]}"
        raise ValueError(f"not a queue key: {queue_key}")

    @staticmethod
    def queue_tasks(queue_key: str) -> str:
        # A prefix of its own, so no task type or domain can make it collide with a queue.
        if queue_key.startswith(f"{PREFIX}poolqueue:"):
            return queue_key.replace(f"{PREFIX}poolqueue:", f"{PREFIX}poolqueued:", 1)
        return queue_key.replace(f"{PREFIX}queue:", f"{PREFIX}queued:", 1)

    @staticmethod
    def pool_queue(task_type: str, shard: int) -> str:
        return f"{PREFIX}poolqueue:{shard}:{task_type}"

    @staticmethod
    def in_flight(task_type: str) -> str:
        return f"{PREFIX}inflight:{task_type}"

    @staticmethod
    def rate_window(task_type: str) -> str:
        return f"{PREFIX}ratewin:{task_type}"

    @staticmethod
    def running(name: str) -> str:
        return f"{PREFIX}running:{name}"

    @staticmethod
    def correlated(name: str, correlation_id: str) -> str:
        return f"{PREFIX}corr:{name}:{correlation_id}"

    @staticmethod
    def idempotency(name: str, key: str) -> str:
        return f"{PREFIX}idem:{name}:{key}"

    @staticmethod
    def task_log(task_id: str) -> str:
        return f"{PREFIX}log:{task_id}"

    @staticmethod
    def poll_data(task_type: str) -> str:
        return f"{PREFIX}polldata:{task_type}"

    # -- search indexes (the `ix:` keys) --

    workflow_index_all = f"{PREFIX}ix:wf:all"
    workflow_summaries = f"{PREFIX}ix:wf:sum"

    @staticmethod
    def workflow_index_type(name: str) -> str:
        return f"{PREFIX}ix:wf:type:{name}"

    @staticmethod
    def workflow_index_status(status: str) -> str:
        return f"{PREFIX}ix:wf:status:{status}"

    @staticmethod
    def workflow_index_correlation(correlation_id: str) -> str:
        return f"{PREFIX}ix:wf:corr:{correlation_id}"

    @staticmethod
    def task_index_type(task_type: str) -> str:
        return f"{PREFIX}ix:task:type:{task_type}"

    @staticmethod
    def task_index_status(status: str) -> str:
        return f"{PREFIX}ix:task:status:{status}"

    @staticmethod
    def search_scratch(token: str) -> str:
        return f"{PREFIX}ix:tmp:{token}"


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
_POLL_SCRIPT = _PROMOTE + """
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if #ids == 0 then return {} end
redis.call('ZREM', KEYS[1], unpack(ids))
local payloads = redis.call('HMGET', KEYS[2], unpack(ids))
redis.call('HDEL', KEYS[2], unpack(ids))
return payloads
"""


# The same, within a task type's limits: at most ARGV[3] tasks in flight (0 = no limit)
# and at most ARGV[4] hand-outs per ARGV[5] ms (0 = no limit), counted across every
# queue of the type (all domains, external workers and Python pools alike).
_LIMITED_POLL_SCRIPT = _PROMOTE + """
local now = tonumber(ARGV[1])
local room = tonumber(ARGV[2])
local concurrency = tonumber(ARGV[3])
local rate = tonumber(ARGV[4])
if concurrency > 0 then
  room = math.min(room, concurrency - redis.call('SCARD', KEYS[4]))
end
if rate > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - tonumber(ARGV[5]))
  room = math.min(room, rate - redis.call('ZCARD', KEYS[5]))
end
if room <= 0 then return {} end
local ids = redis.call('ZRANGE', KEYS[1], 0, room - 1)
if #ids == 0 then return {} end
redis.call('ZREM', KEYS[1], unpack(ids))
local payloads = redis.call('HMGET', KEYS[2], unpack(ids))
redis.call('HDEL', KEYS[2], unpack(ids))
for _, id in ipairs(ids) do
  if concurrency > 0 then redis.call('SADD', KEYS[4], id) end
  if rate > 0 then redis.call('ZADD', KEYS[5], now, id) end
end
return payloads
"""
_COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end
return 0
"""
_COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
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


def ready_score(priority: Any, enqueued_ms: int) -> int:
    """Ready tasks go out by priority (1 first, 99 last, 0 or none after them, as Orkes
    documents it), then oldest first."""
    rank = priority if isinstance(priority, int) and 1 <= priority <= 99 else 100
    return rank * 10**13 + enqueued_ms


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def definition_digest(definition_json: bytes) -> bytes:
    """Executions of one definition share its stored JSON: the checkpoint holds this key."""
    return hashlib.blake2b(definition_json, digest_size=16).hexdigest().encode()


# -- search indexes ----------------------------------------------------------------------

# What search filters and sorts on, one JSON array per execution in this field order;
# the result pages themselves are read from the checkpoints. (A task's summary would
# repeat its record, which every step that changes the task writes anyway.)
WORKFLOW_SUMMARY_FIELDS = ("workflowType", "version", "status", "startTime", "endTime", "correlationId")
WORKFLOW_INDEX_STATUSES = ("RUNNING", "PAUSED", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED")

# One turn's index changes as ONE command of the checkpoint's transaction, with ONE
# argument (redis-py encodes every argument in Python: a command, or even an argument,
# per change would cost the shard more than the changes cost Redis), and one call per
# key inside it. ARGV[1] is the JSON of `IndexWrites`: [ZREM, ZADD, HSET, HDEL], each
# {key: [arguments...]}, applied in that order. Scores are strings (exact).
_INDEX_SCRIPT = """
local writes = cjson.decode(ARGV[1])
local commands = {'ZREM', 'ZADD', 'HSET', 'HDEL'}
for c = 1, 4 do
  for key, args in pairs(writes[c]) do
    for i = 1, #args, 1000 do
      redis.call(commands[c], key, unpack(args, i, math.min(i + 999, #args)))
    end
  end
end
return 1
"""


def _append(group: dict[str, list[str]], key: str, *values: str) -> None:
    found = group.get(key)
    if found is None:
        group[key] = list(values)
    else:
        found.extend(values)


class IndexWrites:
    """One turn's search index changes, grouped by key and command. A member is never both
    removed from and added to one key in a turn, so removals can all go first."""

    __slots__ = ("hdel", "hset", "zadd", "zrem")

    def __init__(self) -> None:
        self.zrem: dict[str, list[str]] = {}
        self.zadd: dict[str, list[str]] = {}  # key -> [score, member, score, member, ...]
        self.hset: dict[str, list[str]] = {}  # key -> [field, value, ...]
        self.hdel: dict[str, list[str]] = {}

    def __bool__(self) -> bool:
        return bool(self.zadd or self.zrem or self.hset or self.hdel)

    def payload(self) -> bytes:
        return dumps([self.zrem, self.zadd, self.hset, self.hdel])


def _workflow_signature(workflow: Json) -> tuple[Any, ...]:
    """The fields of an execution its index entries depend on."""
    return (
        workflow["status"],
        workflow.get("startTime") or 0,
        workflow.get("correlationId"),
        workflow.get("workflowVersion"),
    )


@dataclass(slots=True)
class Indexed:
    """What the search indexes hold for one execution in a shard's memory, so a checkpoint
    writes index entries only when the execution's status (start time, correlation id,
    version) or a task's status changed, never for a step that changed neither."""

    signature: tuple[Any, ...] | None = None
    tasks: dict[str, tuple[str, str]] = field(default_factory=dict)  # taskId -> (status, taskType)

    @staticmethod
    def of(state: WorkflowState) -> Indexed:
        """An execution loaded from its checkpoint: the indexes were written with it."""
        return Indexed(
            _workflow_signature(state.workflow), {t["taskId"]: (t["status"], t["taskType"]) for t in state.tasks}
        )


def _unindex(pipe: Any, workflow_id: str, workflow: Json, tasks: list[Json]) -> None:
    """Delete an execution's and its tasks' search index entries."""
    pipe.zrem(Keys.workflow_index_all, workflow_id)
    pipe.zrem(Keys.workflow_index_type(workflow["workflowName"]), workflow_id)
    for status in WORKFLOW_INDEX_STATUSES:
        pipe.zrem(Keys.workflow_index_status(status), workflow_id)
    if workflow.get("correlationId"):
        pipe.zrem(Keys.workflow_index_correlation(workflow["correlationId"]), workflow_id)
    pipe.hdel(Keys.workflow_summaries, workflow_id)
    if not tasks:
        return
    by_key: dict[str, list[str]] = {}
    for task in tasks:
        by_key.setdefault(Keys.task_index_type(task["taskType"]), []).append(task["taskId"])
        by_key.setdefault(Keys.task_index_status(task["status"]), []).append(task["taskId"])
    for key, members in by_key.items():
        pipe.zrem(key, *members)


class Checkpoint:
    """The writes of one shard loop turn, sent as one MULTI/EXEC transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pipe = store.redis.pipeline(transaction=True)
        self.size = 0
        self.index_writes = IndexWrites()

    def save(self, partition: int, state: WorkflowState, definition_json: bytes | None) -> None:
        if state.removed_task_ids:
            removed = list(state.removed_task_ids)
            self.pipe.hdel(Keys.execution(partition, state.workflow_id), *("t:" + task_id for task_id in removed))
            self.pipe.hdel(Keys.task_workflow, *removed)
            self.pipe.delete(*(Keys.task_log(task_id) for task_id in removed))
            state.removed_task_ids = set()
        fields: dict[str, bytes] = {}
        if state.meta_dirty:
            fields["meta"] = dumps(state.workflow)
        if definition_json is not None:
            digest = definition_digest(definition_json)
            self.pipe.hsetnx(Keys.definitions, digest, definition_json)
            fields["def"] = digest
        tasks = state.by_id
        for task_id in state.dirty_task_ids:
            fields["t:" + task_id] = dumps(tasks[task_id])
        if not fields:
            return
        pipe = self.pipe
        pipe.hset(Keys.execution(partition, state.workflow_id), mapping=fields)
        if state.dirty_task_ids:
            pipe.hset(Keys.task_workflow, mapping=dict.fromkeys(state.dirty_task_ids, state.workflow_id))
        state.dirty_task_ids = set()
        state.meta_dirty = False
        self.size += 1

    def index_started(self, partition: int, workflow: Json) -> None:
        workflow_id = workflow["workflowId"]
        self.pipe.sadd(Keys.partition_running(partition), workflow_id)
        self.pipe.sadd(Keys.running(workflow["workflowName"]), workflow_id)
        if workflow.get("correlationId"):
            self.pipe.sadd(Keys.correlated(workflow["workflowName"], workflow["correlationId"]), workflow_id)

    def index_ended(self, partition: int, workflow: Json) -> None:
        self.pipe.srem(Keys.partition_running(partition), workflow["workflowId"])
        self.pipe.srem(Keys.running(workflow["workflowName"]), workflow["workflowId"])

    def index(self, state: WorkflowState, indexed: Indexed | None) -> Indexed:
        """This step's search index changes; call before `save`, which clears the dirty sets.

        `indexed` is what the indexes hold (None for a new execution); the answer is what
        they will hold once this checkpoint commits.
        """
        if indexed is None:
            indexed = Indexed()
        workflow = state.workflow
        signature = _workflow_signature(workflow)
        if signature != indexed.signature:
            self._index_workflow(workflow, indexed.signature, signature)
            indexed.signature = signature
        known = indexed.tasks
        writes = self.index_writes
        for task_id in state.removed_task_ids:
            gone = known.pop(task_id, None)
            if gone is not None:
                _append(writes.zrem, Keys.task_index_type(gone[1]), task_id)
                _append(writes.zrem, Keys.task_index_status(gone[0]), task_id)
        by_id = state.by_id
        for task_id in state.dirty_task_ids:
            task = by_id[task_id]
            status = task["status"]
            before = known.get(task_id)
            if before is None or before[0] != status:
                self._index_task(task, before)
                known[task_id] = (status, task["taskType"])
        return indexed

    def _index_workflow(self, workflow: Json, before: tuple[Any, ...] | None, after: tuple[Any, ...]) -> None:
        workflow_id = workflow["workflowId"]
        status, start, correlation_id, version = after
        score = str(start)
        writes = self.index_writes
        if before is not None:
            if before[0] != status:
                _append(writes.zrem, Keys.workflow_index_status(before[0]), workflow_id)
            if before[2] and before[2] != correlation_id:
                _append(writes.zrem, Keys.workflow_index_correlation(before[2]), workflow_id)
        zadd = writes.zadd
        moved = before is None or before[1] != start  # the score every entry carries
        if moved:
            _append(zadd, Keys.workflow_index_all, score, workflow_id)
            _append(zadd, Keys.workflow_index_type(workflow["workflowName"]), score, workflow_id)
        if moved or before is None or before[0] != status:
            _append(zadd, Keys.workflow_index_status(status), score, workflow_id)
        if correlation_id and (moved or before is None or before[2] != correlation_id):
            _append(zadd, Keys.workflow_index_correlation(correlation_id), score, workflow_id)
        summary = [workflow["workflowName"], version, status, start, workflow.get("endTime") or 0, correlation_id]
        _append(writes.hset, Keys.workflow_summaries, workflow_id, dumps(summary).decode())

    def _index_task(self, task: Json, before: tuple[str, str] | None) -> None:
        task_id = task["taskId"]
        score = str(task.get("updateTime") or 0)
        status = task["status"]
        writes = self.index_writes
        if before is not None:
            _append(writes.zrem, Keys.task_index_status(before[0]), task_id)
        zadd = writes.zadd
        _append(zadd, Keys.task_index_type(task["taskType"]), score, task_id)
        _append(zadd, Keys.task_index_status(status), score, task_id)

    def enqueue(self, task: Json, now: int, delay_ms: int = 0, queue: str | None = None) -> None:
        """Queue a task: ready now (ordered by its workflow's priority, then by age), or
        after `delay_ms` (a poll moves it to the ready set once due)."""
        queue = queue or Keys.queue(task["taskType"], task.get("domain"))
        task_id = task["taskId"]
        self.pipe.hset(Keys.queue_tasks(queue), task_id, dumps(public_task(task)))
        if delay_ms > 0:
            self.pipe.zadd(Keys.queue_delayed(queue), {task_id: now + delay_ms})
            self.pipe.zrem(queue, task_id)
        else:
            self.pipe.zadd(queue, {task_id: ready_score(task.get("workflowPriority"), now)})
            self.pipe.zrem(Keys.queue_delayed(queue), task_id)

    def dequeue(self, task: Json, queue: str | None = None) -> None:
        queue = queue or Keys.queue(task["taskType"], task.get("domain"))
        self.pipe.zrem(queue, task["taskId"])
        self.pipe.zrem(Keys.queue_delayed(queue), task["taskId"])
        self.pipe.hdel(Keys.queue_tasks(queue), task["taskId"])

    def release(self, task: Json) -> None:
        """A task of a concurrency-limited type ended: its slot is free."""
        self.pipe.srem(Keys.in_flight(task["taskType"]), task["taskId"])

    def set_timer(self, partition: int, member: str, due_ms: int) -> None:
        self.pipe.zadd(Keys.timers(partition), {member: due_ms})

    def clear_timer(self, partition: int, member: str) -> None:
        self.pipe.zrem(Keys.timers(partition), member)

    def post(self, partition: int, message_id: str, message: bytes) -> None:
        self.pipe.hset(Keys.inbox(partition), message_id, message)

    def ack(self, partition: int, message_id: str) -> None:
        self.pipe.hdel(Keys.inbox(partition), message_id)

    def publish_event(self, event: str, payload: Json, message_id: str) -> None:
        """Add a message to the event bus as part of this turn (an EVENT task's)."""
        self.pipe.xadd(Keys.events, event_fields(event, payload, message_id))

    async def commit(self) -> None:
        if self.index_writes:
            self.pipe.eval(_INDEX_SCRIPT, 0, self.index_writes.payload())
        if len(self.pipe):
            await self.pipe.execute()


class Store:
    def __init__(self, redis_url: str, partitions: int, max_connections: int = 64) -> None:
        # A blocking pool: under a burst, callers wait for a connection instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=max_connections, timeout=None)
        # Typed as Any: redis-py's own annotations say `bytes | str` for every reply,
        # whatever decode_responses is; with decode_responses off they are bytes.
        self.redis: Any = aioredis.Redis(connection_pool=pool, decode_responses=False)
        self.partitions = partitions
        self._poll = self.redis.register_script(_POLL_SCRIPT)
        self._limited_poll = self.redis.register_script(_LIMITED_POLL_SCRIPT)
        self._promote_all = self.redis.register_script(_PROMOTE_ALL_SCRIPT)
        self._limits: dict[str, tuple[float, QueueLimits | None]] = {}

    async def close(self) -> None:
        await self.redis.aclose()

    def partition(self, workflow_id: str) -> int:
        return partition_of(workflow_id, self.partitions)

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self)

    # -- metadata -----------------------------------------------------------------------

    async def put_workflow_def(self, definition: Json) -> None:
        name, version = definition["name"], int(definition.get("version") or 1)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(Keys.workflow_def(name), str(version), dumps(definition))
        pipe.sadd(Keys.workflow_names, name)
        await pipe.execute()

    async def put_workflow_defs(self, definitions: list[Json]) -> None:
        pipe = self.redis.pipeline(transaction=True)
        for definition in definitions:
            name, version = definition["name"], int(definition.get("version") or 1)
            pipe.hset(Keys.workflow_def(name), str(version), dumps(definition))
            pipe.sadd(Keys.workflow_names, name)
        await pipe.execute()

    async def workflow_def_exists(self, name: str, version: int) -> bool:
        return bool(await self.redis.hexists(Keys.workflow_def(name), str(version)))

    async def get_workflow_def(self, name: str, version: int | None = None) -> Json | None:
        key = Keys.workflow_def(name)
        if version is not None:
            raw = await self.redis.hget(key, str(version))
            return orjson.loads(raw) if raw else None
        versions = await self.redis.hgetall(key)
        if not versions:
            return None
        latest = max(versions, key=int)
        return orjson.loads(versions[latest])

    async def get_workflow_def_raw(self, name: str, version: int | None = None) -> bytes | None:
        """The stored JSON bytes, as a shard wants them (no parse on the start path)."""
        key = Keys.workflow_def(name)
        if version is not None:
            return await self.redis.hget(key, str(version))
        versions = await self.redis.hgetall(key)
        return versions[max(versions, key=int)] if versions else None

    async def workflow_def_versions(self, name: str) -> list[Json]:
        versions = await self.redis.hgetall(Keys.workflow_def(name))
        return [orjson.loads(versions[v]) for v in sorted(versions, key=int)]

    async def list_workflow_defs(self) -> list[Json]:
        names = sorted(n.decode() for n in await self.redis.smembers(Keys.workflow_names))
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(Keys.workflow_def(name))
        found: list[Json] = []
        for versions in await pipe.execute():
            found.extend(orjson.loads(versions[v]) for v in sorted(versions, key=int))
        return found

    async def delete_workflow_def(self, name: str, version: int) -> bool:
        key = Keys.workflow_def(name)
        removed = await self.redis.hdel(key, str(version))
        if removed and not await self.redis.exists(key):
            await self.redis.srem(Keys.workflow_names, name)
        return bool(removed)

    async def put_task_defs(self, task_defs: Iterable[Json]) -> None:
        mapping = {d["name"]: dumps(d) for d in task_defs}
        if mapping:
            await self.redis.hset(Keys.task_defs, mapping=mapping)

    async def get_task_def(self, name: str) -> Json | None:
        raw = await self.redis.hget(Keys.task_defs, name)
        return orjson.loads(raw) if raw else None

    async def list_task_defs(self) -> list[Json]:
        found = await self.redis.hgetall(Keys.task_defs)
        return [orjson.loads(found[name]) for name in sorted(found)]

    async def delete_task_def(self, name: str) -> bool:
        return bool(await self.redis.hdel(Keys.task_defs, name))

    # -- executions ---------------------------------------------------------------------

    async def load_executions(self, workflow_ids: list[str]) -> list[dict[bytes, bytes]]:
        pipe = self.redis.pipeline(transaction=False)
        for workflow_id in workflow_ids:
            pipe.hgetall(Keys.execution(self.partition(workflow_id), workflow_id))
        return await pipe.execute()

    async def definitions_by_digest(self, digests: list[bytes]) -> dict[bytes, bytes]:
        if not digests:
            return {}
        found = await self.redis.hmget(Keys.definitions, digests)
        return {digest: raw for digest, raw in zip(digests, found, strict=True) if raw is not None}

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
        raw = await self.redis.hget(Keys.execution(self.partition(workflow_id), workflow_id), "t:" + task_id)
        return public_task(orjson.loads(raw)) if raw else None

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
                pipe.hget(Keys.execution(self.partition(workflow_id), workflow_id), "t:" + task_id)
        raws = iter(await pipe.execute())
        tasks: list[Json | None] = []
        for owner in owners:
            raw = next(raws) if owner is not None else None
            tasks.append(public_task(orjson.loads(raw)) if raw else None)
        return tasks

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
        pipe = self.redis.pipeline(transaction=True)
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

    async def due_timers(self, partitions: Iterable[int], now: int, limit: int = 1000) -> list[tuple[int, str]]:
        pipe = self.redis.pipeline(transaction=False)
        owned = list(partitions)
        for partition in owned:
            pipe.zrangebyscore(Keys.timers(partition), "-inf", now, start=0, num=limit)
        due: list[tuple[int, str]] = []
        for partition, members in zip(owned, await pipe.execute(), strict=True):
            due.extend((partition, member.decode()) for member in members)
        return due

    async def inbox_messages(self, partitions: Iterable[int]) -> list[tuple[int, str, bytes]]:
        pipe = self.redis.pipeline(transaction=False)
        owned = list(partitions)
        for partition in owned:
            pipe.hgetall(Keys.inbox(partition))
        found: list[tuple[int, str, bytes]] = []
        for partition, messages in zip(owned, await pipe.execute(), strict=True):
            found.extend((partition, key.decode(), value) for key, value in messages.items())
        return found

    # -- queues -------------------------------------------------------------------------

    async def poll(
        self, task_type: str, domain: str | None, count: int, now: int, queue: str | None = None
    ) -> list[Json]:
        """Take up to `count` visible tasks, within the type's rate and concurrency limits."""
        queue = queue or Keys.queue(task_type, domain)
        limits = await self.limits_for(task_type)
        keys = [queue, Keys.queue_tasks(queue), Keys.queue_delayed(queue)]
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
            marker = f"{PREFIX}{kind}:"
            async for raw in self.redis.scan_iter(match=f"{marker}*", count=500):
                rest = raw.decode()[len(marker) :]
                domain, _, task_type = rest.rpartition(":")
                names.add((task_type, domain or None))
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

    async def append_task_log(self, task_id: str, entry: Json) -> None:
        await self.redis.rpush(Keys.task_log(task_id), dumps(entry))

    async def task_logs(self, task_id: str) -> list[Json]:
        return [orjson.loads(e) for e in await self.redis.lrange(Keys.task_log(task_id), 0, -1)]

    # -- Python worker pools ------------------------------------------------------------

    async def register_pools(self, sizes: dict[str, int]) -> None:
        if sizes:
            await self.redis.hset(Keys.pools, mapping=sizes)

    async def pool_sizes(self) -> dict[str, int]:
        found = await self.redis.hgetall(Keys.pools)
        return {k.decode(): int(v) for k, v in found.items()}

    async def clear_pools(self, task_types: Iterable[str]) -> None:
        names = list(task_types)
        if names:
            await self.redis.hdel(Keys.pools, *names)

    # -- the event bus and event handlers -------------------------------------------------

    async def publish_event(self, event: str, payload: Json, message_id: str) -> str:
        """Add a message to the event bus; answers its stream entry id."""
        entry_id = await self.redis.xadd(Keys.events, event_fields(event, payload, message_id))
        return str(entry_id.decode())

    async def ensure_event_group(self) -> None:
        """Create the processors' consumer group (and the stream) unless it exists; a new
        group starts at the stream's first entry, so nothing published before is missed."""
        try:
            await self.redis.xgroup_create(Keys.events, EVENT_GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def read_events(self, consumer: str, count: int, block_ms: int) -> list[EventMessage]:
        """Messages no processor has received yet, now `consumer`'s until acknowledged."""
        reply = await self.redis.xreadgroup(EVENT_GROUP, consumer, {Keys.events: ">"}, count=count, block=block_ms)
        streams = reply.items() if isinstance(reply, dict) else (reply or [])
        return [EventMessage.of(entry_id, fields) for _, entries in streams for entry_id, fields in entries]

    async def claim_stale_events(self, consumer: str, min_idle_ms: int, count: int) -> list[EventMessage]:
        """Messages another processor (or this one) received at least `min_idle_ms` ago and
        never acknowledged, now `consumer`'s (XAUTOCLAIM; each claim counts as a delivery)."""
        claimed: list[EventMessage] = []
        cursor: Any = "0-0"
        while len(claimed) < count:
            reply = await self.redis.xautoclaim(
                Keys.events, EVENT_GROUP, consumer, min_idle_ms, start_id=cursor, count=count - len(claimed)
            )
            cursor, entries = reply[0], reply[1]
            claimed.extend(EventMessage.of(entry_id, fields) for entry_id, fields in entries if entry_id is not None)
            if cursor in (b"0-0", "0-0"):
                break
        return claimed

    async def event_deliveries(self, entry_id: str) -> int:
        """How many times a pending message was handed to a processor (0 if not pending)."""
        found = await self.redis.xpending_range(Keys.events, EVENT_GROUP, min=entry_id, max=entry_id, count=1)
        return int(found[0]["times_delivered"]) if found else 0

    async def ack_event(self, entry_id: str) -> None:
        """A message is handled: acknowledged and removed from the stream."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(Keys.events, EVENT_GROUP, entry_id)
        pipe.xdel(Keys.events, entry_id)
        await pipe.execute()

    async def pending_events(self) -> dict[str, int]:
        """Unacknowledged messages per consumer."""
        try:
            summary = await self.redis.xpending(Keys.events, EVENT_GROUP)
        except ResponseError:
            return {}
        return {_text(c["name"]): int(c["pending"]) for c in summary["consumers"] or []}

    async def add_event_handler(self, handler: Json) -> bool:
        """Store a new handler; False if one with that name exists."""
        return bool(await self.redis.hsetnx(Keys.event_handlers, handler["name"], dumps(handler)))

    async def update_event_handler(self, handler: Json) -> bool:
        """Replace an existing handler; False if there is none with that name."""
        replaced = await self.redis.eval(_REPLACE_FIELD, 1, Keys.event_handlers, handler["name"], dumps(handler))
        return bool(replaced)

    async def delete_event_handler(self, name: str) -> bool:
        return bool(await self.redis.hdel(Keys.event_handlers, name))

    async def list_event_handlers(self) -> list[Json]:
        found = await self.redis.hgetall(Keys.event_handlers)
        return [orjson.loads(found[name]) for name in sorted(found)]


# The consumer group every event processor (one per gateway) reads the event bus in.
EVENT_GROUP = "podium-event-processors"
_REPLACE_FIELD = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) + 1 end
return 0
"""


def event_fields(event: str, payload: Json, message_id: str) -> dict[str, bytes | str]:
    return {"event": event, "payload": dumps(payload), "id": message_id}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One message of the event bus: its stream entry id, event name, JSON payload and id."""

    entry_id: str
    event: str
    payload: bytes
    message_id: str

    @staticmethod
    def of(entry_id: Any, fields: dict[bytes, bytes]) -> EventMessage:
        return EventMessage(
            _text(entry_id),
            _text(fields.get(b"event", b"")),
            fields.get(b"payload", b"null"),
            _text(fields.get(b"id", b"")),
        )


def execution_json(raw: dict[bytes, bytes], include_tasks: bool) -> Json:
    workflow: Json = orjson.loads(raw[b"meta"])
    definition = raw.get(b"def")
    if definition:
        workflow["workflowDefinition"] = orjson.loads(definition)
    if include_tasks:
        tasks = [orjson.loads(v) for k, v in raw.items() if k.startswith(b"t:")]
        tasks.sort(key=lambda t: t["seq"])
        workflow["tasks"] = [public_task(t) for t in tasks]
    return workflow
