"""BackgroundLoops: what a shard does on its own clock rather than on an event.

Due timers become events, rate- or concurrency-limited Python pool tasks are fed to
their pools, the view of which task domains have workers polling is refreshed, and a
periodic sweep reloads metadata, redelivers inbox messages and passivates idle
executions.
"""

from __future__ import annotations

import asyncio
import logging
import time

from actors.shard.base import ShardBase
from actors.shard.execution import Envelope, now_ms, release_freed_memory
from actors.workflow import events as ev
from cluster.store import Keys, outbox

log = logging.getLogger("podium.shard")

TIMER_INTERVAL = 0.1
# Limited Python pool tasks taken per type and timer tick.
POOL_FEED_BATCH = 100
SWEEP_INTERVAL = 5.0
POLL_DATA_INTERVAL = 2.0


class BackgroundLoops(ShardBase):
    """Timers, limited pool feeding, poll data and the sweep, part of `ShardCore`."""

    async def _timer_loop(self) -> None:
        while True:
            await asyncio.sleep(TIMER_INTERVAL)
            try:
                now = now_ms()
                to_read = self.timer_watch.to_read(self.ownership.serving(), now)
                due, later = await self.store.due_timers(to_read, now)
                self.timer_watch.read(later, {partition for partition, _ in due})
                for partition, timer in due:
                    if timer in self._timers_in_flight:
                        continue
                    self._timers_in_flight.add(timer)
                    fired = ev.TimerFired(timer.task_id, timer.kind)
                    self.arrivals.append(Envelope(timer.workflow_id, fired, timer=(partition, timer)))
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
                if self.store.cluster and (left := await outbox.pending(self.store, self.ownership.serving())):
                    async with self._turn_lock:  # a turn's own follow-ups run inside it
                        await outbox.replay(self.store, left)
                await self._redeliver_inbox()
                for task_type in self.concurrency_limited - self.pool_types.keys():
                    await self.store.reconcile_in_flight(task_type)
                self.passivate_idle(time.monotonic() - self.idle_seconds)
                self.timer_watch.forget_all()
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
