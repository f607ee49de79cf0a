"""The schedule runner: fires due workflow schedules, in every gateway process.

Each tick claims the schedules whose timer is due (cluster/store/schedules.py; a claim
keeps other gateways off a schedule for CLAIM_MS), and for each one:

1. reads the schedule (a deleted or paused one is skipped: its timer is already gone);
2. starts its workflow through the API's own start path, with the idempotency key
   `schedule:<name>:<fire ms>` and RETURN_EXISTING, so a fire handled a second time (its
   gateway died before step 3, or took longer than its claim) finds the workflow the
   first attempt started instead of starting another;
3. writes the fire's record and moves the timer to the next fire time in one script.

A start the API refuses (the workflow's definition was removed, bad input) is recorded
as a FAILED fire and the schedule moves on, as Conductor does. Anything else (Redis or a
shard unreachable) leaves the claim to expire, and the fire is tried again then.

Several gateways share the work without coordination beyond the claim; none of them is
special, so losing any process loses no fire.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from definitions.schedules import (
    ScheduleError,
    WorkflowSchedule,
    checked,
    execution_record,
    next_run,
    scheduled_start,
)
from gateway.api.workflows import start_workflow
from gateway.context import GatewayContext
from gateway.errors import ApiError

log = logging.getLogger("podium.scheduler")

TICK_SECONDS = 0.2
# How long a claimed fire is left to its gateway before another may take it over.
CLAIM_MS = 15_000
CLAIM_BATCH = 64


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class ScheduleRunner:
    def __init__(
        self, context: GatewayContext, claim_ms: int = CLAIM_MS, clock: Callable[[], int] = wall_clock_ms
    ) -> None:
        self.context = context
        self.claim_ms = claim_ms
        self.clock = clock
        self._firing: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        while True:
            try:
                claimed = await self.claim()
                # Each fire on its own: a start held up (a shard restarting) holds up no other
                # schedule. The claim keeps this runner from taking the same fire again meanwhile.
                for name, fire_ms in claimed:
                    task = asyncio.get_running_loop().create_task(self.fire(name, fire_ms))
                    self._firing.add(task)
                    task.add_done_callback(self._firing.discard)
                if len(claimed) == CLAIM_BATCH:
                    continue  # a full batch: more may be due
            except Exception:
                log.exception("schedule claim failed")
            await asyncio.sleep(TICK_SECONDS)

    async def claim(self) -> list[tuple[str, int]]:
        now = self.clock()
        return await self.context.store.claim_due_schedules(now, now + self.claim_ms, CLAIM_BATCH)

    async def tick(self) -> int:
        """Claim what is due now and fire it; the number of fires claimed."""
        claimed = await self.claim()
        await asyncio.gather(*(self.fire(name, fire_ms) for name, fire_ms in claimed))
        return len(claimed)

    async def fire(self, name: str, fire_ms: int) -> None:
        try:
            await self._fire(name, fire_ms)
        except Exception:
            log.exception("schedule %s: the fire at %d failed; it is tried again when its claim ends", name, fire_ms)

    async def _fire(self, name: str, fire_ms: int) -> None:
        store = self.context.store
        stored = await store.get_schedule(name)
        if stored is None or stored.get("paused"):
            return  # deleting or pausing removed the timer and the claim
        schedule = WorkflowSchedule.model_validate(stored)
        executed = self.clock()
        workflow_id: str | None = None
        reason: str | None = None
        try:
            cron = checked(schedule)
        except ScheduleError as error:
            # Saved by an older Podium that accepted it, or edited in Redis: stop it, say why.
            log.error("schedule %s cannot run: %s", name, error)
            record = execution_record(schedule, fire_ms, executed, None, str(error))
            await store.advance_schedule(name, fire_ms, None, record)
            return
        try:
            workflow_id = await start_workflow(self.context, scheduled_start(schedule, fire_ms, executed))
        except ApiError as error:
            if error.status >= 500:
                raise
            reason = error.message[:999]
            log.warning("schedule %s: the start at %d was refused: %s", name, fire_ms, reason)
        following = next_run(schedule, cron, self.clock(), fire_ms)
        record = execution_record(schedule, fire_ms, executed, workflow_id, reason)
        await store.advance_schedule(name, fire_ms, following, record)
