"""ShardCore: a shard's entry points and its turn loop.

The other concerns of the shard are mixins in the sibling modules; this one takes
events in, and applies a batch of them per turn under one Redis transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import orjson

from actors import messages
from actors.shard.activation import Activation
from actors.shard.background import BackgroundLoops
from actors.shard.dispatch import Dispatcher
from actors.shard.execution import Envelope, Execution, RemoveExecution, ShardEvent, TurnEffects, now_ms, parked
from actors.shard.inbox import MessageHandler
from actors.shard.outcomes import Answer, HandedOver, Outcome, Refused
from actors.shard.partitions import PartitionOwner
from actors.workflow import commands as cmd
from actors.workflow import events as ev
from actors.workflow.machine import handle, start_workflow
from actors.workflow.operators.base import operator_for
from actors.workflow.state import TaskRecord, public_task
from cluster.store import Checkpoint, Fenced, Keys, QueueLimits, Timer
from definitions.models import TERMINAL_TASK_STATUSES, TaskDef

log = logging.getLogger("podium.shard")

DISPATCH_TIMER = cmd.DISPATCH_TIMER


class ShardCore(PartitionOwner, Activation, MessageHandler, Dispatcher, BackgroundLoops):
    """The shard's logic, free of Ray so it can run in-process in tests."""

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

    async def refresh_metadata(self) -> None:
        raw_defs = await self.store.list_task_defs()
        fresh = {d["name"]: TaskDef.model_validate(d) for d in raw_defs}
        self.task_defs.clear()
        self.task_defs.update(fresh)
        self.pool_types = await self.store.pool_sizes()
        self.colocated_workers = await self.store.colocated_workers()
        limits = {d["name"]: QueueLimits.of(d) for d in raw_defs}
        self.limited_types = {name for name, found in limits.items() if found is not None}
        self.concurrency_limited = {name for name, found in limits.items() if found and found.concurrency}

    # -- entry points -----------------------------------------------------------------------

    def submit(self, workflow_id: str, event: ShardEvent) -> asyncio.Future[Answer]:
        reply: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.arrivals.append(Envelope(workflow_id, event, reply))
        self._wake.set()
        return reply

    def notify(self, workflow_id: str, event: ev.Event) -> None:
        """An event nobody waits for an answer to (worker results, recovery)."""
        self.arrivals.append(Envelope(workflow_id, event))
        self._wake.set()

    def submit_message(self, message_id: str, message: messages.Message, partition: int) -> None:
        self._messages_in_flight.add(message_id)
        self.arrivals.append(Envelope(message["workflowId"], None, message=message, inbox_ack=(partition, message_id)))
        self._wake.set()

    async def start_workflows(self, requests: list[ev.StartFields]) -> list[Answer]:
        """Start new executions; each request carries its id and its definition's JSON."""
        replies = []
        for request in requests:
            event = ev.start_from_wire(request["workflowId"], self._definition(request["definition"]), request)
            replies.append(self.submit(request["workflowId"], event))
        return list(await asyncio.gather(*replies))

    async def deliver(self, events: list[tuple[str, ShardEvent]]) -> list[Answer]:
        replies = [self.submit(workflow_id, event) for workflow_id, event in events]
        return list(await asyncio.gather(*replies))

    def accept_messages(self, batch: list[tuple[str, str, messages.Message]], hops: int = 0) -> None:
        """Messages another shard hurried here; those of partitions that moved on go once more
        to their owner (either way each is in its partition's inbox in Redis until handled)."""
        elsewhere: dict[str, list[tuple[str, str, messages.Message]]] = defaultdict(list)
        for addressed in batch:
            workflow_id, message_id, message = addressed
            partition = self.store.partition(workflow_id)
            if self.ownership.owns(partition):
                if message_id not in self._messages_in_flight:
                    self.submit_message(message_id, message, partition)
            elif hops == 0 and (owner := self.ownership.owner_of(partition)) and owner != self.name:
                elsewhere[owner].append(addressed)
        if self.peers is not None:
            for owner, moved in elsewhere.items():
                self.peers.send_messages(owner, moved, hops + 1)

    # -- the loop ---------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.arrivals:
                batch, self.arrivals = self.arrivals, []
                async with self._turn_lock:
                    for turn in self._turns(self._admit(batch)):
                        try:
                            await self._turn(turn)
                        except Fenced as fenced:
                            await self._fenced(turn, fenced)
                        except Exception as error:
                            log.exception("%s: turn failed", self.name)
                            for envelope in turn:
                                if envelope.reply is not None and not envelope.reply.done():
                                    envelope.reply.set_exception(error)
                                self.executions.pop(envelope.workflow_id, None)
                                self._release(envelope)

    def _turns(self, batch: list[Envelope]) -> list[list[Envelope]]:
        """The batch as one turn; on a Redis Cluster, where a turn's script stays in one
        slot, one turn per partition."""
        if not batch:
            return []
        if not self.store.cluster:
            return [batch]
        by_partition: dict[int, list[Envelope]] = defaultdict(list)
        for envelope in batch:
            by_partition[self.store.partition(envelope.workflow_id)].append(envelope)
        return list(by_partition.values())

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
            outcome: Answer | Exception
            try:
                outcome = self._apply(envelope, now, checkpoint, effects, touched)
            except ev.Rejected as rejection:
                # Nothing was changed; reloading from the checkpoint keeps it that way.
                refused = self.executions.pop(envelope.workflow_id, None)
                touched.pop(envelope.workflow_id, None)
                outcome = Refused.of(rejection)
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
        if self.colocated_workers and effects.pool_tasks:
            self._start_colocated(effects)
        self.ownership.counted(await checkpoint.commit(self.ownership.fences()))
        for workflow_id in effects.removed:
            # Still inside the turn: no event of this execution is applied in between.
            await self.store.remove_workflow(workflow_id)
        # Only now: a timer read that started before this write must still learn of them.
        for partition, due in effects.timers:
            self.timer_watch.armed(partition, due)
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

    def _queue_of(self, task: TaskRecord) -> str | None:
        """The queue a worker task waits in, or None for a Python pool task sent to its pool
        directly: limited pool types wait in their pool queue, tasks with a domain and
        every other type in the queue external workers poll."""
        task_type = task["taskType"]
        if task_type in self.pool_types:
            if task_type in self.limited_types:
                return Keys.pool_queue(task_type)
            if not task.get("domain"):
                return None
        return Keys.queue(task_type, task.get("domain"))

    def _acknowledge(self, task: TaskRecord, checkpoint: Checkpoint) -> None:
        """A worker task's poll or result is recorded: its queue stops holding it for a
        hand-out that may have been lost (cluster/store/queues.py). A task that ended
        without being polled (completed by reference name, by a signal or an event
        handler) leaves its queue too, as in Conductor, so no worker is handed it later."""
        if operator_for(task["taskType"]).runs_on_worker and (queue := self._queue_of(task)) is not None:
            if task["status"] in TERMINAL_TASK_STATUSES:
                checkpoint.dequeue(task, queue)
            else:
                checkpoint.acknowledge(task, queue)

    def _arm(
        self, checkpoint: Checkpoint, effects: TurnEffects, partition: int, timer: Timer, due_ms: int
    ) -> None:
        checkpoint.set_timer(partition, timer, due_ms)
        effects.timers.append((partition, due_ms))

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

    def _apply(
        self,
        envelope: Envelope,
        now: int,
        checkpoint: Checkpoint,
        effects: TurnEffects,
        touched: dict[str, Execution],
    ) -> Outcome | HandedOver:
        workflow_id = envelope.workflow_id
        event = envelope.event
        handed: TaskRecord | None = None
        if envelope.message is not None:
            event = self._message_event(envelope.message, now, checkpoint, effects)
            if event is None:
                return Outcome.IGNORED
        if isinstance(event, RemoveExecution):
            if self.executions.pop(workflow_id, None) is None:
                return Outcome.NOT_FOUND
            touched.pop(workflow_id, None)
            effects.removed.append(workflow_id)
            return Outcome.OK
        if isinstance(event, ev.StartWorkflow):
            if workflow_id in self.executions:
                return Outcome.IGNORED
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
                return Outcome.NOT_FOUND
            execution = existing
            assert event is not None
            if isinstance(event, ev.TaskUpdate):
                # The pool's answer is in: from now on the task's state says whether it waits.
                self._in_flight.pop(event.task_id, None)
            if isinstance(event, ev.TaskUpdate | ev.TaskPolled) and event.task_id not in existing.state.by_id:
                return Outcome.TASK_NOT_FOUND
            if isinstance(event, ev.TimerFired) and event.kind == DISPATCH_TIMER:
                return self._dispatch_when_due(existing, event.task_id, effects)
            if isinstance(event, ev.Restart) and event.definition_json is not None:
                event.definition = self._definition(event.definition_json)
                execution.definition_json = event.definition._derived["json"]
            commands = handle(execution.state, event, now, self.env)
            if isinstance(event, ev.TaskUpdate) and event.next_wanted is not None:
                handed = self._hand_over(execution, commands, event.next_wanted, now)
            if isinstance(event, ev.TaskUpdate | ev.TaskPolled):
                self._acknowledge(execution.state.by_id[event.task_id], checkpoint)
            if isinstance(event, ev.TaskUpdate):
                task = execution.state.by_id[event.task_id]
                if task["status"] == event.status and task["endTime"] == now:
                    self.metrics.task_ended(task["taskType"], task["status"], now - task["scheduledTime"])
        execution.last_active = time.monotonic()
        state = execution.state
        if state.dirty_task_ids or state.meta_dirty or execution.definition_json is not None:
            touched[workflow_id] = execution
        self._translate(execution, commands, now, checkpoint, effects)
        if handed is not None:
            return HandedOver(self._as_polled(execution, handed))
        return Outcome.OK if commands or workflow_id in touched else Outcome.IGNORED

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
                    queue = self._queue_of(task)
                    if queue is None:
                        if delay > 0 or not self.ownership.serves(execution.partition):
                            # Delayed, or its partition is being handed over: the dispatch timer
                            # fires on whoever serves the partition when it is due.
                            self._arm(
                                checkpoint,
                                effects,
                                execution.partition,
                                Timer(workflow_id, task["taskId"], DISPATCH_TIMER),
                                now + delay,
                            )
                        else:
                            self._to_pool(workflow_id, task, effects)
                    else:
                        checkpoint.enqueue(task, now, delay, queue)
                case cmd.CancelTask(task=task):
                    checkpoint.dequeue(task)
                    if task["taskType"] in self.limited_types and task["taskType"] in self.pool_types:
                        checkpoint.dequeue(task, Keys.pool_queue(task["taskType"]))
                case cmd.SetTimer(task_id=task_id, kind=kind, due_ms=due):
                    self._arm(checkpoint, effects, execution.partition, Timer(workflow_id, task_id, kind), due)
                case cmd.ClearTimer(task_id=task_id, kind=kind):
                    checkpoint.clear_timer(execution.partition, Timer(workflow_id, task_id, kind))
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
                case cmd.PublishEvent(event=event_name, payload=payload, message_id=message_id, external=external):
                    if external:
                        checkpoint.publish_to_broker(event_name, payload, message_id)
                    else:
                        checkpoint.publish_event(event_name, payload, message_id)
                case cmd.Alert(message=alert):
                    log.warning("timeout alert: %s", alert)
                case cmd.WorkflowEnded(status=status):
                    checkpoint.index_ended(execution.partition, execution.state.workflow)
                    self.metrics.workflow_ended(execution.state.workflow["workflowName"], status)
                    effects.ended.append(workflow_id)
