"""Podium on a real multi-node Ray cluster: a node joins under load and gets shards and
partitions; its raylet is killed and its partitions come back to the survivors.

`podium up` runs as an operator would run it, in its own process joined to a cluster
made with `ray start` (token authentication on); this test talks to it over HTTP only.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cluster.redis_server import EmbeddedRedis, free_port
from cluster.store import partition_of
from tests.integration.client import PodiumClient, eventually
from tests.integration.load import Load
from tests.integration.multinode import REPO_ROOT, MultiNodeRay

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fixture reads /proc")

PARTITIONS = 32
SHARDS_PER_NODE = 2


class PodiumUp:
    """`podium up` in a process of its own, joined to the multi-node cluster."""

    def __init__(self, cluster: MultiNodeRay, redis_url: str, home: Path) -> None:
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        env = cluster.driver_env(
            {
                "REDIS_URL": redis_url,
                "PODIUM_HOME": str(home),
                "PODIUM_PORT": str(self.port),
                "PODIUM_PARTITIONS": str(PARTITIONS),
                "PODIUM_SHARDS_PER_NODE": str(SHARDS_PER_NODE),
                "PODIUM_LEASE_MS": "3000",
                "PODIUM_NAMESPACE": "podium-multinode",
            }
        )
        # An operator hands `podium up` the cluster's token; it knows to use it.
        env.pop("RAY_AUTH_MODE", None)
        assert env["RAY_AUTH_TOKEN"]
        self.log = home / "podium-up.log"
        home.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cluster.cli", "up", "--workers", "tests.integration.workers", "--no-dashboard"],
                env=env,
                cwd=str(REPO_ROOT),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_up(self, timeout: float = 120.0) -> None:
        def reachable() -> bool:
            assert self.process.poll() is None, f"podium up exited:\n{self.log.read_text()[-4000:]}"
            try:
                return requests.get(f"{self.api_url}/health", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        eventually(lambda: reachable(), bool, "podium up answers", timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[MultiNodeRay]:
    with MultiNodeRay(tmp_path) as started:
        yield started


def _view(client: PodiumClient) -> dict[str, Any]:
    return client.ok("GET", "/admin/shards")  # type: ignore[no-any-return]


def _shards_by_node(view: dict[str, Any]) -> dict[str, list[str]]:
    by_node: dict[str, list[str]] = {}
    for shard in view["shards"]:
        if "partitions" in shard:
            by_node.setdefault(shard["node"], []).append(shard["name"])
    return by_node


def _settled_on(nodes: set[str]) -> Any:
    """SHARDS_PER_NODE shards on each of `nodes`, none elsewhere, each serving a share of
    the partitions, every partition served once and none moving."""

    def check(view: dict[str, Any]) -> bool:
        live = [s for s in view["shards"] if "partitions" in s]
        owned = sorted(p for s in live for p in s["partitions"])
        by_node = _shards_by_node(view)
        return (
            set(by_node) == nodes
            and all(len(names) == SHARDS_PER_NODE for names in by_node.values())
            and all(s["partitions"] for s in live)
            and owned == list(range(PARTITIONS))
            and not any(s.get("leaving") for s in live)
        )

    return check


def test_a_node_that_joins_gets_shards_and_a_killed_node_gives_its_partitions_back(
    cluster: MultiNodeRay, tmp_path: Path
) -> None:
    assert cluster.head is not None
    with EmbeddedRedis(tmp_path / "redis") as redis_server:
        podium = PodiumUp(cluster, redis_server.url, tmp_path / "podium")
        try:
            podium.wait_up()
            with PodiumClient(podium.api_url) as client:
                head = {cluster.head.node_id}
                eventually(lambda: _view(client), _settled_on(head), "shards on the head node", 60)
                load = Load(redis_server.url, client)
                load.open_gate()
                load.start(20)

                joined = cluster.add_node("w1")
                load.start(20)  # while the new node's shards take their partitions
                both = head | {joined.node_id}
                spread = eventually(
                    lambda: (load.work_external_tasks(), _view(client))[1],
                    _settled_on(both),
                    "shards on both nodes, partitions spread",
                    90,
                )
                on_joined = [s for s in spread["shards"] if s["node"] == joined.node_id]
                moved_there = {p for s in on_joined for p in s["partitions"]}
                assert moved_there, "the joining node's shards own partitions"
                load.start(20)

                in_flight = load.unfinished()
                killed_at = time.monotonic()
                cluster.kill_raylet(joined)
                load.start(20)  # the API keeps answering on the same port
                eventually(
                    lambda: (load.work_external_tasks(), _view(client))[1],
                    _settled_on(head),
                    "the survivors serve every partition again",
                    120,
                )
                recovered_after = time.monotonic() - killed_at
                load.start(20)
                workflows = load.finish(timeout=120)
        finally:
            podium.stop()
        runs = load.runs()

    load.check_each_ran_once(workflows)
    assert all(count in (1, 2) for count in runs), runs
    # Only a task in flight in a partition of the lost node may have run a second time.
    twice = [item for item, count in enumerate(runs) if count == 2]
    for item in twice:
        assert item in in_flight and partition_of(load.ids[item], PARTITIONS) in moved_there, item
    assert recovered_after < 120
