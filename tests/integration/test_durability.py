"""Crashes: a shard killed with SIGKILL, and the whole system stopped and started again."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest
import ray
import redis

from tests.integration.client import PodiumClient
from tests.integration.conftest import start_podium
from tests.integration.load import gated_workflow


def test_sigkilled_shard_loses_no_workflow_and_finishes_none_twice(ray_cluster: None, tmp_path: Path) -> None:
    runtime = start_podium(tmp_path / "podium", "podium-crash")
    try:
        name = f"crash_{uuid.uuid4().hex[:8]}"
        gate = f"gate:{name}"
        with PodiumClient(runtime.api_url) as client:
            client.register(gated_workflow(name), [{"name": f"{name}_after", "retryCount": 0}])
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


def test_a_restart_with_another_partition_count_is_refused_and_an_unset_one_adopts_it(
    ray_cluster: None, tmp_path: Path
) -> None:
    """Ids hash to partitions: another count would strand every stored execution."""
    home = tmp_path / "podium"
    start_podium(home, "podium-partitions", workers=[]).stop()
    with pytest.raises(ValueError, match="PODIUM_PARTITIONS=4, but this Redis holds data written with 8 partitions"):
        start_podium(home, "podium-partitions", workers=[], partitions=4)
    adopted = start_podium(home, "podium-partitions", workers=[], partitions=0)
    try:
        assert adopted.settings.partitions == 8
        assert ray.get(adopted.shards[0].stats.remote())["partitions"], "its shards serve the stored partitions"
    finally:
        adopted.stop()


def test_timers_pending_while_the_system_is_stopped_fire_once_after_it_restarts(
    ray_cluster: None, tmp_path: Path
) -> None:
    """Issue 3's durability check: 200 workflows, each waiting on a 5 s WAIT or a 5 s retry
    delay, survive a full stop of 10 s; every one finishes and every timer fired once."""
    home = tmp_path / "podium"
    uid = uuid.uuid4().hex[:8]
    waiting, retrying = f"timer_wait_{uid}", f"timer_retry_{uid}"
    # The workers reach Redis through a URL in the workflow input: keep it valid across the restart.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        redis_port = probe.getsockname()[1]
    runtime = start_podium(home, "podium-timers", redis_port=redis_port)
    redis_url = runtime.redis_url
    try:
        with PodiumClient(runtime.api_url) as client:
            client.register(
                {"name": waiting, "tasks": [
                    {"name": "wait", "taskReferenceName": "wait", "type": "WAIT", "inputParameters": {"duration": "5s"}}
                ]}
            )
            client.register(
                {"name": retrying, "tasks": [
                    {"name": "py_fail_first_attempt", "taskReferenceName": "flaky",
                     "inputParameters": {"redisUrl": redis_url, "key": "${workflow.input.key}"}}
                ]},
                [{"name": "py_fail_first_attempt", "retryCount": 1, "retryDelaySeconds": 5}],
            )
            wait_ids = [client.start(waiting) for _ in range(100)]
            retry_ids = [client.start(retrying, {"key": f"{uid}:runs:{i}"}) for i in range(100)]
            # Stop only once every workflow waits on its timer: the WAIT started, the first
            # attempt failed and its retry is scheduled for 5 s later.
            for workflow_id in wait_ids:
                client.wait(workflow_id, {"RUNNING"})
            deadline = time.monotonic() + 60
            for workflow_id in retry_ids:
                while len(client.workflow(workflow_id)["tasks"]) < 2:
                    assert time.monotonic() < deadline, f"{workflow_id} never failed its first attempt"
                    time.sleep(0.05)
    finally:
        runtime.stop()
    stopped_at = time.monotonic()

    # The system stays down for 10 s: every timer falls due while nothing runs.
    time.sleep(max(0.0, stopped_at + 10 - time.monotonic()))
    runtime = start_podium(home, "podium-timers", redis_port=redis_port)
    try:
        with PodiumClient(runtime.api_url) as client:
            waited = [client.wait(workflow_id) for workflow_id in wait_ids]
            retried = [client.wait(workflow_id) for workflow_id in retry_ids]
        failures = [(w["workflowId"], w.get("reasonForIncompletion")) for w in waited + retried
                    if w["status"] != "COMPLETED"]
        assert failures == []
        assert all([t["status"] for t in w["tasks"]] == ["COMPLETED"] for w in waited)
        assert all([t["status"] for t in w["tasks"]] == ["FAILED", "COMPLETED"] for w in retried)
        counts = redis.Redis.from_url(runtime.redis_url)
        try:
            # The retry ran exactly once per workflow: two executions, the failure and the retry.
            runs = counts.mget([f"{uid}:runs:{i}" for i in range(100)])
            assert [int(r or 0) for r in runs] == [2] * 100
            # And no timer is left behind to fire a second time.
            timer_keys = list(counts.scan_iter(match="podium:{p*}:timers"))
            assert sum(counts.zcard(key) for key in timer_keys) == 0
        finally:
            counts.close()
    finally:
        runtime.stop()
