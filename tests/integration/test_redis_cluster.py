"""Podium on a real three-master Redis Cluster (tests/integration/redis_cluster.py).

Each shard turn writes one partition's slot in its fenced script and carries its other
writes out through the partition's outbox (cluster/store/outbox.py); queues and search
indexes each live in a slot of their own. The reference workflow (a fork, a switch, a
sub-workflow on another partition) runs on Python pools and on external workers, and
partitions move while workflows run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.cluster import RedisCluster

from bench.workflows import reference_workflows
from cluster.leases import LeaseStore, token_of
from cluster.redis_server import EmbeddedRedis
from cluster.runtime import Runtime
from cluster.store import Keys, Store, Timer, outbox
from tests.integration.client import PodiumClient, eventually
from tests.integration.conftest import start_podium
from tests.integration.load import Load
from tests.integration.redis_cluster import LocalRedisCluster

PARTITIONS = 16


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    with LocalRedisCluster(masters=3) as started:
        yield started


@pytest.fixture(scope="module")
def on_cluster(
    ray_cluster: None, redis_cluster: LocalRedisCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runtime]:
    runtime = start_podium(
        tmp_path_factory.mktemp("podium-redis-cluster"),
        "podium-redis-cluster",
        ["bench.workers", "tests.integration.workers"],
        redis_url=redis_cluster.url,
        partitions=PARTITIONS,
        lease_ms=2000,
    )
    yield runtime
    runtime.stop()


@pytest.fixture
def client(on_cluster: Runtime) -> Iterator[PodiumClient]:
    with PodiumClient(on_cluster.api_url) as started:
        yield started


def _finish(client: PodiumClient, ids: list[str], external: str | None = None) -> list[dict[str, Any]]:
    def fetch() -> list[dict[str, Any]]:
        if external:
            for task in client.poll(external, count=50):
                client.complete(task, {"value": 1, "kind": "small"})
        return [client.workflow(workflow_id) for workflow_id in ids]

    return eventually(fetch, lambda found: all(w["status"] != "RUNNING" for w in found), "all ended", 120)


def _check_reference(workflows: list[dict[str, Any]]) -> None:
    for workflow in workflows:
        assert workflow["status"] == "COMPLETED", workflow.get("reasonForIncompletion")
        references = [t["referenceTaskName"] for t in workflow["tasks"]]
        assert references.count("child") == 1 and references.count("branch_a") == 1, references


def test_podium_finds_out_it_runs_on_a_cluster(on_cluster: Runtime, redis_cluster: LocalRedisCluster) -> None:
    assert on_cluster.settings.redis_cluster
    client = RedisCluster.from_url(redis_cluster.url)
    try:
        # Partitions, queues and indexes spread over the masters.
        nodes = {client.get_node_from_key(Keys.lease(p)).port for p in range(PARTITIONS)}
        assert len(nodes) == len(redis_cluster.ports)
    finally:
        client.close()


def test_the_reference_workflow_runs_on_python_pools(client: PodiumClient) -> None:
    child, parent = reference_workflows("bench_py")
    client.ok("PUT", "/metadata/workflow", json=[child, parent])
    ids = [client.start(parent["name"], {"i": i}) for i in range(30)]
    _check_reference(_finish(client, ids))


def test_the_reference_workflow_runs_on_external_workers(client: PodiumClient) -> None:
    child, parent = reference_workflows("cluster_ext")
    client.ok("POST", "/metadata/taskdefs", json=[{"name": "cluster_ext", "retryCount": 0}])
    client.ok("PUT", "/metadata/workflow", json=[child, parent])
    ids = [client.start(parent["name"], {"i": i}) for i in range(20)]
    workflows = _finish(client, ids, external="cluster_ext")
    _check_reference(workflows)
    found = client.ok("GET", "/workflow/search", params={"query": f"workflowType IN ({parent['name']})", "size": 100})
    assert found["totalHits"] == 20, "the search indexes, written after each turn, know every execution"


def test_partitions_move_on_a_cluster_and_every_turn_carries_its_writes_out(
    on_cluster: Runtime, client: PodiumClient, redis_cluster: LocalRedisCluster, tmp_path: Path
) -> None:
    with EmbeddedRedis(tmp_path / "counters") as counters:  # the workers' gate and run counters
        _move_partitions_under_load(client, counters.url)
    cluster_client = RedisCluster.from_url(redis_cluster.url)
    try:
        assert all(cluster_client.llen(Keys.outbox(p)) == 0 for p in range(PARTITIONS)), "every outbox drained"
    finally:
        cluster_client.close()


def _move_partitions_under_load(client: PodiumClient, counters_url: str) -> None:
    load = Load(counters_url, client)
    load.open_gate()
    load.start(20)
    client.ok("PUT", "/admin/shards", json={"shards": 3})
    load.start(20)
    eventually(
        lambda: client.ok("GET", "/admin/shards"),
        lambda view: len([s for s in view["shards"] if s.get("partitions")]) == 3 and not view["unowned"],
        "three shards serve",
        60,
    )
    client.ok("PUT", "/admin/shards", json={"shards": 2})
    load.start(20)
    workflows = load.finish()
    load.check_each_ran_once(workflows)
    assert load.runs() == [1] * len(load.ids)


async def _crash_between_slots(url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # Partitions the module's Podium (with its 16) never uses.
    store = Store(url, 64, cluster=True)
    leases = LeaseStore(store.redis, 64, cluster=True)
    [held] = await leases.acquire("podium-shard-crash", [40], now=1, lease_ms=10**12)
    task = {"taskId": "t-crash", "taskType": "crash_type", "workflowInstanceId": "wf-crash", "status": "SCHEDULED"}
    checkpoint = store.checkpoint()
    checkpoint.set_timer(40, Timer("wf-crash", "t-crash", "wait"), 10**13)  # in partition 40's slot
    checkpoint.enqueue(task, now=1)  # in the task type's slot
    checkpoint.post(41, "done:wf-crash", {})  # another partition's inbox

    async def dies(*_: object) -> None:
        raise ConnectionError("the shard died between the partition's write and the rest")

    with monkeypatch.context() as patched:
        patched.setattr(outbox, "apply", dies)
        with pytest.raises(ConnectionError):
            await checkpoint.commit({40: (token_of("podium-shard-crash", held.epoch), held.seq)})
    before = {
        "timer": await store.redis.zscore(Keys.timers(40), "wf-crash|t-crash|wait"),
        "queued": await store.redis.zcard(Keys.queue("crash_type")),
        "outbox": await store.redis.llen(Keys.outbox(40)),
    }
    replayed = await outbox.replay(store, [40])
    after = {
        "queued": await store.redis.zrange(Keys.queue("crash_type"), 0, -1),
        "message": await store.redis.hget(Keys.inbox(41), "done:wf-crash"),
        "outbox": await store.redis.llen(Keys.outbox(40)),
    }
    await store.close()
    return {"before": before, "replayed": replayed, "after": after}


def test_writes_left_in_the_outbox_by_a_crash_are_applied_by_the_next_owner(
    redis_cluster: LocalRedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = asyncio.run(_crash_between_slots(redis_cluster.url, monkeypatch))
    assert found["before"] == {"timer": 10**13, "queued": 0, "outbox": 1}, "the partition's part landed alone"
    assert found["replayed"] == 1
    assert found["after"] == {"queued": [b"t-crash"], "message": b"{}", "outbox": 0}
