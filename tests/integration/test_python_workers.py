"""Python actor workers (tests/integration/workers.py) on Podium's Ray pools: fork/join, failures, retries."""

from __future__ import annotations

import time
import uuid
from typing import Any

import ray
import redis

from actors.pool import pool_actor_name
from cluster.runtime import Runtime
from cluster.store.keys import partition_of
from tests.integration.client import PodiumClient


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def tasks_by_reference(workflow: dict[str, Any], reference: str) -> list[dict[str, Any]]:
    return [task for task in workflow["tasks"] if task["referenceTaskName"] == reference]


def test_fork_join_branches_run_concurrently_on_different_pool_actors(podium: Runtime, client: PodiumClient) -> None:
    rendezvous_input = {"redisUrl": "${workflow.input.redisUrl}", "key": "${workflow.input.key}", "parties": 2}
    client.register(
        {
            "name": "py_fork_rendezvous",
            "tasks": [
                {
                    "name": "fork",
                    "taskReferenceName": "fork",
                    "type": "FORK_JOIN",
                    "forkTasks": [
                        [{"name": "py_rendezvous", "taskReferenceName": "left", "inputParameters": rendezvous_input}],
                        [{"name": "py_rendezvous", "taskReferenceName": "right", "inputParameters": rendezvous_input}],
                    ],
                },
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["left", "right"]},
                {
                    "name": "py_echo",
                    "taskReferenceName": "after",
                    "inputParameters": {"left": "${left.output.pid}", "right": "${right.output.pid}"},
                },
            ],
            "outputParameters": {
                "leftPid": "${left.output.pid}",
                "rightPid": "${right.output.pid}",
                "echoed": "${after.output.echo}",
            },
        }
    )
    key = unique("rendezvous")

    workflow = client.wait(client.start("py_fork_rendezvous", {"redisUrl": podium.redis_url, "key": key}))

    assert workflow["status"] == "COMPLETED", workflow.get("reasonForIncompletion")
    output = workflow["output"]
    # Both branches passed the barrier, so they ran at the same time, and on two pool actors.
    assert isinstance(output["leftPid"], int) and isinstance(output["rightPid"], int)
    assert output["leftPid"] != output["rightPid"]
    assert output["echoed"] == {"left": output["leftPid"], "right": output["rightPid"]}
    assert {t["referenceTaskName"]: t["status"] for t in workflow["tasks"]} == {
        "fork": "COMPLETED",
        "left": "COMPLETED",
        "right": "COMPLETED",
        "join": "COMPLETED",
        "after": "COMPLETED",
    }
    [join] = tasks_by_reference(workflow, "join")
    assert join["outputData"] == {"left": {"pid": output["leftPid"]}, "right": {"pid": output["rightPid"]}}


def test_terminal_error_fails_workflow_without_retry(client: PodiumClient) -> None:
    # Retries are allowed by the TaskDef, so only the TerminalError can explain a single attempt.
    client.register(
        {
            "name": "py_terminal",
            "tasks": [{"name": "py_terminal_failure", "taskReferenceName": "doomed", "inputParameters": {"x": 1}}],
        },
        [{"name": "py_terminal_failure", "retryCount": 2, "retryDelaySeconds": 0}],
    )

    workflow = client.wait(client.start("py_terminal"))

    assert workflow["status"] == "FAILED"
    assert "this input can never succeed" in workflow["reasonForIncompletion"]
    [task] = tasks_by_reference(workflow, "doomed")
    assert task["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert task["reasonForIncompletion"] == "this input can never succeed"
    assert task["retryCount"] == 0
    assert not task["retried"]
    assert workflow["failedReferenceTaskNames"] == ["doomed"]


def test_plain_exception_is_retried_per_task_def(podium: Runtime, client: PodiumClient) -> None:
    client.register(
        {
            "name": "py_retry_once",
            "tasks": [
                {
                    "name": "py_fail_first_attempt",
                    "taskReferenceName": "flaky",
                    "inputParameters": {"redisUrl": "${workflow.input.redisUrl}", "key": "${workflow.input.key}"},
                }
            ],
            "outputParameters": {"attempt": "${flaky.output.attempt}"},
        },
        [{"name": "py_fail_first_attempt", "retryCount": 1, "retryDelaySeconds": 0}],
    )
    key = unique("attempts")

    workflow = client.wait(client.start("py_retry_once", {"redisUrl": podium.redis_url, "key": key}))

    assert workflow["status"] == "COMPLETED", workflow.get("reasonForIncompletion")
    assert workflow["output"] == {"attempt": 2}
    first, second = tasks_by_reference(workflow, "flaky")
    assert first["status"] == "FAILED"
    assert first["reasonForIncompletion"] == "RuntimeError: attempt 1 fails on purpose"
    assert first["retryCount"] == 0
    assert first["retried"] is True
    assert second["status"] == "COMPLETED"
    assert second["retryCount"] == 1
    assert second["retriedTaskId"] == first["taskId"]
    assert second["taskId"] != first["taskId"]
    assert second["inputData"] == first["inputData"]
    assert second["outputData"] == {"attempt": 2, "retryCountSeen": 1}
    assert len(workflow["tasks"]) == 2


def test_plain_exception_without_retries_fails_workflow(podium: Runtime, client: PodiumClient) -> None:
    # Same worker, but the workflow task overrides the TaskDef's retryCount with 0.
    client.register(
        {
            "name": "py_no_retry",
            "tasks": [
                {
                    "name": "py_fail_first_attempt",
                    "taskReferenceName": "flaky",
                    "retryCount": 0,
                    "inputParameters": {"redisUrl": "${workflow.input.redisUrl}", "key": "${workflow.input.key}"},
                }
            ],
        },
        [{"name": "py_fail_first_attempt", "retryCount": 1, "retryDelaySeconds": 0}],
    )

    workflow = client.wait(client.start("py_no_retry", {"redisUrl": podium.redis_url, "key": unique("attempts")}))

    assert workflow["status"] == "FAILED"
    assert "RuntimeError: attempt 1 fails on purpose" in workflow["reasonForIncompletion"]
    [task] = tasks_by_reference(workflow, "flaky")
    assert task["status"] == "FAILED"


def test_a_retry_delay_holds_a_pool_task_back_then_dispatches_it(podium: Runtime, client: PodiumClient) -> None:
    """The delay is a durable timer; when it fires the shard hands the retry to the pool."""
    client.register(
        {
            "name": "py_retry_after_delay",
            "tasks": [
                {
                    "name": "py_fail_first_attempt",
                    "taskReferenceName": "flaky",
                    "inputParameters": {"redisUrl": "${workflow.input.redisUrl}", "key": "${workflow.input.key}"},
                    "taskDefinition": {"name": "py_fail_first_attempt", "retryCount": 1, "retryDelaySeconds": 1},
                }
            ],
        }
    )
    workflow = client.wait(client.start("py_retry_after_delay", {"redisUrl": podium.redis_url, "key": unique("k")}))

    assert workflow["status"] == "COMPLETED", workflow.get("reasonForIncompletion")
    first, second = tasks_by_reference(workflow, "flaky")
    assert (first["status"], second["status"]) == ("FAILED", "COMPLETED")
    # The retry did not run before its delay was up.
    assert second["endTime"] - first["endTime"] >= 1000


def test_a_killed_pool_actor_runs_its_task_again_without_spending_a_retry(
    podium: Runtime, client: PodiumClient
) -> None:
    """A crash is not a failure of the task: the task goes again to the actor Ray restarted,
    with its retry budget (here none) untouched."""
    gate = unique("gate")
    client.register(
        {
            "name": "py_pool_actor_killed",
            "tasks": [
                {
                    "name": "py_gate_marked",
                    "taskReferenceName": "gated",
                    "inputParameters": {"redisUrl": "${workflow.input.redisUrl}", "gate": "${workflow.input.gate}"},
                    "taskDefinition": {"name": "py_gate_marked", "retryCount": 0},
                }
            ],
        }
    )
    workflow_id = client.start("py_pool_actor_killed", {"redisUrl": podium.redis_url, "gate": gate})
    redis_client = redis.Redis.from_url(podium.redis_url)
    try:
        deadline = time.monotonic() + 60
        while not redis_client.exists(f"{gate}:entered"):
            assert time.monotonic() < deadline, "the task never started on its pool"
            time.sleep(0.02)
        name = pool_actor_name("py_gate_marked", 0)
        pool = ray.get_actor(name, namespace=podium.settings.namespace)
        worker_id = ray.get(pool.ping.remote())  # "<host>-<pid>-<actor name>"
        killed_pid = worker_id[: -len(name) - 1].rsplit("-", 1)[1]
        ray.kill(pool, no_restart=False)
        # ray.kill returns before the process is gone: open the gate only once Ray
        # answers from the restarted actor, or the task could finish on the old one.
        while True:
            assert time.monotonic() < deadline, "the pool actor did not restart"
            try:
                if ray.get(pool.ping.remote(), timeout=30) != worker_id:
                    break
            except ray.exceptions.RayActorError:
                pass
            time.sleep(0.02)
        redis_client.set(gate, 1)
        workflow = client.wait(workflow_id)
        entered = int(redis_client.get(f"{gate}:entered") or 0)
    finally:
        redis_client.close()

    assert workflow["status"] == "COMPLETED", workflow.get("reasonForIncompletion")
    [only] = tasks_by_reference(workflow, "gated")
    assert (only["status"], only["retryCount"]) == ("COMPLETED", 0)
    assert str(only["outputData"]["pid"]) != killed_pid, "it ran again on the restarted actor"
    assert entered == 2, "the killed run and the run that finished"


def test_a_colocated_worker_runs_in_the_shard_that_owns_the_workflow(client: PodiumClient) -> None:
    client.register(
        {
            "name": "py_here_chain",
            "tasks": [
                {"name": "py_here", "taskReferenceName": "first", "inputParameters": {"n": 1}},
                {"name": "py_here", "taskReferenceName": "second", "inputParameters": {"n": "${first.output.n}"}},
            ],
            "outputParameters": {"n": "${second.output.n}", "pid": "${second.output.pid}"},
        }
    )

    workflow = client.wait(client.start("py_here_chain"))

    assert workflow["status"] == "COMPLETED", workflow.get("reasonForIncompletion")
    assert workflow["output"]["n"] == 3
    # A colocated worker's id is <host>-<pid>-<shard>, a pool actor's <host>-<pid>-podium-pool-...
    worker_ids = [task["workerId"] for task in workflow["tasks"]]
    assert all("-podium-shard-" in worker_id for worker_id in worker_ids), worker_ids
    ran_in = {worker_id[worker_id.index("podium-shard-") :] for worker_id in worker_ids}
    assert len(ran_in) == 1, "both tasks ran in one shard"
    [shard_name] = ran_in
    view = client.ok("GET", "/admin/shards")
    [shard] = [shard for shard in view["shards"] if shard["name"] == shard_name]
    assert partition_of(workflow["workflowId"], view["partitions"]) in shard["partitions"], "the workflow's owner"
    assert workflow["output"]["pid"] == shard["pid"], "in the shard's own process"


def test_a_colocated_worker_whose_output_is_not_json_fails_that_task_for_good(client: PodiumClient) -> None:
    client.register({"name": "py_here_bad_output", "tasks": [{"name": "py_here_not_json", "taskReferenceName": "bad"}]})

    workflow = client.wait(client.start("py_here_bad_output"))

    assert workflow["status"] == "FAILED"
    [task] = tasks_by_reference(workflow, "bad")
    assert task["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert "not JSON" in task["reasonForIncompletion"]
