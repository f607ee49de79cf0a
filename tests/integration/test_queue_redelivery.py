"""A task handed out by a poll whose answer never reached a worker is handed out again.

A gateway can die between popping tasks from Redis and answering the poller (found by
`make chaos`: those tasks stayed SCHEDULED forever). A hand-out now stays on record until
a shard records the poll or the task's result; after `UNACK_MS` a poll hands it out again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cluster.store import Keys, Store
from cluster.store.queues import UNACK_MS


def _task(task_type: str, task_id: str) -> dict[str, Any]:
    return {"taskId": task_id, "workflowInstanceId": f"wf-{task_id}", "taskType": task_type, "status": "SCHEDULED"}


async def _hand_outs(redis_url: str) -> tuple[list[str], list[str], list[str], list[str]]:
    store = Store(redis_url, 4)
    try:
        queued = store.checkpoint()
        for task_id in ("lost", "recorded"):
            queued.enqueue(_task("redeliver_me", task_id), now=1_000)
        await queued.commit()
        first = [t["taskId"] for t in await store.poll("redeliver_me", None, 10, now=2_000)]
        # The shard records the poll of one of them; the other's answer was lost.
        recorded = store.checkpoint()
        recorded.acknowledge(_task("redeliver_me", "recorded"))
        await recorded.commit()
        too_soon = [t["taskId"] for t in await store.poll("redeliver_me", None, 10, now=2_000 + UNACK_MS - 1)]
        again = [t["taskId"] for t in await store.poll("redeliver_me", None, 10, now=2_000 + UNACK_MS)]
        after = [t["taskId"] for t in await store.poll("redeliver_me", None, 10, now=3_000 + UNACK_MS)]
        return sorted(first), too_soon, again, after
    finally:
        await store.redis.delete(Keys.queue("redeliver_me"))
        await store.close()


def test_a_hand_out_not_recorded_in_time_is_handed_out_once_more(redis_url: str) -> None:
    first, too_soon, again, after = asyncio.run(_hand_outs(redis_url))
    assert first == ["lost", "recorded"]
    assert too_soon == []
    assert again == ["lost"]
    assert after == []  # handed out again, so waiting again
