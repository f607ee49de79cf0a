"""Crashes: a shard killed with SIGKILL, and the whole system stopped and started again."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest
import ray
import redis

from tests.integration.client import PodiumClient
from tests.integration.conftest import start_podium


def _gated_workflow(name: str) -> dict[str, object]:
    return {
        "name": name,
        "tasks": [
            {
                "name": "py_gate",
                "taskReferenceName": "gated",
                "inputParameters": {
                    "redisUrl": "${workflow.input.redisUrl}",
                    "gate": "${workflow.input.gate}",
                    "item": "${workflow.input.item}",
                },
            },
            {
                "name": f"{name}_after",
                "taskReferenceName": "after",
                "inputParameters": {"item": "${gated.output.item}"},
            },
        ],
        "outputParameters": {"item": "${after.output.item}"},
    }


def test_sigkilled_shard_loses_no_workflow_and_finishes_none_twice(ray_cluster: None, tmp_path: Path) -> None:
    runtime = start_podium(tmp_path / "podium", "podium-crash")
    try:
        name = f"crash_{uuid.uuid4().hex[:8]}"
        gate = f"gate:{name}"
        with PodiumClient(runtime.api_url) as client:
            client.register(_gated_workflow(name), [{"name": f"{name}_after", "retryCount": 0}])
            ids = [client.start(name, {"redisUrl": runtime.redis_url, "gate": gate, "item": i}) for i in range(100)]
            running = client.ok("GET", f"/workflow/running/{name}")
            assert sorted(running) == sorted(ids)

            victim = ray.get(runtime.shards[0].stats.remote())
            assert victim["activeExecutions"] > 0, "the shard to kill must host running workflows"
            os.kill(victim["pid"], signal.SIGKILL)
            redis.Redis.from_url(runtime.redis_url).set(gate, 1)

            finished = {}
            for workflow_id in ids:
                finished[workflow_id] = client.run_workers([f"{name}_after"], workflow_id, {"done": True}, timeout=120)
            restarted = ray.get(runtime.shards[0].stats.remote())
            assert restarted["pid"] != victim["pid"], "Ray restarted the shard in a new process"

        for index, workflow_id in enumerate(ids):
            workflow = finished[workflow_id]
            assert workflow["status"] == "COMPLETED", workflow.get("reasonForIncompletion")
            references = [t["referenceTaskName"] for t in workflow["tasks"]]
            # Recovery hands waiting tasks to workers again; it never creates a second execution.
            assert references == ["gated", "after"], references
            assert workflow["tasks"][0]["outputData"] == {"item": index}
    finally:
        runtime.stop()


def test_stopped_system_resumes_running_workflows_after_restart(ray_cluster: None, tmp_path: Path) -> None:
    home = tmp_path / "podium"
    name = f"restart_{uuid.uuid4().hex[:8]}"
    definition = {
        "name": name,
        "tasks": [
            {"name": f"{name}_first", "taskReferenceName": "first", "inputParameters": {"n": "${workflow.input.n}"}},
            {"name": f"{name}_second", "taskReferenceName": "second", "inputParameters": {"n": "${first.output.n}"}},
        ],
        "outputParameters": {"n": "${second.output.n}"},
    }
    runtime = start_podium(home, "podium-restart", workers=[])
    try:
        with PodiumClient(runtime.api_url) as client:
            client.register(definition, [{"name": f"{name}_first", "retryCount": 0},
                                         {"name": f"{name}_second", "retryCount": 0}])
            ids = [client.start(name, {"n": i}) for i in range(20)]
            # Half of them move on to their second task before the stop.
            for task in client.poll(f"{name}_first", count=10):
                client.complete(task, {"n": task["inputData"]["n"] * 10})
    finally:
        runtime.stop()

    runtime = start_podium(home, "podium-restart", workers=[])
    try:
        with PodiumClient(runtime.api_url) as client:
            assert sorted(client.ok("GET", f"/workflow/running/{name}")) == sorted(ids)
            assert all(client.workflow(workflow_id)["status"] == "RUNNING" for workflow_id in ids)
            completed = [
                client.run_workers([f"{name}_first", f"{name}_second"], workflow_id, {"n": -1}) for workflow_id in ids
            ]
        assert [w["status"] for w in completed] == ["COMPLETED"] * 20
        moved_before_stop = 0
        for workflow in completed:
            first, second = workflow["tasks"]
            assert (first["referenceTaskName"], second["referenceTaskName"]) == ("first", "second")
            assert second["inputData"]["n"] == first["outputData"]["n"]
            if first["outputData"]["n"] != -1:
                assert first["outputData"]["n"] == workflow["input"]["n"] * 10
                moved_before_stop += 1
        assert moved_before_stop == 10
    finally:
        runtime.stop()


def test_a_restart_with_another_partition_count_is_refused(ray_cluster: None, tmp_path: Path) -> None:
    """Ids hash to partitions: another count would strand every stored execution."""
    home = tmp_path / "podium"
    start_podium(home, "podium-partitions", workers=[]).stop()
    with pytest.raises(ValueError, match="PODIUM_PARTITIONS=4, but this Redis holds data written with 8 partitions"):
        start_podium(home, "podium-partitions", workers=[], partitions=4)
