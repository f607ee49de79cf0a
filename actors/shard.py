"""WorkflowShard: a Ray actor hosting many workflow executions as virtual actors.

Each execution is activated from Redis on its first event, handled one event at a
time, and passivated (dropped from memory) when it ends or idles. The shard runs one
loop: it takes every event that arrived since its last turn, applies each to its
execution's state machine, writes all their checkpoints, queue pushes, timers and
messages in ONE Redis transaction, and only then answers callers and carries out the
side effects (Python pool dispatch, messages to other shards).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import itertools
import logging
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import ray

from actors import http_client, messages
from actors.metrics import Metrics, NoMetrics, RayMetrics
from actors.ownership import Ownership
from actors.pool import pool_actor_name
from actors.tracing import ExecutionTracer, tracer_from_environment
from actors.workflow import commands as cmd
from actors.workflow import events as ev
from actors.workflow.machine import handle, start_workflow
from actors.workflow.state import WorkflowState, public_task
from cluster.leases import Acquired, LeaseStore
from cluster.store import Checkpoint, Fenced, Indexed, Keys, QueueLimits, Store
from definitions.models import TERMINAL_TASK_STATUSES, TERMINAL_WORKFLOW_STATUSES, TaskDef, WorkflowDef

log = logging.getLogger("podium.shard")

# How long an execution with nothing to do stays in memory (PODIUM_IDLE_SECONDS).
IDLE_SECONDS = float(os.environ.get("PODIUM_IDLE_SECONDS", "30"))
TIMER_INTERVAL = 0.1
# Limited Python pool tasks taken per type and timer tick.
POOL_FEED_BATCH = 100
# Connections a shard keeps open for HTTP tasks, across all hosts.
HTTP_CONNECTIONS = 100
SWEEP_INTERVAL = 5.0
# A domain is active while a worker polled it this recently (Conductor's default).
ACTIVE_WORKER_MS = 10_000
POLL_DATA_INTERVAL = 2.0
DISPATCH_TIMER = cmd.DISPATCH_TIMER
# Results of `deliver`, one per event.
OK, NOT_FOUND, TASK_NOT_FOUND, IGNORED = "ok", "not_found", "task_not_found", "ignored"
# The execution's partition is not (or no longer) served here: ask the partition's owner.
MOVED = "moved"
REJECTED_PREFIX = "rejected:"


def rejected_outcome(rejection: ev.Rejected) -> str:
    """A refused lifecycle operation travels back as `rejected:{status}:{message}`."""
    return f"{REJECTED_PREFIX}{rejection.status}:{rejection.message}"


def parse_rejection(outcome: str) -> tuple[int, str] | None:
    """(HTTP status, message) of a refused operation, or None for any other outcome."""
    if not outcome.startswith(REJECTED_PREFIX):
        return None
    status, _, message = outcome[len(REJECTED_PREFIX) :].partition(":")
    return int(status), message


# Task types that wait for a person, a timer or a child: an execution blocked only on
# them may wait for days, so it leaves memory at once instead of after IDLE_SECONDS.
LONG_WAITS = frozenset({"WAIT", "HUMAN", "SUB_WORKFLOW"})


def parked(state: WorkflowState) -> bool:
    active = state.active_tasks()
    return bool(active) and all(task["taskType"] in LONG_WAITS for task in active)


def release_freed_memory() -> None:
    """Give memory freed by passivation back to the OS, so parked workflows cost RSS nowhere."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def failed_results(tasks: list[dict[str, Any]], reason: str) -> list[dict[str, Any]]:
    """TaskResult-shaped failures for tasks whose worker never answered; they are retried."""
    return [
        {
            "taskId": t["taskId"],
            "workflowInstanceId": t["workflowInstanceId"],
            "status": "FAILED",
            "reasonForIncompletion": reason,
        }
        for t in tasks
    ]


def now_ms() -> int:
    return int(time.time() * 1000)


def shard_actor_name(index: int) -> str:
    return f"podium-shard-{index}"


@dataclass(slots=True)
class Envelope:
    workflow_id: str
    event: ev.Event | None
    reply: asyncio.Future[Any] | None = None
    message: messages.Message | None = None
    # Where the event came from, cleared in the same checkpoint that records its effect.
    inbox_ack: tuple[int, str] | None = None
    timer: tuple[int, str] | None = None


@dataclass(slots=True)
class Execution:
    state: WorkflowState
    partition: int
    last_active: float
    definition_json: bytes | None = None  # set until the first checkpoint stores it
    indexed: Indexed | None = None  # what the search indexes hold (None: not written yet)


@dataclass(slots=True)
class TurnEffects:
    """What one loop turn does after its checkpoint is committed."""

    pool_tasks: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    http_calls: list[tuple[dict[str, Any], bool]] = field(default_factory=list)
    outbound: list[tuple[str, str, messages.Message]] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)


class ShardEnvironment:
    def __init__(self, task_defs: dict[str, TaskDef]) -> None:
        self.task_defs = task_defs
        # (task type, domain) -> the last time a worker polled it, refreshed by the shard.
        self.last_polls: dict[tuple[str, str], int] = {}

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def task_def(self, name: str) -> TaskDef | None:
        return self.task_defs.get(name)

    def active_domain(self, task_type: str, domains: list[str]) -> str | None:
        recent = now_ms() - ACTIVE_WORKER_MS
        return next((d for d in domains if self.last_polls.get((task_type, d), 0) >= recent), None)


PoolCall = Callable[[str, list[dict[str, Any]]], Awaitable[list[dict[str, Any]]]]
PeerSend = Callable[[str, list[tuple[str, str, messages.Message]]], None]
# Events for executions this shard no longer owns, sent on to the owner by shard name.
Forward = Callable[[str, list[tuple[str, ev.Event]]], None]
DEFAULT_LEASE_MS = 10_000
# How long tasks whose pool actor died are dispatched again before they fail.
POOL_REDISPATCH_SECONDS = 300.0


class ShardCore:
    """The shard's logic, free of Ray so it can run in-process in tests."""

    def __init__(
        self,
        index: int,
        store: Store,
        call_pool: PoolCall | None = None,
        send_to_peer: PeerSend | None = None,
        metrics: Metrics | None = None,
        tracer: ExecutionTracer | None = None,
        lease_ms: int = DEFAULT_LEASE_MS,
        forward: Forward | None = None,
    ) -> None:
        self.index = index
        self.name = shard_actor_name(index)
        self.metrics: Metrics = metrics or NoMetrics()
        self.tracer = tracer
        self.store = store
        self.ownership = Ownership(self.name, LeaseStore(store.redis, store.partitions), lease_ms)
        self._forward = forward
        # Serialises turns and ownership changes: a partition changes hands between turns.
        self._turn_lock = asyncio.Lock()
        self._rebalancing = asyncio.Lock()
        self.fenced_turns = 0
        self.executions: dict[str, Execution] = {}
        self.inbox: list[Envelope] = []
        self.task_defs: dict[str, TaskDef] = {}
        self.env = ShardEnvironment(self.task_defs)
        self.pool_types: dict[str, int] = {}
        # Task types with a rate or concurrency limit; their Python pool tasks wait in a
        # Redis queue of this shard's own until the limit gives them a slot.
        self.limited_types: set[str] = set()
        self.concurrency_limited: set[str] = set()
        self._call_pool = call_pool
        self._send_to_peer = send_to_peer
        self._definitions: dict[bytes, WorkflowDef] = {}
        self._by_digest: dict[bytes, WorkflowDef] = {}
        self._wake = asyncio.Event()
        self._timers_in_flight: set[str] = set()
        self._messages_in_flight: set[str] = set()
        # Tasks handed to a Python pool or an HTTP call whose result has not been applied
        # yet -> their partition (a partition is handed over once none is left).
        self._in_flight: dict[str, int] = {}
        self._http: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._started = False
        self.steps = 0

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Load metadata, recover this shard's executions, start the loops."""
        if self._started:
            return
        self._started = True
        await self.refresh_metadata()
        self._spawn(self._loop())
        await self.rebalance()
        self._spawn(self._lease_loop())
        self._spawn(self._timer_loop())
        self._spawn(self._sweep_loop())
        self._spawn(self._poll_data_loop())

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def refresh_metadata(self) -> None:
        raw_defs = await self.store.list_task_defs()
        fresh = {d["name"]: TaskDef.model_validate(d) for d in raw_defs}
        self.task_defs.clear()
        self.task_defs.update(fresh)
        self.pool_types = await self.store.pool_sizes()
        limits = {d["name"]: QueueLimits.of(d) for d in raw_defs}
        self.limited_types = {name for name, found in limits.items() if found is not None}
        self.concurrency_limited = {name for name, found in limits.items() if found and found.concurrency}

    # -- partition ownership ----------------------------------------------------------------

    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ownership.tick_seconds)
            try:
                await self.rebalance()
            except Exception:
                log.exception("%s: lease tick failed", self.name)

    async def rebalance(self) -> None:
        """Renew leases, drop what was taken over, hand over and take partitions."""
        async with self._rebalancing:
            await self._rebalance()

    async def _rebalance(self) -> None:
        changes = await self.ownership.tick()
        if changes.lost:
            async with self._turn_lock:
                self._forget(changes.lost)
        if changes.acquired:
            await self._take_over(changes.acquired)
        await self._hand_over_drained()

    def _forget(self, partitions: set[int]) -> None:
        """Drop the executions of partitions this shard no longer owns (their checkpoints stay)."""
        for workflow_id in [w for w, e in self.executions.items() if e.partition in partitions]:
            del self.executions[workflow_id]

    async def _take_over(self, acquired: list[Acquired]) -> None:
        """Serve newly acquired partitions; recover those their last owner did not hand over."""
        unclean = [taken.partition for taken in acquired if not taken.clean]
        # Slots held by the previous owner's pool calls died with its process.
        for task_type in self.concurrency_limited & self.pool_types.keys():
            await self.store.release_pool_slots(task_type, unclean)
        recovered = 0
        for partition in unclean:
            ids = await self.store.partition_running_ids(partition)
            for start in range(0, len(ids), 500):
                for workflow_id, raw, definition in await self._load(ids[start : start + 500]):
                    if workflow_id not in self.executions:
                        self._activate(workflow_id, raw, definition)
                        self.post(workflow_id, ev.Redispatch())
                        recovered += 1
        await self._redeliver_inbox([taken.partition for taken in acquired])
        log.info(
            "%s took %d partitions (%d to recover, %d executions)", self.name, len(acquired), len(unclean), recovered
        )

    async def _hand_over_drained(self) -> None:
        """Release the leaving partitions whose work in flight has come back (or that waited too long)."""
        leaving = self.ownership.leaving
        if not leaving:
            return
        async with self._turn_lock:
            busy = set(self._in_flight.values())
            done = {p for p in leaving if p not in busy}
            overdue = {p for p in leaving if p in busy and self.ownership.drain_overdue(p)}
            if not done and not overdue:
                return
            self._forget(done | overdue)
            await self.ownership.release(done, clean=True)
            await self.ownership.release(overdue, clean=False)
        log.info("%s handed over %d partitions (%d unclean)", self.name, len(done | overdue), len(overdue))

    async def retire(self) -> None:
        """Stop serving at once and free every lease (a shard removed on purpose)."""
        async with self._turn_lock:
            self._forget(set(self.ownership.tokens))
            await self.ownership.release_all()

    async def _redeliver_inbox(self, partitions: list[int] | None = None) -> None:
        owned = self.ownership.serving() if partitions is None else partitions
        for partition, message_id, raw in await self.store.inbox_messages(owned):
            if message_id not in self._messages_in_flight:
                message = messages.decode(raw)
                self.submit_message(message_id, message, partition)

    async def _timer_loop(self) -> None:
        while True:
            await asyncio.sleep(TIMER_INTERVAL)
            try:
                for partition, member in await self.store.due_timers(self.ownership.serving(), now_ms()):
                    if member in self._timers_in_flight:
                        continue
                    workflow_id, task_id, kind = member.split("|", 2)
                    self._timers_in_flight.add(member)
                    self.inbox.append(Envelope(workflow_id, ev.TimerFired(task_id, kind), timer=(partition, member)))
                    self._wake.set()
                await self._feed_limited_pools()
            except Exception:
                log.exception("%s: timer poll failed", self.name)

    async def _feed_limited_pools(self) -> None:
        for task_type in self.limited_types & self.pool_types.keys():
            queue = Keys.pool_queue(task_type)
            tasks = await self.store.poll(task_type, None, POOL_FEED_BATCH, now_ms(), queue=queue)
            if tasks:
                self._in_flight.update({t["taskId"]: self.store.partition(t["workflowInstanceId"]) for t in tasks})
                self._spawn(self._run_on_pool(task_type, tasks))

    async def _poll_data_loop(self) -> None:
        """Keep the environment's view of which domains have workers polling."""
        while True:
            try:
                await self.refresh_poll_data()
            except Exception:
                log.exception("%s: poll data refresh failed", self.name)
            await asyncio.sleep(POLL_DATA_INTERVAL)

    async def refresh_poll_data(self) -> None:
        fresh: dict[tuple[str, str], int] = {}
        for entry in await self.store.all_poll_data():
            domain = entry.get("domain")
            if domain:
                key = (entry["queueName"], domain)
                fresh[key] = max(fresh.get(key, 0), int(entry.get("lastPollTime") or 0))
        self.env.last_polls = fresh

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                await self.refresh_metadata()
                await self._redeliver_inbox()
                for task_type in self.concurrency_limited - self.pool_types.keys():
                    await self.store.reconcile_in_flight(task_type)
                self.passivate_idle(time.monotonic() - IDLE_SECONDS)
                self.metrics.active_executions(len(self.executions))
            except Exception:
                log.exception("%s: sweep failed", self.name)

    def passivate_idle(self, idle_before: float) -> int:
        idle = [
            workflow_id
            for workflow_id, execution in self.executions.items()
            if execution.last_active < idle_before and execution.definition_json is None
        ]
        for workflow_id in idle:
            del self.executions[workflow_id]
        if len(idle) > 1000:
            release_freed_memory()
        return len(idle)

    # -- entry points -----------------------------------------------------------------------

    def submit(self, workflow_id: str, event: ev.Event) -> asyncio.Future[Any]:
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.inbox.append(Envelope(workflow_id, event, reply))
        self._wake.set()
        return reply

    def post(self, workflow_id: str, event: ev.Event) -> None:
        """An event nobody waits for an answer to (worker results, recovery)."""
        self.inbox.append(Envelope(workflow_id, event))
        self._wake.set()

    def submit_message(self, message_id: str, message: messages.Message, partition: int) -> None:
        self._messages_in_flight.add(message_id)
        self.inbox.append(Envelope(message["workflowId"], None, message=message, inbox_ack=(partition, message_id)))
        self._wake.set()

    async def start_workflows(self, requests: list[dict[str, Any]]) -> list[str]:
        """Start new executions; each request carries its id and its definition's JSON."""
        replies = []
        for request in requests:
            definition = self._definition(request["definition"])
            event = ev.StartWorkflow(
                workflow_id=request["workflowId"],
                definition=definition,
                input=request.get("input") or {},
                correlation_id=request.get("correlationId"),
                priority=request.get("priority") or 0,
                task_to_domain=request.get("taskToDomain") or {},
                created_by=request.get("createdBy"),
                idempotency_key=request.get("idempotencyKey"),
            )
            replies.append(self.submit(request["workflowId"], event))
        return list(await asyncio.gather(*replies))

    async def deliver(self, events: list[tuple[str, ev.Event]]) -> list[str]:
        replies = [self.submit(workflow_id, event) for workflow_id, event in events]
        return list(await asyncio.gather(*replies))

    def accept_messages(self, batch: list[tuple[str, str, messages.Message]]) -> None:
        for workflow_id, message_id, message in batch:
            if message_id not in self._messages_in_flight and self.ownership.owns(self.store.partition(workflow_id)):
                self.submit_message(message_id, message, self.store.partition(workflow_id))

    # -- the loop ---------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.inbox:
                batch, self.inbox = self.inbox, []
                async with self._turn_lock:
                    batch = self._admit(batch)
                    if not batch:
                        continue
                    try:
                        await self._turn(batch)
                    except Fenced as fenced:
                        self._fenced(batch, fenced.partitions)
                    except Exception as error:
                        log.exception("%s: turn failed", self.name)
                        for envelope in batch:
                            if envelope.reply is not None and not envelope.reply.done():
                                envelope.reply.set_exception(error)
                            self.executions.pop(envelope.workflow_id, None)
                            self._release(envelope)

    def _admit(self, batch: list[Envelope]) -> list[Envelope]:
        """The envelopes this shard may apply now. A gateway's call for a partition that is
        not served here is answered MOVED (the gateway asks the owner); a result for one
        that moved goes on to its owner; timers and messages of other partitions stay in
        Redis for their owner."""
        admitted: list[Envelope] = []
        forward: dict[str, list[tuple[str, ev.Event]]] = defaultdict(list)
        ownership = self.ownership
        for envelope in batch:
            partition = self.store.partition(envelope.workflow_id)
            if envelope.reply is not None:
                if ownership.serves(partition):
                    admitted.append(envelope)
                elif not envelope.reply.done():
                    envelope.reply.set_result(MOVED)
                continue
            if ownership.owns(partition):
                admitted.append(envelope)
                continue
            self._release(envelope)
            if isinstance(envelope.event, ev.TaskUpdate):
                self._in_flight.pop(envelope.event.task_id, None)
                owner = ownership.owner_of(partition)
                if owner and owner != self.name:
                    forward[owner].append((envelope.workflow_id, envelope.event))
        if self._forward is not None:
            for owner, events in forward.items():
                self._forward(owner, events)
        return admitted

    def _fenced(self, batch: list[Envelope], partitions: set[int]) -> None:
        """The turn's write was refused: another shard took these partitions over. Nothing
        of the turn landed, so forget what it changed in memory and apply its events again
        (those of the lost partitions go to their new owner)."""
        self.fenced_turns += 1
        log.warning("%s: write refused, partitions %s belong to another shard", self.name, sorted(partitions))
        for partition in partitions:
            self.ownership.tokens.pop(partition, None)
            self.ownership.leaving.pop(partition, None)
        for envelope in batch:
            self.executions.pop(envelope.workflow_id, None)
        self._forget(partitions)
        self.inbox[:0] = batch
        self._wake.set()

    def _release(self, envelope: Envelope) -> None:
        if envelope.timer is not None:
            self._timers_in_flight.discard(envelope.timer[1])
        if envelope.inbox_ack is not None:
            self._messages_in_flight.discard(envelope.inbox_ack[1])

    async def _turn(self, batch: list[Envelope]) -> None:
        await self._activate_missing(batch)
        now = now_ms()
        checkpoint = self.store.checkpoint()
        effects = TurnEffects()
        replies: list[tuple[asyncio.Future[Any], Any]] = []
        touched: dict[str, Execution] = {}
        for envelope in batch:
            if envelope.timer is not None:
                # Cleared before the event applies, so a timer the step arms again survives.
                checkpoint.clear_timer(*envelope.timer)
            outcome: Any
            try:
                outcome = self._apply(envelope, now, checkpoint, effects, touched)
            except ev.Rejected as rejection:
                # Nothing was changed; reloading from the checkpoint keeps it that way.
                refused = self.executions.pop(envelope.workflow_id, None)
                touched.pop(envelope.workflow_id, None)
                outcome = rejected_outcome(rejection)
                if envelope.message is not None and envelope.message["kind"] == "retry" and refused is not None:
                    # The parent waits for this child again: tell it how the child stands.
                    workflow = refused.state.workflow
                    self._answer_parent(
                        envelope.message,
                        workflow["status"],
                        workflow.get("output", {}),
                        workflow.get("reasonForIncompletion") or rejection.message,
                        checkpoint,
                        effects,
                    )
            except Exception as error:
                # A failed step must not leave half-applied state behind: forget the
                # execution; its last checkpoint is still the truth.
                log.exception("%s: event for %s failed", self.name, envelope.workflow_id)
                self.executions.pop(envelope.workflow_id, None)
                touched.pop(envelope.workflow_id, None)
                outcome = error
            if envelope.reply is not None:
                replies.append((envelope.reply, outcome))
            if envelope.inbox_ack is not None:
                checkpoint.ack(*envelope.inbox_ack)
        if self.tracer is not None:
            self._trace(touched.values(), now)
        if self.concurrency_limited:
            self._release_slots(touched.values(), checkpoint)
        for execution in touched.values():
            execution.indexed = checkpoint.index(execution.state, execution.indexed)
            checkpoint.save(execution.partition, execution.state, execution.definition_json)
            execution.definition_json = None
        await checkpoint.commit(self.ownership.tokens)
        self.steps += len(batch)
        for envelope in batch:
            self._release(envelope)
        for reply, outcome in replies:
            if reply.done():
                continue
            if isinstance(outcome, Exception):
                reply.set_exception(outcome)
            else:
                reply.set_result(outcome)
        for workflow_id in effects.ended:
            self.executions.pop(workflow_id, None)
        for envelope in batch:
            held = self.executions.get(envelope.workflow_id)
            if held is not None and held.definition_json is None and parked(held.state):
                del self.executions[envelope.workflow_id]
        self._carry_out(effects)

    def _release_slots(self, touched: Iterable[Execution], checkpoint: Checkpoint) -> None:
        """Tasks of concurrency-limited types that ended this turn give back their slot."""
        for execution in touched:
            state = execution.state
            for task_id in state.dirty_task_ids:
                task = state.by_id.get(task_id)
                if (
                    task is not None
                    and task["taskType"] in self.concurrency_limited
                    and task["status"] in TERMINAL_TASK_STATUSES
                ):
                    checkpoint.release(task)

    def _trace(self, touched: Iterable[Execution], now: int) -> None:
        """Spans for the tasks and workflows this turn ended (before the dirty sets clear)."""
        assert self.tracer is not None
        for execution in touched:
            state = execution.state
            for task_id in state.dirty_task_ids:
                task = state.by_id[task_id]
                if task["endTime"] == now and task["status"] in TERMINAL_TASK_STATUSES:
                    self.tracer.task_ended(state.workflow, task)
            if state.meta_dirty and state.workflow.get("endTime") == now:
                self.tracer.workflow_ended(state.workflow)

    async def _activate_missing(self, batch: list[Envelope]) -> None:
        # Starts are looked up too: Ray retries a call whose shard died after its commit,
        # and a start seen twice must find the execution the first one made.
        missing = [envelope.workflow_id for envelope in batch if envelope.workflow_id not in self.executions]
        if missing:
            for workflow_id, raw, definition in await self._load(list(dict.fromkeys(missing))):
                self._activate(workflow_id, raw, definition)
        for envelope in batch:
            message = envelope.message
            if message is not None and message["kind"] == "start_child" and envelope.workflow_id not in self.executions:
                await self._resolve_child_definition(message)

    async def _load(self, workflow_ids: list[str]) -> list[tuple[str, dict[bytes, bytes], WorkflowDef]]:
        """Checkpoints of these executions (those that exist), with their definitions."""
        loaded = await self.store.load_executions(workflow_ids)
        found = [(workflow_id, raw) for workflow_id, raw in zip(workflow_ids, loaded, strict=True) if raw]
        known = {raw[b"def"]: self._by_digest.get(raw[b"def"]) for _, raw in found}
        unknown = [digest for digest, definition in known.items() if definition is None]
        for digest, definition_json in (await self.store.definitions_by_digest(unknown)).items():
            known[digest] = self._by_digest[digest] = self._definition(definition_json)
        return [
            (workflow_id, raw, definition)
            for workflow_id, raw in found
            if (definition := known[raw[b"def"]]) is not None
        ]

    def _activate(self, workflow_id: str, raw: dict[bytes, bytes], definition: WorkflowDef) -> Execution:
        workflow = orjson.loads(raw[b"meta"])
        tasks = [orjson.loads(value) for key, value in raw.items() if key.startswith(b"t:")]
        execution = Execution(
            WorkflowState(workflow, definition, tasks), self.store.partition(workflow_id), time.monotonic()
        )
        execution.indexed = Indexed.of(execution.state)
        self.executions[workflow_id] = execution
        return execution

    def _definition(self, raw: bytes | dict[str, Any]) -> WorkflowDef:
        """Executions of one definition share one parsed model and one task graph."""
        key = raw if isinstance(raw, bytes) else orjson.dumps(raw)
        definition = self._definitions.get(key)
        if definition is None:
            if len(self._definitions) > 1000:
                self._definitions.clear()
                self._by_digest.clear()
            definition = WorkflowDef.model_validate(orjson.loads(key))
            definition._derived["json"] = key
            self._definitions[key] = definition
        return definition

    async def _resolve_child_definition(self, message: messages.Message) -> None:
        if message.get("definition"):
            return
        name, version = message.get("name"), message.get("version")
        found = await self.store.get_workflow_def(name, version) if name else None
        message["definition"] = found
        if found is None:
            message["error"] = f"workflow definition {name!r} version {version} is not registered"

    def _apply(
        self,
        envelope: Envelope,
        now: int,
        checkpoint: Checkpoint,
        effects: TurnEffects,
        touched: dict[str, Execution],
    ) -> str:
        workflow_id = envelope.workflow_id
        event = envelope.event
        if envelope.message is not None:
            event = self._message_event(envelope.message, now, checkpoint, effects)
            if event is None:
                return IGNORED
        if isinstance(event, ev.StartWorkflow):
            if workflow_id in self.executions:
                return IGNORED
            state, commands = start_workflow(event, now, self.env)
            definition_json = event.definition._derived.get("json") or orjson.dumps(event.definition.to_wire())
            execution = Execution(state, self.store.partition(workflow_id), time.monotonic(), definition_json)
            self.executions[workflow_id] = execution
            checkpoint.index_started(execution.partition, state.workflow)
            self.metrics.workflow_started(state.workflow["workflowName"])
        else:
            existing = self.executions.get(workflow_id)
            if existing is None:
                if envelope.message is not None and envelope.message["kind"] == "retry":
                    self._answer_parent(envelope.message, "FAILED", {}, "sub workflow not found", checkpoint, effects)
                return NOT_FOUND
            execution = existing
            assert event is not None
            if isinstance(event, ev.TaskUpdate):
                # The pool's answer is in: from now on the task's state says whether it waits.
                self._in_flight.pop(event.task_id, None)
            if isinstance(event, ev.TaskUpdate | ev.TaskPolled) and event.task_id not in existing.state.by_id:
                return TASK_NOT_FOUND
            if isinstance(event, ev.TimerFired) and event.kind == DISPATCH_TIMER:
                return self._dispatch_when_due(existing, event.task_id, effects)
            if isinstance(event, ev.Restart) and event.definition_json is not None:
                event.definition = self._definition(event.definition_json)
                execution.definition_json = event.definition._derived["json"]
            commands = handle(execution.state, event, now, self.env)
            if isinstance(event, ev.TaskUpdate):
                task = execution.state.by_id[event.task_id]
                if task["status"] == event.status and task["endTime"] == now:
                    self.metrics.task_ended(task["taskType"], task["status"], now - task["scheduledTime"])
        execution.last_active = time.monotonic()
        state = execution.state
        if state.dirty_task_ids or state.meta_dirty or execution.definition_json is not None:
            touched[workflow_id] = execution
        self._translate(execution, commands, now, checkpoint, effects)
        return OK if commands or workflow_id in touched else IGNORED

    def _dispatch_when_due(self, execution: Execution, task_id: str, effects: TurnEffects) -> str:
        """A pool task's start delay or retry delay has passed: send it to its pool now."""
        task = execution.state.by_id.get(task_id)
        if task is None or task["status"] != "SCHEDULED" or execution.state.status != "RUNNING":
            return IGNORED
        self._to_pool(execution.state.workflow_id, task, effects)
        return OK

    def _to_pool(self, workflow_id: str, task: dict[str, Any], effects: TurnEffects) -> None:
        effects.pool_tasks[task["taskType"]].append(public_task(task))
        task_def = self.task_defs.get(task["taskType"])
        if task_def is not None and task_def.timeout_seconds > 0:
            # A pool call has no poll: mark it started so its timeoutSeconds runs.
            self.post(workflow_id, ev.TaskPolled(task["taskId"], f"pool:{task['taskType']}"))

    def _message_event(
        self, message: messages.Message, now: int, checkpoint: Checkpoint, effects: TurnEffects
    ) -> ev.Event | None:
        kind = message["kind"]
        workflow_id = message["workflowId"]
        if kind == "child_done":
            return ev.ChildFinished(
                task_id=message["taskId"],
                child_workflow_id=message["childWorkflowId"],
                status=message["status"],
                output=message.get("output") or {},
                reason_for_incompletion=message.get("reasonForIncompletion"),
            )
        if kind == "terminate":
            return ev.Terminate(reason=message.get("reason"))
        if kind == "child_reopened":
            return ev.ChildReopened(task_id=message["taskId"], child_workflow_id=message["childWorkflowId"])
        if kind == "retry":
            return ev.Retry(resume_subworkflow_tasks=True)
        if kind != "start_child":
            log.warning("%s: unknown message kind %r", self.name, kind)
            return None
        existing = self.executions.get(workflow_id)
        has_parent = bool(message.get("parentWorkflowId"))
        if existing is not None:
            # Started before (a redelivery): if it already ended, tell the parent again.
            workflow = existing.state.workflow
            if has_parent and workflow["status"] in TERMINAL_WORKFLOW_STATUSES:
                self._answer_parent(
                    message,
                    workflow["status"],
                    workflow.get("output", {}),
                    workflow.get("reasonForIncompletion"),
                    checkpoint,
                    effects,
                )
            return None
        if message.get("error") or not message.get("definition"):
            reason = message.get("error") or "sub workflow has no definition"
            if has_parent:
                self._answer_parent(message, "FAILED", {}, reason, checkpoint, effects)
            else:
                log.warning("%s: cannot start workflow %s: %s", self.name, workflow_id, reason)
            return None
        try:
            definition = self._definition(message["definition"])
        except ValueError as error:
            message["error"] = f"invalid sub workflow definition: {error}"
            return self._message_event(message, now, checkpoint, effects)
        return ev.StartWorkflow(
            workflow_id=workflow_id,
            definition=definition,
            input=message.get("input") or {},
            correlation_id=message.get("correlationId"),
            priority=message.get("priority") or 0,
            task_to_domain=message.get("taskToDomain") or {},
            parent_workflow_id=message.get("parentWorkflowId"),
            parent_workflow_task_id=message.get("parentWorkflowTaskId"),
        )

    def _answer_parent(
        self,
        start_message: messages.Message,
        status: str,
        output: dict[str, Any],
        reason: str | None,
        checkpoint: Checkpoint,
        effects: TurnEffects,
    ) -> None:
        """Tell the parent how a child it asked for ended (or why it never started)."""
        notice = cmd.NotifyParent(
            start_message["parentWorkflowId"],
            start_message["parentWorkflowTaskId"],
            start_message["workflowId"],
            status,
            output,
            reason,
        )
        self._post(messages.child_done(notice), checkpoint, effects)

    def _post(self, addressed: tuple[str, str, messages.Message], checkpoint: Checkpoint, effects: TurnEffects) -> None:
        workflow_id, message_id, message = addressed
        checkpoint.post(self.store.partition(workflow_id), message_id, messages.encode(message))
        effects.outbound.append(addressed)

    def _translate(
        self,
        execution: Execution,
        commands: list[cmd.Command],
        now: int,
        checkpoint: Checkpoint,
        effects: TurnEffects,
    ) -> None:
        workflow_id = execution.state.workflow_id
        for command in commands:
            match command:
                case cmd.DispatchTask(task=task, delay_ms=delay):
                    if task["taskType"] in self.limited_types and task["taskType"] in self.pool_types:
                        checkpoint.enqueue(task, now, delay, Keys.pool_queue(task["taskType"]))
                    elif task["taskType"] in self.pool_types and not task.get("domain"):
                        if delay > 0 or not self.ownership.serves(execution.partition):
                            # Delayed, or its partition is being handed over: the dispatch timer
                            # fires on whoever serves the partition when it is due.
                            checkpoint.set_timer(
                                execution.partition, f"{workflow_id}|{task['taskId']}|{DISPATCH_TIMER}", now + delay
                            )
                        else:
                            self._to_pool(workflow_id, task, effects)
                    else:
                        checkpoint.enqueue(task, now, delay)
                case cmd.CancelTask(task=task):
                    checkpoint.dequeue(task)
                    if task["taskType"] in self.limited_types and task["taskType"] in self.pool_types:
                        checkpoint.dequeue(task, Keys.pool_queue(task["taskType"]))
                case cmd.SetTimer(task_id=task_id, kind=kind, due_ms=due):
                    checkpoint.set_timer(execution.partition, f"{workflow_id}|{task_id}|{kind}", due)
                case cmd.ClearTimer(task_id=task_id, kind=kind):
                    checkpoint.clear_timer(execution.partition, f"{workflow_id}|{task_id}|{kind}")
                case cmd.StartChild():
                    self._post(messages.start_child(command, workflow_id), checkpoint, effects)
                case cmd.TerminateChild():
                    self._post(messages.terminate(command), checkpoint, effects)
                case cmd.NotifyParent():
                    self._post(messages.child_done(command), checkpoint, effects)
                case cmd.StartWorkflow():
                    self._post(messages.start_workflow(command), checkpoint, effects)
                case cmd.ReopenParent():
                    self._post(messages.child_reopened(command), checkpoint, effects)
                case cmd.RetryChild():
                    self._post(messages.retry_child(command), checkpoint, effects)
                case cmd.WorkflowReopened():
                    checkpoint.index_started(execution.partition, execution.state.workflow)
                case cmd.CallHttp(task=task, async_complete=async_complete):
                    effects.http_calls.append((public_task(task), async_complete))
                case cmd.PublishEvent(event=event_name, payload=payload, message_id=message_id):
                    checkpoint.publish_event(event_name, payload, message_id)
                case cmd.Alert(message=alert):
                    log.warning("timeout alert: %s", alert)
                case cmd.WorkflowEnded(status=status):
                    checkpoint.index_ended(execution.partition, execution.state.workflow)
                    self.metrics.workflow_ended(execution.state.workflow["workflowName"], status)
                    effects.ended.append(workflow_id)

    # -- after the commit -------------------------------------------------------------------

    def _carry_out(self, effects: TurnEffects) -> None:
        for task_type, tasks in effects.pool_tasks.items():
            # A recovery redispatch and the task's own dispatch timer may both ask for it, and
            # a timer may fire after the pool answered but before the answer was applied.
            fresh = list(
                {
                    t["taskId"]: t for t in tasks if t["taskId"] not in self._in_flight and self._still_waiting(t)
                }.values()
            )
            if fresh:
                self._in_flight.update({t["taskId"]: self.store.partition(t["workflowInstanceId"]) for t in fresh})
                self._spawn(self._run_on_pool(task_type, fresh))
        for task, async_complete in effects.http_calls:
            self._in_flight[task["taskId"]] = self.store.partition(task["workflowInstanceId"])
            self._spawn(self._call_http(task, async_complete))
        by_shard: dict[str, list[tuple[str, str, messages.Message]]] = defaultdict(list)
        for addressed in effects.outbound:
            by_shard[self.ownership.owner_of(self.store.partition(addressed[0]))].append(addressed)
        for shard, batch in by_shard.items():
            if shard == self.name or self._send_to_peer is None:
                self.accept_messages(batch)
            elif shard:
                self._send_to_peer(shard, batch)
            # A partition with no owner right now: its next owner reads the message from its inbox.

    def _http_session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=HTTP_CONNECTIONS))
        return self._http

    async def _call_http(self, task: dict[str, Any], async_complete: bool) -> None:
        try:
            result = await http_client.perform(self._http_session(), task, async_complete)
        except Exception as error:  # a bug here must not leave the task waiting forever
            log.exception("%s: HTTP task %s failed", self.name, task["taskId"])
            result = failed_results([task], f"HTTP task failed: {type(error).__name__}: {error}")[0]
        self._post_result(result)

    def _post_result(self, result: dict[str, Any]) -> None:
        """A TaskResult-shaped answer from a pool or an HTTP call, as an event for its workflow."""
        self.post(
            result["workflowInstanceId"],
            ev.TaskUpdate(
                task_id=result["taskId"],
                status=result["status"],
                output_data=result.get("outputData") or {},
                reason_for_incompletion=result.get("reasonForIncompletion"),
                worker_id=result.get("workerId"),
            ),
        )

    def _still_waiting(self, task: dict[str, Any]) -> bool:
        execution = self.executions.get(task["workflowInstanceId"])
        current = execution.state.by_id.get(task["taskId"]) if execution is not None else None
        return current is not None and current["status"] not in TERMINAL_TASK_STATUSES

    async def _run_on_pool(self, task_type: str, tasks: list[dict[str, Any]]) -> None:
        try:
            if self._call_pool is None:
                raise RuntimeError("this shard has no worker pools")
            results = await self._call_pool(task_type, tasks)
        except Exception as error:
            results = failed_results(tasks, f"worker pool for {task_type!r} failed: {type(error).__name__}: {error}")
        if task_type in self.concurrency_limited:
            await self.store.release(task_type, [task["taskId"] for task in tasks])
        for result in results:
            self._post_result(result)


def _is_process_loss(error: BaseException) -> bool:
    """The actor's process or node went away (it is being restarted), as opposed to an
    error raised by the worker code itself."""
    return isinstance(error, ray.exceptions.RayActorError | ray.exceptions.ActorUnavailableError)


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class WorkflowShard:
    """The Ray actor around ShardCore: finds pool actors and peer shards by name."""

    def __init__(
        self,
        index: int,
        redis_url: str,
        partitions: int,
        namespace: str,
        log_level: str = "INFO",
        lease_ms: int = DEFAULT_LEASE_MS,
    ) -> None:
        self.namespace = namespace
        logging.basicConfig(level=log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        self.core = ShardCore(
            index,
            Store(redis_url, partitions),
            self._call_pool,
            self._send_to_peer,
            RayMetrics(index),
            tracer_from_environment(),
            lease_ms=lease_ms,
            forward=self._forward,
        )
        self._pools: dict[str, list[Any]] = {}
        self._peers: dict[str, Any] = {}
        self._round_robin = itertools.count()
        # Async actors construct inside their event loop: recover at once, also after a
        # restart by Ray, rather than waiting for the first call.
        self._starting = asyncio.get_running_loop().create_task(self.core.start())

    async def ready(self) -> int:
        await self.core.start()
        return len(self.core.executions)

    async def start_workflows(self, requests: list[dict[str, Any]]) -> list[str]:
        await self.core.start()
        return await self.core.start_workflows(requests)

    async def deliver(self, events: list[tuple[str, ev.Event]]) -> list[str]:
        await self.core.start()
        return await self.core.deliver(events)

    async def accept_messages(self, batch: list[tuple[str, str, messages.Message]]) -> None:
        await self.core.start()
        self.core.accept_messages(batch)

    async def refresh_metadata(self) -> None:
        await self.core.start()
        await self.core.refresh_metadata()
        self._pools.clear()

    async def retire(self) -> None:
        await self.core.retire()

    async def stats(self) -> dict[str, Any]:
        core = self.core
        return {
            "name": core.name,
            "index": core.index,
            "node": core.ownership.node,
            "pid": os.getpid(),
            "partitions": core.ownership.serving(),
            "leaving": sorted(core.ownership.leaving),
            "activeExecutions": len(core.executions),
            "steps": core.steps,
            "fencedTurns": core.fenced_turns,
        }

    def _pool_handles(self, task_type: str) -> list[Any]:
        handles = self._pools.get(task_type)
        if handles is None:
            size = self.core.pool_types.get(task_type, 0)
            handles = [ray.get_actor(pool_actor_name(task_type, i), namespace=self.namespace) for i in range(size)]
            if not handles:
                raise LookupError(f"no Python worker pool serves {task_type!r}")
            self._pools[task_type] = handles
        return handles

    async def _call_pool(self, task_type: str, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run tasks on the type's pool actors. A pool actor that dies mid-call is a crash,
        not the task's failure: its tasks go again to the actor Ray restarts (at least once,
        as a worker crash in Conductor leads to a re-queue), and no retry is spent."""
        results: list[dict[str, Any]] = []
        pending, pause = tasks, 0.05
        deadline = time.monotonic() + POOL_REDISPATCH_SECONDS
        while pending:
            handles = self._pool_handles(task_type)
            groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for task in pending:
                groups[next(self._round_robin) % len(handles)].append(task)
            outcomes = await asyncio.gather(
                *(handles[i].execute.remote(group) for i, group in groups.items()), return_exceptions=True
            )
            pending = []
            for group, outcome in zip(groups.values(), outcomes, strict=True):
                if not isinstance(outcome, BaseException):
                    results.extend(outcome)
                elif _is_process_loss(outcome) and time.monotonic() < deadline:
                    log.warning(
                        "%s: pool actor for %r lost, dispatching %d tasks again", self.core.name, task_type, len(group)
                    )
                    pending.extend(group)
                else:
                    reason = f"worker pool actor for {task_type!r} failed: {type(outcome).__name__}: {outcome}"
                    results.extend(failed_results(group, reason))
            if pending:
                self._pools.pop(task_type, None)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)
        return results

    def _peer(self, name: str) -> Any:
        peer = self._peers.get(name)
        if peer is None:
            peer = self._peers[name] = ray.get_actor(name, namespace=self.namespace)
        return peer

    def _send_to_peer(self, shard: str, batch: list[tuple[str, str, messages.Message]]) -> None:
        # Fire and forget: the message is already in the receiver's inbox in Redis.
        try:
            self._peer(shard).accept_messages.remote(batch)
        except ValueError:  # no such actor (retired): the partition's next owner reads its inbox
            self._peers.pop(shard, None)

    def _forward(self, shard: str, events: list[tuple[str, ev.Event]]) -> None:
        # Fire and forget: a result lost here is dispatched again by the owner's recovery.
        try:
            self._peer(shard).deliver.remote(events)
        except ValueError:
            self._peers.pop(shard, None)
