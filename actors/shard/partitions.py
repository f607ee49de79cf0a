"""PartitionOwner: which partitions a shard serves, and what changes when that changes.

The leases themselves live in `actors.ownership`; this part of the shard reacts to
them between turns: it drops the executions of partitions taken over by another
shard, recovers partitions it acquired, hands over drained ones, and, before each
turn, admits only the events of partitions it may apply (`_admit`) and undoes a turn
whose write was refused (`_fenced`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

from actors.shard.base import ShardBase
from actors.shard.execution import Envelope, ShardEvent
from actors.shard.outcomes import Outcome
from actors.workflow import events as ev
from cluster.leases import Acquired
from cluster.store import Fenced, outbox

log = logging.getLogger("podium.shard")
# How long a newly acquired partition's inbox is read at every lease tick.
FRESH_SECONDS = 5.0


class PartitionOwner(ShardBase):
    """Partition ownership and hand-over, part of `ShardCore`."""

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
        # Partitions taken in earlier ticks; those taken now have their inbox read by `_take_over`.
        now = time.monotonic()
        self._fresh = {p: until for p, until in self._fresh.items() if until > now and self.ownership.owns(p)}
        if self._fresh:
            await self._redeliver_inbox(sorted(self._fresh))
        if changes.acquired:
            await self._take_over(changes.acquired)
        released = await self._hand_over_drained()
        if released and self.peers is not None:
            # The new owners would see the free leases at their next tick; tell them now.
            for owner in {self.ownership.wanted_owner(p) for p in released} - {self.name, None}:
                assert owner is not None
                self.peers.nudge(owner)

    def rebalance_soon(self) -> None:
        """Another shard released partitions this one may want: look at the leases now."""
        self._spawn(self.rebalance())

    def _forget(self, partitions: set[int]) -> None:
        """Drop the executions of partitions this shard no longer owns (their checkpoints stay)."""
        self.timer_watch.forget(partitions)
        for workflow_id in [w for w, e in self.executions.items() if e.partition in partitions]:
            del self.executions[workflow_id]

    async def _take_over(self, acquired: list[Acquired], turn_locked: bool = False) -> None:
        """Serve newly acquired partitions; recover those their last owner did not hand over."""
        unclean = [taken.partition for taken in acquired if not taken.clean]
        self.timer_watch.forget(taken.partition for taken in acquired)
        if self.store.cluster:
            # Writes its last owner committed but had not carried out everywhere yet.
            await outbox.replay(self.store, unclean)
        # Slots held by the previous owner's pool calls died with its process.
        for task_type in self.concurrency_limited & self.pool_types.keys():
            await self.store.release_pool_slots(task_type, unclean)
        recovered = 0
        for partition in unclean:
            if turn_locked:
                recovered += await self._recover(partition)
            else:
                # Read and activated with no turn in between: a turn that committed after
                # the read (a start, or a step that then passivated the execution) would
                # otherwise be undone in memory by the older checkpoint, and its steps run twice.
                async with self._turn_lock:
                    recovered += await self._recover(partition)
        await self._redeliver_inbox([taken.partition for taken in acquired])
        until = time.monotonic() + FRESH_SECONDS
        self._fresh.update((taken.partition, until) for taken in acquired)
        log.info(
            "%s took %d partitions (%d to recover, %d executions)", self.name, len(acquired), len(unclean), recovered
        )

    async def _recover(self, partition: int) -> int:
        """Activate the partition's running executions and dispatch their waiting tasks
        again; answers how many. Those already in memory get dispatched again too: a turn
        between the lease's acquisition and this recovery (a message, a timer) may have
        loaded one, and what its dead owner dispatched died with it."""
        recovered = 0
        ids = await self.store.partition_running_ids(partition)
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            missing = [workflow_id for workflow_id in batch if workflow_id not in self.executions]
            for workflow_id, stored, definition in await self._load(missing) if missing else []:
                if workflow_id not in self.executions:
                    self._activate(workflow_id, stored, definition)
            for workflow_id in batch:
                if workflow_id in self.executions:
                    self.notify(workflow_id, ev.Redispatch())
                    recovered += 1
        return recovered

    async def _hand_over_drained(self) -> set[int]:
        """Release the leaving partitions whose work in flight has come back (or that waited
        too long); answers the partitions released."""
        leaving = self.ownership.leaving
        if not leaving:
            return set()
        async with self._turn_lock:
            busy = set(self._in_flight.values())
            done = {p for p in leaving if p not in busy}
            overdue = {p for p in leaving if p in busy and self.ownership.drain_overdue(p)}
            if not done and not overdue:
                return set()
            self._forget(done | overdue)
            await self.ownership.release(done, clean=True)
            await self.ownership.release(overdue, clean=False)
        log.info("%s handed over %d partitions (%d unclean)", self.name, len(done | overdue), len(overdue))
        return done | overdue

    async def _redeliver_inbox(self, partitions: list[int] | None = None) -> None:
        owned = self.ownership.serving() if partitions is None else partitions
        for partition, message_id, message in await self.store.inbox_messages(owned):
            if message_id not in self._messages_in_flight:
                self.submit_message(message_id, message, partition)

    def _admit(self, batch: list[Envelope]) -> list[Envelope]:
        """The envelopes this shard may apply now. A gateway's call for a partition that is
        not served here is answered Outcome.MOVED (the gateway asks the owner); a result for one
        that moved goes on to its owner; timers and messages of other partitions stay in
        Redis for their owner."""
        admitted: list[Envelope] = []
        forward: dict[str, list[tuple[str, ShardEvent]]] = defaultdict(list)
        ownership = self.ownership
        for envelope in batch:
            partition = self.store.partition(envelope.workflow_id)
            if envelope.reply is not None:
                if ownership.serves(partition):
                    admitted.append(envelope)
                elif not envelope.reply.done():
                    envelope.reply.set_result(Outcome.MOVED)
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
        if self.peers is not None:
            for owner, events in forward.items():
                self.peers.forward(owner, events)
        return admitted

    async def _fenced(self, batch: list[Envelope], refusal: Fenced) -> None:
        """The turn's write was refused, so nothing of it landed: forget what it changed in
        memory and apply its events again. Partitions another shard took over are dropped
        (their events go to the new owner). Partitions whose lease counts fewer turns than
        this shard wrote lost writes in Redis itself (a restart from an older append-only
        file): what is in memory is ahead of Redis, so they are recovered from what Redis
        holds, as after a crash, before the events apply again."""
        self.fenced_turns += 1
        if refusal.partitions:
            lost = sorted(refusal.partitions)
            log.warning("%s: write refused, partitions %s belong to another shard", self.name, lost)
            self.ownership.drop(refusal.partitions)
            self._forget(refusal.partitions)
        for envelope in batch:
            self.executions.pop(envelope.workflow_id, None)
        if refusal.regressed:
            self.resyncs += 1
            log.error(
                "%s: Redis holds fewer turns of partitions %s than were written (it restarted and lost "
                "writes): recovering them from what it holds",
                self.name,
                sorted(refusal.regressed),
            )
            self._forget(refusal.regressed)
            self.ownership.seqs.update(await self.ownership.leases.seqs(refusal.regressed))
            held = [p for p in sorted(refusal.regressed) if p in self.ownership.tokens]
            await self._take_over([Acquired(p, 0, clean=False) for p in held], turn_locked=True)
        self.arrivals[:0] = batch
        self._wake.set()
