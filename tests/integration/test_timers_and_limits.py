"""Retries, timeouts, failure workflows and queue limits in real time, with short durations.

Delays are checked as lower bounds the engine must respect (a retry is never handed out
early), never as upper bounds on speed.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import redis

from cluster.runtime import Runtime
from tests.integration.client import PodiumClient, eventually


def _one_task_workflow(name: str, task_type: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "tasks": [{"name": task_type, "taskReferenceName": "only", "type": "SIMPLE"}], **extra}


def test_exponential_backoff_retries_twice_then_completes_after_the_expected_delays(client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:8]
    task_type, name = f"backoff_{uid}", f"backoff_wf_{uid}"
    client.register(
        _one_task_workflow(name, task_type),
        [{"name": task_type, "retryCount": 2, "retryLogic": "EXPONENTIAL_BACKOFF", "retryDelaySeconds": 1}],
    )
    workflow_id = client.start(name)
    failed_at = []
    for _ in range(2):
        task = client.take(task_type)
        client.complete(task, status="FAILED")
        failed_at.append(int(time.time() * 1000))
        # Not handed out before its delay has passed.
        assert client.poll(task_type, count=1, timeout=0) == []
    last = client.take(task_type)
    polled_at = int(time.time() * 1000)
    client.complete(last, {"done": True})

    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    first, second, third = workflow["tasks"]
    assert [t["status"] for t in workflow["tasks"]] == ["FAILED", "FAILED", "COMPLETED"]
    assert [t["retryCount"] for t in workflow["tasks"]] == [0, 1, 2]
    assert second["retriedTaskId"] == first["taskId"] and third["retriedTaskId"] == second["taskId"]
    # EXPONENTIAL_BACKOFF: retryDelaySeconds * 2^(attempt-1) = 1 s, then 2 s.
    assert [second["startDelayInSeconds"], third["startDelayInSeconds"]] == [1, 2]
    assert second["startTime"] - first["endTime"] >= 1000
    assert third["startTime"] - second["endTime"] >= 2000
    assert polled_at - failed_at[1] >= 2000


def test_a_silent_worker_gets_its_task_requeued_by_the_response_timeout(client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:8]
    task_type, name = f"silent_{uid}", f"silent_wf_{uid}"
    client.register(
        _one_task_workflow(name, task_type),
        [{"name": task_type, "retryCount": 1, "retryDelaySeconds": 0, "responseTimeoutSeconds": 1}],
    )
    workflow_id = client.start(name)
    abandoned = client.take(task_type)  # and never reported on

    again = client.take(task_type)
    assert again["taskId"] != abandoned["taskId"]
    assert again["retriedTaskId"] == abandoned["taskId"]
    assert again["retryCount"] == 1
    client.complete(again, {"ok": True})

    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    timed_out = workflow["tasks"][0]
    assert timed_out["status"] == "TIMED_OUT"
    assert timed_out["reasonForIncompletion"].startswith("responseTimeout: 1 exceeded for the taskId")
    # The late report of the abandoned attempt changes nothing.
    client.complete(abandoned, {"late": True})
    assert client.workflow(workflow_id)["tasks"][0]["status"] == "TIMED_OUT"


def test_an_in_progress_update_extends_the_response_window(client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:8]
    task_type, name = f"heartbeat_{uid}", f"heartbeat_wf_{uid}"
    client.register(
        _one_task_workflow(name, task_type), [{"name": task_type, "retryCount": 0, "responseTimeoutSeconds": 1}]
    )
    workflow_id = client.start(name)
    task = client.take(task_type)
    # Three heartbeats spaced under the window keep the task alive past three windows.
    for _ in range(3):
        client.complete(task, {"beat": True}, status="IN_PROGRESS")
        time.sleep(0.6)
        assert client.workflow(workflow_id)["tasks"][0]["status"] == "IN_PROGRESS"
    client.complete(task, {"done": True})
    assert client.wait(workflow_id)["status"] == "COMPLETED"


def test_a_poll_timeout_with_time_out_wf_times_the_workflow_out(client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:8]
    task_type, name = f"unpolled_{uid}", f"unpolled_wf_{uid}"
    client.register(
        _one_task_workflow(name, task_type),
        [{"name": task_type, "retryCount": 3, "pollTimeoutSeconds": 1, "timeoutPolicy": "TIME_OUT_WF"}],
    )
    workflow_id = client.start(name)  # and no worker ever polls
    workflow = client.wait(workflow_id)
    assert workflow["status"] == "TIMED_OUT"
    [task] = workflow["tasks"]  # no retry under TIME_OUT_WF, whatever retryCount says
    assert task["status"] == "TIMED_OUT"
    assert task["reasonForIncompletion"].startswith("Task poll timed out after")
    assert workflow["reasonForIncompletion"] == task["reasonForIncompletion"]
    # The timed-out task left its queue.
    assert client.poll(task_type, count=1, timeout=0) == []


def test_a_failing_workflow_starts_its_failure_workflow(client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:8]
    task_type, name, failure_name = f"doomed_{uid}", f"doomed_wf_{uid}", f"cleanup_wf_{uid}"
    client.register(
        {
            "name": failure_name,
            "tasks": [{"name": "noop", "taskReferenceName": "noop", "type": "NOOP"}],
            "outputParameters": {"failed": "${workflow.input.workflowId}", "why": "${workflow.input.reason}"},
        }
    )
    client.register(
        _one_task_workflow(name, task_type, failureWorkflow=failure_name), [{"name": task_type, "retryCount": 0}]
    )
    workflow_id = client.start(name, {"order": 7}, correlationId=f"corr-{uid}")
    client.complete(client.take(task_type), status="FAILED")

    failed = client.wait(workflow_id)
    assert failed["status"] == "FAILED"
    failure_id = failed["output"]["conductor.failure_workflow"]
    failure = client.wait(failure_id)
    assert failure["status"] == "COMPLETED"
    assert failure["workflowName"] == failure_name
    assert failure["correlationId"] == f"corr-{uid}"
    assert failure["input"]["failureStatus"] == "FAILED"
    assert failure["input"]["failureTaskId"] == failed["tasks"][0]["taskId"]
    assert failure["input"]["failedWorkflow"]["input"] == {"order": 7}
    assert failure["output"] == {"failed": workflow_id, "why": failed["reasonForIncompletion"]}


def test_concurrent_exec_limit_hands_out_one_task_at_a_time(client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:8]
    task_type, name = f"single_{uid}", f"single_wf_{uid}"
    client.register(_one_task_workflow(name, task_type), [{"name": task_type, "concurrentExecLimit": 1}])
    ids = [client.start(name) for _ in range(3)]
    eventually(lambda: client.workflow(ids[-1]), lambda w: len(w["tasks"]) == 1, "the last one's task scheduled")

    for _ in range(3):
        [task] = client.poll(task_type, count=10)
        assert client.poll(task_type, count=10) == []  # the one slot is taken
        client.complete(task)
    assert [client.wait(i)["status"] for i in ids] == ["COMPLETED"] * 3


def test_rate_limit_per_frequency_caps_hand_outs_per_window(client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:8]
    task_type, name = f"rated_{uid}", f"rated_wf_{uid}"
    client.register(
        _one_task_workflow(name, task_type),
        [{"name": task_type, "rateLimitPerFrequency": 2, "rateLimitFrequencyInSeconds": 60}],
    )
    ids = [client.start(name) for _ in range(5)]
    eventually(lambda: client.workflow(ids[-1]), lambda w: len(w["tasks"]) == 1, "the last one's task scheduled")

    handed_out = client.poll(task_type, count=10)
    assert len(handed_out) == 2
    for task in handed_out:
        client.complete(task)
    # Completing them frees no rate: the window still counts both hand-outs.
    assert client.poll(task_type, count=10) == []


def test_python_pool_tasks_respect_the_concurrency_limit(client: PodiumClient, podium: Runtime) -> None:
    uid = uuid.uuid4().hex[:8]
    name, key = f"limited_wf_{uid}", f"limited:{uid}"
    client.register(
        {
            "name": name,
            "tasks": [
                {
                    "name": "py_limited",
                    "taskReferenceName": "limited",
                    "inputParameters": {"redisUrl": podium.redis_url, "key": key},
                }
            ],
        },
        [{"name": "py_limited", "concurrentExecLimit": 1, "retryCount": 0}],
    )
    ids = [client.start(name) for _ in range(4)]
    assert [client.wait(i)["status"] for i in ids] == ["COMPLETED"] * 4
    observed = redis.Redis.from_url(podium.redis_url)
    try:
        assert int(observed.get(f"{key}:done") or 0) == 4
        assert int(observed.get(f"{key}:max") or 0) == 1
    finally:
        observed.close()
