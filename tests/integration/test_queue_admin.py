"""Queue administration: every queue with its size, poll data, and requeueing delayed tasks."""

from __future__ import annotations

import uuid

from tests.integration.client import PodiumClient


def _one_task(name: str, task_type: str) -> dict[str, object]:
    return {"name": name, "tasks": [{"name": task_type, "taskReferenceName": "only", "type": "SIMPLE"}]}


def test_all_queues_list_each_queue_with_its_size_and_domain(client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:8]
    task_type, name = f"qadmin_{uid}", f"qadmin_wf_{uid}"
    client.register(_one_task(name, task_type))
    plain = [client.start(name) for _ in range(2)]
    in_domain = client.start(name, taskToDomain={task_type: f"blue{uid}"})
    for workflow_id in [*plain, in_domain]:
        client.wait(workflow_id, {"RUNNING"})

    queues = client.ok("GET", "/tasks/queue/all")
    assert queues[task_type] == 2
    assert queues[f"blue{uid}:{task_type}"] == 1
    verbose = client.ok("GET", "/tasks/queue/all/verbose")
    assert verbose[task_type] == {"a": {"size": 2, "uacked": 0}}


def test_poll_data_records_each_worker_and_domain(client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:8]
    task_type = f"polled_{uid}"
    client.poll(task_type, workerid="w1")
    client.poll(task_type, workerid="w2", domain="green")

    entries = client.ok("GET", "/tasks/queue/polldata", params={"taskType": task_type})
    assert sorted((e["workerId"], e["domain"]) for e in entries) == [("w1", None), ("w2", "green")]
    assert all(e["queueName"] == task_type and e["lastPollTime"] > 0 for e in entries)
    everything = client.ok("GET", "/tasks/queue/polldata/all")
    assert {e["workerId"] for e in everything if e["queueName"] == task_type} == {"w1", "w2"}
    missing = client.request("GET", "/tasks/queue/polldata")
    assert missing.status_code == 400 and "taskType" in missing.json()["message"]


def test_requeue_hands_out_a_task_waiting_out_its_retry_delay_now(client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:8]
    task_type, name = f"requeued_{uid}", f"requeued_wf_{uid}"
    client.register(_one_task(name, task_type), [{"name": task_type, "retryCount": 1, "retryDelaySeconds": 3600}])
    workflow_id = client.start(name)
    [task] = client.poll(task_type)
    client.complete(task, status="FAILED")
    assert client.poll(task_type, timeout=0) == []  # an hour to go

    assert client.ok("POST", f"/tasks/queue/requeue/{task_type}") == "1"
    [retry] = client.poll(task_type)
    assert retry["retriedTaskId"] == task["taskId"]
    client.complete(retry)
    assert client.wait(workflow_id)["status"] == "COMPLETED"
