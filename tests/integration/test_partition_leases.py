"""Partition leases on a real Redis: fencing, hand-over between shard cores, takeover.

Two `ShardCore`s in this process stand for two shard actors; no Ray is needed to show
what the leases guarantee.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson

from actors.shard import Outcome, ShardCore
from actors.workflow import events as ev
from cluster.leases import Acquired, LeaseStore, token_of
from cluster.store import Keys, Store

PARTITIONS = 8
LONG_LEASE_MS = 60_000
DEFINITION = orjson.dumps(
    {"name": "lease_flow", "version": 1, "tasks": [{"name": "lease_task", "taskReferenceName": "only"}]}
)


def _core(redis_url: str, index: int, lease_ms: int = LONG_LEASE_MS) -> ShardCore:
    return ShardCore(index, Store(redis_url, PARTITIONS), lease_ms=lease_ms)


async def _start(core: ShardCore, ids: list[str]) -> list[str]:
    return await core.start_workflows([{"workflowId": w, "definition": DEFINITION, "input": {}} for w in ids])


async def _complete(core: ShardCore, workflow_id: str) -> str:
    workflow = await core.store.get_workflow(workflow_id)
    assert workflow is not None
    task_id = workflow["tasks"][0]["taskId"]
    [outcome] = await core.deliver([(workflow_id, ev.TaskUpdate(task_id=task_id, status="COMPLETED"))])
    return outcome


async def _lease_semantics(redis_url: str) -> None:
    store = Store(redis_url, PARTITIONS)
    leases = LeaseStore(store.redis, PARTITIONS)
    [first] = await leases.acquire("podium-shard-0", [3], now=1_000, lease_ms=5_000)
    assert (first.partition, first.clean) == (3, False)  # never held: recover to be safe
    assert await leases.acquire("podium-shard-1", [3], now=2_000, lease_ms=5_000) == []
    # The same name again is a restarted process: it takes the lease over at once, new epoch.
    [again] = await leases.acquire("podium-shard-0", [3], now=2_000, lease_ms=5_000)
    assert again.epoch == first.epoch + 1
    assert await leases.renew({3: token_of("podium-shard-0", first.epoch)}, 2_500, 5_000) == {3}
    assert await leases.renew({3: token_of("podium-shard-0", again.epoch)}, 2_500, 5_000) == set()
    # Expired: anyone may take it.
    [taken] = await leases.acquire("podium-shard-1", [3], now=7_501, lease_ms=5_000)
    assert taken.epoch == again.epoch + 1 and not taken.clean
    await leases.release({3: token_of("podium-shard-1", taken.epoch)}, clean=True)
    [clean] = await leases.acquire("podium-shard-0", [3], now=7_600, lease_ms=5_000)
    assert clean.clean and clean.epoch == taken.epoch + 1
    await store.close()


def test_a_lease_is_taken_renewed_expired_and_released_with_a_growing_epoch(redis_url: str) -> None:
    asyncio.run(_lease_semantics(redis_url))


async def _zombie_write(redis_url: str) -> tuple[str, int, dict[str, object] | None, int]:
    zombie = _core(redis_url, 0)
    await zombie.start()
    [outcome] = await _start(zombie, ["wf-zombie"])
    assert outcome == Outcome.OK
    partition = zombie.store.partition("wf-zombie")
    # Another shard takes the partition over, as it would once the paused owner's lease ran out.
    leases = LeaseStore(zombie.store.redis, PARTITIONS)
    [taken] = await leases.acquire("podium-shard-1", [partition], now=2**50, lease_ms=LONG_LEASE_MS)
    assert taken.epoch > 0
    # The old owner has not noticed: it still applies the event, but its write is refused.
    answer = await _complete(zombie, "wf-zombie")
    stored = await zombie.store.get_workflow("wf-zombie")
    return answer, zombie.fenced_turns, stored, partition


def test_a_shard_whose_lease_was_taken_over_lands_no_write(redis_url: str) -> None:
    answer, fenced_turns, stored, _ = asyncio.run(_zombie_write(redis_url))
    assert answer is Outcome.MOVED, "the caller is sent to the new owner"
    assert fenced_turns == 1
    assert stored is not None
    assert stored["status"] == "RUNNING"
    assert stored["tasks"][0]["status"] == "SCHEDULED", "the refused completion must not be stored"


async def _hand_over(redis_url: str) -> dict[str, object]:
    first = _core(redis_url, 0)
    await first.start()  # alone: it takes every partition
    ids = [f"wf-move-{i}" for i in range(40)]
    assert await _start(first, ids) == [Outcome.OK] * len(ids)
    queued_before = await first.store.redis.zcard(Keys.queue("lease_task"))

    second = _core(redis_url, 1)
    await second.start()  # joins: wants its share, which the first still holds
    await first.rebalance()  # sees the new member: hands its share over (nothing in flight)
    await second.rebalance()  # takes it
    await first.rebalance()

    moved = second.ownership.serving()
    kept = first.ownership.serving()
    outcomes_at_old_owner = {}
    outcomes = {}
    for workflow_id in ids:
        partition = first.store.partition(workflow_id)
        if partition in moved:
            outcomes_at_old_owner[workflow_id] = await _complete(first, workflow_id)
            outcomes[workflow_id] = await _complete(second, workflow_id)
        else:
            outcomes[workflow_id] = await _complete(first, workflow_id)
    finished = [await first.store.get_workflow(w) for w in ids]
    return {
        "moved": moved,
        "kept": kept,
        "old_owner": outcomes_at_old_owner,
        "outcomes": outcomes,
        "statuses": [w["status"] if w else None for w in finished],
        "task_counts": [len(w["tasks"]) if w else 0 for w in finished],
        "queued_before": queued_before,
        "executions_on_second_before": second.steps,
    }


def test_partitions_move_to_a_joining_shard_and_every_execution_goes_on(redis_url: str) -> None:
    result = asyncio.run(_hand_over(redis_url))
    moved, kept = result["moved"], result["kept"]
    assert isinstance(moved, list) and isinstance(kept, list)
    assert moved and kept, "each shard serves a share"
    assert set(moved).isdisjoint(kept) and sorted([*moved, *kept]) == list(range(PARTITIONS))
    old_owner = result["old_owner"]
    assert isinstance(old_owner, dict) and old_owner and set(old_owner.values()) == {Outcome.MOVED}
    outcomes = result["outcomes"]
    assert isinstance(outcomes, dict) and set(outcomes.values()) == {Outcome.OK}
    assert result["statuses"] == ["COMPLETED"] * 40
    # A clean hand-over dispatches nothing again: each workflow ran its one task once.
    assert result["task_counts"] == [1] * 40
    assert result["queued_before"] == 40


async def _takeover_after_expiry(redis_url: str) -> tuple[list[int], list[int], int]:
    lost = _core(redis_url, 0, lease_ms=1_000)
    await lost.start()
    ids = [f"wf-lost-{i}" for i in range(20)]
    await _start(lost, ids)
    queue = Keys.queue("lease_task")
    # Workers took every task: the queue is empty when the owner disappears.
    await lost.store.redis.delete(queue)
    for task in list(lost._background):  # the shard stops beating and renewing: a lost node
        task.cancel()
    survivor = _core(redis_url, 1, lease_ms=1_000)
    await survivor.start()
    deadline = asyncio.get_running_loop().time() + 20
    while len(survivor.ownership.serving()) < PARTITIONS:
        assert asyncio.get_running_loop().time() < deadline, "the survivor never took the expired leases"
        await survivor.rebalance()
        await asyncio.sleep(0.1)
    # Recovery hands the tasks of the lost shard's executions out again.
    while await survivor.store.redis.zcard(queue) < len(ids):
        assert asyncio.get_running_loop().time() < deadline, "recovery did not queue the tasks again"
        await asyncio.sleep(0.05)
    return lost.ownership.serving(), survivor.ownership.serving(), await survivor.store.redis.zcard(queue)


def test_a_shard_that_stops_renewing_has_its_partitions_taken_over_and_recovered(redis_url: str) -> None:
    lost_view, survivor, queued = asyncio.run(_takeover_after_expiry(redis_url))
    assert survivor == list(range(PARTITIONS))
    assert lost_view, "the lost shard never learned it lost them (it is gone)"
    assert queued == 20


async def _redis_loses_a_turn(redis_url: str) -> dict[str, object]:
    core = ShardCore(0, Store(redis_url, 1), lease_ms=LONG_LEASE_MS)
    await core.start()
    redis = core.store.redis
    await _start(core, ["wf-kept"])
    # What an append-only file fsynced now would hold: the execution waiting on its task.
    key, lease = Keys.execution(0, "wf-kept"), Keys.lease(0)
    older_checkpoint, older_seq = await redis.hgetall(key), await redis.hget(lease, "seq")
    assert await _complete(core, "wf-kept") == Outcome.OK
    # Redis restarts from that file: the completion is gone, and so is the count of its turn.
    await redis.delete(key)
    await redis.hset(key, mapping=older_checkpoint)
    await redis.hset(lease, "seq", older_seq)
    await redis.sadd(Keys.partition_running(0), "wf-kept")
    await redis.delete(Keys.queue("lease_task"))
    # The shard does not know yet: its next write expects the turn it remembers.
    [started] = await _start(core, ["wf-after"])
    after = await core.store.get_workflow("wf-after")
    queued = [m.decode() for m in await redis.zrange(Keys.queue("lease_task"), 0, -1)]
    kept = await core.store.get_workflow("wf-kept")
    assert kept is not None
    finished = await _complete(core, "wf-kept")
    return {
        "started": started,
        "after": after["status"] if after else None,
        "resyncs": core.resyncs,
        "kept_before": kept["status"],
        "queued": sorted(queued),
        "kept_task": kept["tasks"][0]["taskId"],
        "finished": finished,
        "kept_after": (await core.store.get_workflow("wf-kept") or {}).get("status"),
    }


def test_a_redis_that_lost_turns_is_noticed_and_the_partition_recovered_from_what_it_holds(redis_url: str) -> None:
    found = asyncio.run(_redis_loses_a_turn(redis_url))
    assert found["resyncs"] == 1, "the next write saw fewer turns than were written"
    assert (found["started"], found["after"]) == (Outcome.OK, "RUNNING"), "the refused start applied again and landed"
    assert found["kept_before"] == "RUNNING", "the lost completion is not pretended"
    queued = found["queued"]
    assert isinstance(queued, list) and found["kept_task"] in queued, "recovery queued its task again"
    assert (found["finished"], found["kept_after"]) == (Outcome.OK, "COMPLETED")


TASK_THEN_WAIT = orjson.dumps(
    {
        "name": "recovery_race",
        "version": 1,
        "tasks": [
            {"name": "race_task", "taskReferenceName": "work"},
            {"name": "gate", "taskReferenceName": "gate", "type": "WAIT"},
        ],
    }
)


async def _recovery_racing_a_turn(redis_url: str) -> list[str]:
    """A take-over reads an execution's checkpoint; before it activates it, a turn
    completes the execution's task and the execution parks (leaves memory). A worker's
    repeated result must then find the task done, not an older copy still waiting."""
    core = ShardCore(0, Store(redis_url, 1), lease_ms=LONG_LEASE_MS)
    await core.start()
    await core.start_workflows([{"workflowId": "wf-race", "definition": TASK_THEN_WAIT, "input": {}}])
    stored = await core.store.get_workflow("wf-race")
    assert stored is not None
    work = ev.TaskUpdate(task_id=stored["tasks"][0]["taskId"], status="COMPLETED")
    completing: asyncio.Future[list[str]] = asyncio.ensure_future(core.deliver([("wf-race", work)]))
    load = core.store.load_executions
    recovering = asyncio.current_task()  # the take-over below runs in this task

    async def load_while_a_turn_may_commit(workflow_ids: list[str]) -> list[dict[bytes, bytes]]:
        found = await load(workflow_ids)
        if asyncio.current_task() is recovering:  # the take-over's read, not the turn's own
            # Give the turn every chance to commit between this read and the activation;
            # with the take-over holding the turn lock it cannot, and waits for it.
            await asyncio.wait({completing}, timeout=1.0)
        return found

    core.executions.clear()  # as after a restart: the take-over recovers what Redis holds
    core.store.load_executions = load_while_a_turn_may_commit  # type: ignore[method-assign]
    await core._take_over([Acquired(0, 0, clean=False)])
    core.store.load_executions = load  # type: ignore[method-assign]
    await completing
    # The worker reports the same result again (it was dispatched again by the recovery).
    await core.deliver([("wf-race", work)])
    final = await core.store.get_workflow("wf-race")
    assert final is not None
    return [t["referenceTaskName"] for t in final["tasks"]]


def test_a_take_over_never_activates_a_checkpoint_older_than_a_committed_turn(redis_url: str) -> None:
    assert asyncio.run(_recovery_racing_a_turn(redis_url)) == ["work", "gate"]


async def _restart_with_a_turn_before_the_recovery(redis_url: str) -> list[str]:
    """A restarted shard holds its leases again before it has recovered them; a turn in
    between (here the poll of a task) loads an execution. The recovery must still send
    that execution's waiting task again: its first dispatch died with the old process."""
    dispatched: list[str] = []
    dispatched_again = asyncio.Event()

    async def pool(task_type: str, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        dispatched.extend(t["referenceTaskName"] for t in tasks)
        if len(dispatched) > 1:
            dispatched_again.set()
        await asyncio.Event().wait()  # never answers, like a pool whose shard died
        return []

    store = Store(redis_url, 1)
    await store.redis.hset(Keys.pools, "pool_task", 1)
    first = ShardCore(0, store, call_pool=pool, lease_ms=LONG_LEASE_MS)
    await first.start()
    definition = orjson.dumps(
        {"name": "restart_race", "version": 1, "tasks": [{"name": "pool_task", "taskReferenceName": "work"}]}
    )
    await first.start_workflows([{"workflowId": "wf-restart", "definition": definition, "input": {}}])
    assert dispatched == ["work"]
    stored = await store.get_workflow("wf-restart")
    assert stored is not None
    # The process dies; Ray starts the shard again under the same name.
    second = ShardCore(0, Store(redis_url, 1), call_pool=pool, lease_ms=LONG_LEASE_MS)
    await second.refresh_metadata()
    second._spawn(second._loop())
    changes = await second.ownership.tick()
    await second.deliver([("wf-restart", ev.TaskPolled(stored["tasks"][0]["taskId"], "a-worker"))])
    await second._take_over(changes.acquired)
    with contextlib.suppress(TimeoutError):  # never dispatched again: the assertion shows it
        await asyncio.wait_for(dispatched_again.wait(), timeout=10)
    return dispatched


def test_a_restarted_shard_dispatches_again_what_a_turn_loaded_before_its_recovery(redis_url: str) -> None:
    assert asyncio.run(_restart_with_a_turn_before_the_recovery(redis_url)) == ["work", "work"]
