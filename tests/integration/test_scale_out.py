"""Shards added, retired and paused while workflows run, on the session's Ray.

The load (tests/integration/load.py) runs a Python pool task that counts its own runs and
an external worker task, so both kinds of task cross every partition move.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from cluster.runtime import Runtime
from cluster.store import partition_of
from tests.integration.client import PodiumClient, eventually
from tests.integration.conftest import start_podium
from tests.integration.load import Load

PARTITIONS = 16


def _shards(client: PodiumClient) -> dict[str, Any]:
    return client.ok("GET", "/admin/shards")  # type: ignore[no-any-return]


def _serving(view: dict[str, Any]) -> dict[str, list[int]]:
    return {shard["name"]: shard["partitions"] for shard in view["shards"] if "partitions" in shard}


def _settled(count: int) -> Any:
    """Exactly `count` shards, each serving a share, every partition served once, none moving."""

    def check(view: dict[str, Any]) -> bool:
        serving = _serving(view)
        owned = sorted(p for partitions in serving.values() for p in partitions)
        return (
            len(serving) == count
            and all(serving.values())
            and owned == list(range(PARTITIONS))
            and not any(shard.get("leaving") for shard in view["shards"])
        )

    return check


@pytest.fixture(scope="module")
def podium_to_scale(ray_cluster: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    home = tmp_path_factory.mktemp("podium-scale")
    runtime = start_podium(home, "podium-scale", ["tests.integration.workers"], partitions=PARTITIONS, lease_ms=2000)
    yield runtime
    runtime.stop()


@pytest.fixture
def scaled(podium_to_scale: Runtime) -> Runtime:
    """The module's Podium, back at two shards that serve every partition."""
    with PodiumClient(podium_to_scale.api_url) as client:
        client.ok("PUT", "/admin/shards", json={"shards": 2})
        eventually(lambda: _shards(client), _settled(2), "two shards serve every partition", 60)
    return podium_to_scale


def test_shards_added_and_retired_while_workflows_run_lose_nothing_and_rerun_nothing(scaled: Runtime) -> None:
    with PodiumClient(scaled.api_url) as client:
        eventually(lambda: _shards(client), _settled(2), "two shards serve every partition")
        load = Load(scaled.redis_url, client)
        load.open_gate()
        load.start(30)

        client.ok("PUT", "/admin/shards", json={"shards": 4})
        load.start(30)  # while partitions move
        grown = eventually(lambda: _shards(client), _settled(4), "four shards serve every partition", 60)
        assert grown["wanted"]["shards"] == 4
        load.start(30)

        client.ok("PUT", "/admin/shards", json={"shards": 1})
        load.start(30)  # while three shards hand everything to one
        eventually(lambda: _shards(client), _settled(1), "one shard serves every partition", 60)
        load.start(30)
        workflows = load.finish()

    load.check_each_ran_once(workflows)
    # Every move was a clean hand-over: no Python task was dispatched a second time.
    assert load.runs() == [1] * len(load.ids)


def test_bad_scale_requests_are_refused_with_a_message(scaled: Runtime) -> None:
    with PodiumClient(scaled.api_url) as client:
        for body, fragment in [
            ({"shards": 0}, "shards"),
            ({"shards": "3"}, "shards"),
            ({"shards": 2, "shardsPerNode": 1}, "exactly one"),
            ({}, "exactly one"),
            ({"replicas": 2}, "replicas"),
        ]:
            response = client.request("PUT", "/admin/shards", json=body)
            assert response.status_code == 400, (body, response.text)
            assert fragment in response.json()["message"], (body, response.json())
        assert _shards(client)["wanted"]["shards"] == 2


def test_a_paused_shard_is_fenced_when_it_wakes_and_its_partitions_move_meanwhile(scaled: Runtime) -> None:
    with PodiumClient(scaled.api_url) as client:
        eventually(lambda: _shards(client), _settled(2), "two shards serve every partition")
        load = Load(scaled.redis_url, client)
        load.start(40)  # held at the gate, in flight on the pools
        victim = next(s for s in _shards(client)["shards"] if s["name"] == "podium-shard-1")
        victim_partitions = set(victim["partitions"])
        assert victim_partitions
        os.kill(victim["pid"], signal.SIGSTOP)
        try:
            # Its lease runs out; the other shard takes every partition over and recovers them.
            eventually(
                lambda: client.ok("GET", "/admin/shards")["shards"],
                lambda shards: any(
                    s.get("name") == "podium-shard-0" and len(s["partitions"]) == PARTITIONS for s in shards
                ),
                "the live shard serves every partition",
                60,
            )
            load.start(20)  # starts for the paused shard's partitions reach the new owner
            load.open_gate()
            workflows = load.finish()
        finally:
            os.kill(victim["pid"], signal.SIGCONT)
        # Awake again, the old owner applies what it had queued: every such write is refused,
        # then it rejoins and takes its share back through a clean hand-over.
        view = eventually(lambda: _shards(client), _settled(2), "both shards serve again", 60)
        woken = next(s for s in view["shards"] if s["name"] == "podium-shard-1")
        assert woken["pid"] == victim["pid"], "the same process, not a restart"
        assert woken["fencedTurns"] >= 1, "the paused shard tried to write and was refused"
        after = [client.workflow(workflow_id) for workflow_id in load.ids]

    load.check_each_ran_once(workflows)
    assert [w["tasks"] for w in after] == [w["tasks"] for w in workflows], "nothing changed after the wake-up"
    runs = load.runs()
    assert all(count in (1, 2) for count in runs), runs
    # Only tasks in flight on the paused shard's partitions may have run twice.
    twice = [item for item, count in enumerate(runs) if count == 2]
    assert all(item < 40 and partition_of(load.ids[item], PARTITIONS) in victim_partitions for item in twice), twice
