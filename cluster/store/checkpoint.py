"""A checkpoint: the writes of one shard loop turn, applied by one fenced Lua script.

The script first checks, for every partition the turn writes as its owner, that the
partition's lease still names the shard's fencing token (`cluster/leases.py`); if any
does not, it writes nothing and the turn is refused with `Fenced`. Otherwise it applies
every write of the turn, atomically, as MULTI/EXEC did before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from actors.workflow.state import TaskRecord, WorkflowRecord, WorkflowState, public_task
from cluster.store import outbox
from cluster.store.encoding import Json, Timer, definition_digest, dumps, ready_score
from cluster.store.eventbus import event_fields
from cluster.store.indexes import APPLY_INDEX_WRITES_LUA, Indexed, IndexWrites, _append, _workflow_signature
from cluster.store.keys import Keys

if TYPE_CHECKING:
    from cluster.store import Store


# KEYS[1..n] are lease keys (n = ARGV[1]), ARGV[2..n + 1] the holders the turn expects and
# ARGV[n + 2..2n + 1] the turn counts (`seq`) it expects; then come the writes, each as:
# command name, argument count, arguments. Answers the positions of the leases held by
# another (negative: held, but Redis has fewer turns than the shard wrote: it restarted
# from an older file), and then writes nothing; otherwise counts the turn and writes.
FENCED_APPLY = (
    APPLY_INDEX_WRITES_LUA
    + """
local fences = tonumber(ARGV[1])
local refused = {}
for i = 1, fences do
  local lease = redis.call('HMGET', KEYS[i], 'holder', 'seq')
  if lease[1] ~= ARGV[i + 1] then
    refused[#refused + 1] = i
  elseif tonumber(lease[2] or '0') ~= tonumber(ARGV[fences + i + 1]) then
    refused[#refused + 1] = -i
  end
end
if #refused > 0 then return refused end
for i = 1, fences do redis.call('HINCRBY', KEYS[i], 'seq', 1) end
local i, last = 2 * fences + 2, #ARGV
while i <= last do
  local name, count = ARGV[i], tonumber(ARGV[i + 1])
  if name == 'INDEX' then
    apply_index_writes(ARGV[i + 2])
  else
    redis.call(name, unpack(ARGV, i + 2, i + 1 + count))
  end
  i = i + 2 + count
end
return refused
"""
)
# Lua's C stack takes a few thousand values: long argument lists go in chunks.
CHUNK = 1000


class Fenced(Exception):
    """A turn's write was refused: these partitions' leases belong to another holder now
    (`partitions`), or Redis holds fewer of their turns than were written (`regressed`: it
    restarted from an append-only file that missed the last writes)."""

    def __init__(self, partitions: set[int], regressed: set[int] | None = None) -> None:
        held, behind = sorted(partitions), sorted(regressed or ())
        super().__init__(f"partitions {held} are held by another shard; Redis lost turns of {behind}")
        self.partitions = partitions
        self.regressed = regressed or set()


class Writes:
    """Redis commands recorded for the checkpoint's script, flat: name, count, arguments."""

    __slots__ = ("args", "count")

    def __init__(self) -> None:
        self.args: list[Any] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def _add(self, name: str, key: str, values: list[Any]) -> None:
        """`name key values...`, in commands of at most CHUNK values (even: pairs stay whole)."""
        for start in range(0, len(values), CHUNK):
            chunk = values[start : start + CHUNK]
            self.args += (name, len(chunk) + 1, key, *chunk)
            self.count += 1

    def hset(
        self, key: str, field: str | None = None, value: Any = None, mapping: dict[str, Any] | None = None
    ) -> None:
        flat: list[Any] = [field, value] if field is not None else []
        for item in (mapping or {}).items():
            flat += item
        self._add("HSET", key, flat)

    def hsetnx(self, key: str, field: Any, value: Any) -> None:
        self.args += ("HSETNX", 3, key, field, value)
        self.count += 1

    def hdel(self, key: str, *fields: str) -> None:
        self._add("HDEL", key, list(fields))

    def delete(self, *keys: str) -> None:
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            self.args += ("DEL", len(chunk), *chunk)
            self.count += 1

    def sadd(self, key: str, *members: str) -> None:
        self._add("SADD", key, list(members))

    def srem(self, key: str, *members: str) -> None:
        self._add("SREM", key, list(members))

    def zadd(self, key: str, mapping: dict[str, int]) -> None:
        flat: list[Any] = []
        for member, score in mapping.items():
            flat += (score, member)
        self._add("ZADD", key, flat)

    def zrem(self, key: str, *members: str) -> None:
        self._add("ZREM", key, list(members))

    def xadd(self, key: str, fields: dict[str, Any]) -> None:
        flat: list[Any] = ["*"]
        for item in fields.items():
            flat += item
        self.args += ("XADD", len(flat) + 1, key, *flat)
        self.count += 1

    def index(self, payload: bytes) -> None:
        self.args += ("INDEX", 1, payload)
        self.count += 1

    def publish(self, channel: str, message: str) -> None:
        self.args += ("PUBLISH", 2, channel, message)
        self.count += 1


class Checkpoint:
    """The writes of one shard loop turn, applied by one fenced script."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pipe = Writes()
        self.size = 0
        self.index_writes = IndexWrites()
        # Partitions this turn writes as their owner: each one's lease is checked.
        self.owned_partitions: set[int] = set()
        # Queues this turn made tasks ready in: long polls waiting on them are woken.
        self.ready_queues: set[str] = set()

    def save(self, partition: int, state: WorkflowState, definition_json: bytes | None) -> None:
        self.owned_partitions.add(partition)
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

    def index_started(self, partition: int, workflow: WorkflowRecord) -> None:
        self.owned_partitions.add(partition)
        workflow_id = workflow["workflowId"]
        self.pipe.sadd(Keys.partition_running(partition), workflow_id)
        self.pipe.sadd(Keys.running(workflow["workflowName"]), workflow_id)
        if workflow.get("correlationId"):
            self.pipe.sadd(Keys.correlated(workflow["workflowName"], workflow["correlationId"]), workflow_id)

    def index_ended(self, partition: int, workflow: WorkflowRecord) -> None:
        self.owned_partitions.add(partition)
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

    def _index_workflow(self, workflow: WorkflowRecord, before: tuple[Any, ...] | None, after: tuple[Any, ...]) -> None:
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

    def _index_task(self, task: TaskRecord, before: tuple[str, str] | None) -> None:
        task_id = task["taskId"]
        score = str(task.get("updateTime") or 0)
        status = task["status"]
        writes = self.index_writes
        if before is not None:
            _append(writes.zrem, Keys.task_index_status(before[0]), task_id)
        zadd = writes.zadd
        _append(zadd, Keys.task_index_type(task["taskType"]), score, task_id)
        _append(zadd, Keys.task_index_status(status), score, task_id)

    def enqueue(self, task: TaskRecord, now: int, delay_ms: int = 0, queue: str | None = None) -> None:
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
            self.ready_queues.add(queue)

    def dequeue(self, task: TaskRecord, queue: str | None = None) -> None:
        queue = queue or Keys.queue(task["taskType"], task.get("domain"))
        self.pipe.zrem(queue, task["taskId"])
        self.pipe.zrem(Keys.queue_delayed(queue), task["taskId"])
        self.acknowledge(task, queue)

    def acknowledge(self, task: TaskRecord, queue: str | None = None) -> None:
        """The task's hand-out is recorded (its poll or its result): a poll will not hand
        it out again (cluster/store/queues.py keeps it until then)."""
        queue = queue or Keys.queue(task["taskType"], task.get("domain"))
        self.pipe.zrem(Keys.queue_unacked(queue), task["taskId"])
        self.pipe.hdel(Keys.queue_tasks(queue), task["taskId"])

    def release(self, task: TaskRecord) -> None:
        """A task of a concurrency-limited type ended: its slot is free."""
        self.pipe.srem(Keys.in_flight(task["taskType"]), task["taskId"])

    def set_timer(self, partition: int, timer: Timer, due_ms: int) -> None:
        self.owned_partitions.add(partition)
        self.pipe.zadd(Keys.timers(partition), {timer.member(): due_ms})

    def clear_timer(self, partition: int, timer: Timer) -> None:
        self.owned_partitions.add(partition)
        self.pipe.zrem(Keys.timers(partition), timer.member())

    def post(self, partition: int, message_id: str, message: Json) -> None:
        """Put a message for an execution of `partition` in that partition's inbox."""
        self.pipe.hset(Keys.inbox(partition), message_id, dumps(message))

    def ack(self, partition: int, message_id: str) -> None:
        self.owned_partitions.add(partition)
        self.pipe.hdel(Keys.inbox(partition), message_id)

    def publish_event(self, event: str, payload: Json, message_id: str) -> None:
        """Add a message to the event bus as part of this turn (an EVENT task's)."""
        self.pipe.xadd(Keys.events, event_fields(event, payload, message_id))

    def publish_to_broker(self, event: str, payload: Json, message_id: str) -> None:
        """Add an EVENT task's message for a broker to the broker outbox as part of this turn;
        a gateway publishes it after the commit (gateway/brokers/publisher.py)."""
        self.pipe.xadd(Keys.broker_outbox, event_fields(event, payload, message_id))

    async def commit(self, fences: Mapping[int, tuple[str, int]] | None = None) -> set[int]:
        """Apply the turn. With `fences` (partition -> the fencing token held and the turns
        written so far), every partition written as owner is fenced and its turn counted; a
        partition written without a fence is refused too. Answers the partitions counted."""
        if self.index_writes:
            self.pipe.index(self.index_writes.payload())
        if not len(self.pipe):
            return set()
        for queue in self.ready_queues:
            self.pipe.publish(Keys.queue_ready_channel, queue)
        if self.store.cluster:
            return await self._commit_in_slots(fences)
        fenced = sorted(self.owned_partitions) if fences is not None else []
        await self._fenced_script(fenced, fences or {}, self.pipe.args)
        return set(fenced)

    async def _fenced_script(self, fenced: list[int], fences: Mapping[int, tuple[str, int]], writes: list[Any]) -> None:
        """Run the fenced script over `writes`, checking the leases of `fenced`; raises
        `Fenced` with the partitions it found held by another, or behind."""
        expected = [fences.get(p, ("", -1)) for p in fenced]
        refused = await self.store.apply_fenced(
            [Keys.lease(p) for p in fenced],
            [len(fenced), *(token for token, _ in expected), *(seq for _, seq in expected), *writes],
        )
        if refused:
            positions = [int(i) for i in refused]
            raise Fenced({fenced[i - 1] for i in positions if i > 0}, {fenced[-i - 1] for i in positions if i < 0})

    async def _commit_in_slots(self, fences: Mapping[int, tuple[str, int]] | None) -> set[int]:
        """On a Redis Cluster: the partition's writes and an outbox entry in one fenced
        script, then the follow-up writes in their own slots (cluster/store/outbox.py)."""
        if len(self.owned_partitions) > 1:
            raise ValueError("on a Redis Cluster a turn writes one partition; the shard splits turns by partition")
        if not self.owned_partitions:
            await outbox.apply(self.store, self.pipe.args)
            return set()
        [partition] = self.owned_partitions
        local, follow_ups = outbox.split(self.pipe.args, outbox.slot_of(Keys.lease(partition)))
        if follow_ups:
            local += ("RPUSH", 2, Keys.outbox(partition), outbox.encode(follow_ups))
        if fences is None:
            # Unfenced, routed by the lease key to the partition's slot.
            await self.store.apply_fenced([Keys.lease(partition)], [0, *local])
        else:
            await self._fenced_script([partition], fences, local)
        if follow_ups:
            await outbox.apply(self.store, follow_ups)
            await self.store.redis.lpop(Keys.outbox(partition))
        return {partition} if fences is not None else set()
