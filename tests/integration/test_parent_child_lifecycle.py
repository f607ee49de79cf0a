"""Parents and children stay consistent through retries: a retried child reopens its
parent, and a parent retried with resumeSubworkflowTasks retries its child in place."""

from __future__ import annotations

import uuid

from tests.integration.client import PodiumClient


def _parent_and_child(client: PodiumClient) -> tuple[str, str]:
    uid = uuid.uuid4().hex[:8]
    task_type, child, parent = f"inner_{uid}", f"child_{uid}", f"parent_{uid}"
    client.register(
        {"name": child, "tasks": [{"name": task_type, "taskReferenceName": "inner", "type": "SIMPLE"}]},
        [{"name": task_type, "retryCount": 0}],
    )
    client.register(
        {
            "name": parent,
            "tasks": [
                {
                    "name": "sub",
                    "taskReferenceName": "sub",
                    "type": "SUB_WORKFLOW",
                    "subWorkflowParam": {"name": child, "version": 1},
                }
            ],
        }
    )
    return parent, task_type




def _failed_pair(client: PodiumClient) -> tuple[str, str, str]:
    parent_name, task_type = _parent_and_child(client)
    parent_id = client.start(parent_name)
    client.complete(client.take(task_type), status="FAILED")
    parent = client.wait(parent_id)
    assert parent["status"] == "FAILED"
    child_id = parent["tasks"][0]["subWorkflowId"]
    assert client.wait(child_id)["status"] == "FAILED"
    return parent_id, child_id, task_type


def test_retrying_a_failed_child_moves_its_parent_back_to_running(client: PodiumClient) -> None:
    parent_id, child_id, task_type = _failed_pair(client)

    client.ok("POST", f"/workflow/{child_id}/retry")
    client.wait(parent_id, {"RUNNING"})
    assert client.workflow(parent_id)["tasks"][0]["status"] == "IN_PROGRESS"

    client.complete(client.take(task_type), {"second": "time"})
    assert client.wait(child_id)["status"] == "COMPLETED"
    parent = client.wait(parent_id, {"COMPLETED"})
    [sub] = parent["tasks"]
    assert sub["subWorkflowId"] == child_id
    assert sub["outputData"]["second"] == "time"


def test_retry_with_resume_subworkflow_tasks_retries_the_child_in_place(client: PodiumClient) -> None:
    parent_id, child_id, task_type = _failed_pair(client)

    client.ok("POST", f"/workflow/{parent_id}/retry", params={"resumeSubworkflowTasks": "true"})
    client.wait(child_id, {"RUNNING"})
    client.complete(client.take(task_type))

    parent = client.wait(parent_id, {"COMPLETED"})
    # The same child ran on: no second SUB_WORKFLOW task, no second child.
    [sub] = parent["tasks"]
    assert sub["subWorkflowId"] == child_id
    child = client.wait(child_id)
    assert [t["status"] for t in child["tasks"]] == ["FAILED", "COMPLETED"]


def test_retrying_the_parent_without_resume_starts_a_new_child(client: PodiumClient) -> None:
    parent_id, child_id, task_type = _failed_pair(client)

    client.ok("POST", f"/workflow/{parent_id}/retry")
    client.complete(client.take(task_type))

    parent = client.wait(parent_id, {"COMPLETED"})
    first, second = parent["tasks"]
    assert first["subWorkflowId"] == child_id and first["status"] == "FAILED"
    assert second["retriedTaskId"] == first["taskId"]
    assert second["subWorkflowId"] != child_id
    assert client.workflow(child_id)["status"] == "FAILED"
