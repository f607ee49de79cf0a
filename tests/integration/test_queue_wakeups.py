"""Long polls are woken by the turn that queues a task, on a real Redis: the wake-up is
published by the turn's own script, so a refused (fenced) turn wakes nobody."""

from __future__ import annotations

import asyncio

import pytest

from cluster.leases import LeaseStore, token_of
from cluster.store import Fenced, Keys, Store, Timer
from gateway.queue_waker import QueueWaker

DEADLINE_SECONDS = 30


def _task(task_type: str, workflow_id: str) -> dict[str, object]:
    return {
        "taskId": f"{workflow_id}-t",
        "taskType": task_type,
        "workflowInstanceId": workflow_id,
        "status": "SCHEDULED",
    }


async def _wakeups(redis_url: str) -> tuple[bool, bool, list[str]]:
    store = Store(redis_url, 4)
    waker = QueueWaker(store)
    listening = asyncio.get_running_loop().create_task(waker.run())
    leases = LeaseStore(store.redis, 4)
    [mine] = await leases.acquire("podium-shard-0", [0], now=1, lease_ms=10**12)
    tokens = {0: (token_of("podium-shard-0", mine.epoch), mine.seq)}
    refused_queue, woken_queue = Keys.queue("wake_refused"), Keys.queue("wake_me")
    try:
        # Subscribed before anything is published (pub/sub keeps no backlog).
        while not (await store.redis.pubsub_numsub(Keys.queue_ready_channel))[0][1]:
            await asyncio.sleep(0.01)
        with waker.watching(refused_queue) as refused, waker.watching(woken_queue) as woken:
            # Another shard took partition 0: this turn is refused, its task never queued.
            await leases.acquire("podium-shard-1", [0], now=2 + 10**12, lease_ms=10**12)
            fenced = store.checkpoint()
            fenced.enqueue(_task("wake_refused", "wf-0"), now=1)
            fenced.set_timer(0, Timer("wf-0", "wf-0-t", "wait"), 10)  # a write as partition 0's owner
            with pytest.raises(Fenced):
                await fenced.commit(tokens)
            # A turn that lands wakes the polls on its queue; messages arrive in order, so
            # by the time this one is seen, a wake-up for the refused turn would have been.
            landed = store.checkpoint()
            landed.enqueue(_task("wake_me", "wf-1"), now=1)
            await landed.commit()
            await asyncio.wait_for(woken.wait(), DEADLINE_SECONDS)
            queued = [m.decode() for m in await store.redis.zrange(woken_queue, 0, -1)]
            assert await store.redis.zcard(refused_queue) == 0
            return woken.is_set(), refused.is_set(), queued
    finally:
        listening.cancel()
        await store.close()


def test_a_committed_turn_wakes_polls_on_its_queue_and_a_refused_one_does_not(redis_url: str) -> None:
    woken, refused, queued = asyncio.run(_wakeups(redis_url))
    assert woken
    assert queued == ["wf-1-t"], "the poll woken finds the task"
    assert not refused, "a fenced turn queued nothing and woke nobody"
