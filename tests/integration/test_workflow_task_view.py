"""Tasks read back through the API carry their `workflowTask`, as Conductor returns them.

Conductor's UI reads `task.workflowTask` (its name, type, reference name, a SWITCH's
`decisionCases`, a SUB_WORKFLOW's `subWorkflowParam`) on every execution page; the SDK's
Task model has a `workflow_task` field. Podium attaches it when a task is read, from the
definition the execution runs.
"""

from __future__ import annotations

import uuid
from typing import Any

from conductor.client.configuration.configuration import Configuration
from conductor.client.orkes_clients import OrkesClients

from cluster.runtime import Runtime
from tests.integration.client import PodiumClient, eventually

Json = dict[str, Any]


def definition(name: str, worker: str) -> Json:
    return {
        "name": name,
        "version": 1,
        "schemaVersion": 2,
        "tasks": [
            {"name": worker, "taskReferenceName": "first", "type": "SIMPLE"},
            {
                "name": "pick",
                "taskReferenceName": "pick",
                "type": "SWITCH",
                "evaluatorType": "value-param",
                "expression": "which",
                "inputParameters": {"which": "${workflow.input.which}"},
                "decisionCases": {"loop": [_loop()]},
                "defaultCase": [],
            },
            {
                "name": "dyn",
                "taskReferenceName": "dyn",
                "type": "DYNAMIC",
                "dynamicTaskNameParam": "taskToRun",
                "inputParameters": {"taskToRun": worker},
            },
        ],
    }


def _loop() -> Json:
    return {
        "name": "loop",
        "taskReferenceName": "loop",
        "type": "DO_WHILE",
        "loopCondition": "$.loop['iteration'] < 2",
        "loopOver": [
            {
                "name": "count",
                "taskReferenceName": "count",
                "type": "SET_VARIABLE",
                "inputParameters": {"counted": "${loop.output.iteration}"},
            }
        ],
    }


def test_every_task_read_back_carries_the_workflow_task_it_was_scheduled_from(
    client: PodiumClient, podium: Runtime
) -> None:
    uid = uuid.uuid4().hex[:10]
    worker = f"view_worker_{uid}"
    name = f"task_view_{uid}"
    client.register(definition(name, worker))
    workflow_id = client.start(name, {"which": "loop"})

    # The SDK's poll deserializes the task, workflowTask included.
    task_client = OrkesClients(Configuration(server_api_url=podium.api_url)).get_task_client()
    polled = eventually(lambda: task_client.poll_task(worker, worker_id="view-test"), bool, f"a {worker} task")
    assert polled.workflow_task is not None, "the SDK's Task.workflow_task is empty"
    assert polled.workflow_task.task_reference_name == "first"
    assert polled.workflow_task.type == "SIMPLE"
    client.complete({"workflowInstanceId": workflow_id, "taskId": polled.task_id})

    # The DYNAMIC task is handed out under the name it resolved to, as in Conductor.
    dynamic = client.take(worker)
    assert dynamic["referenceTaskName"] == "dyn"
    assert dynamic["workflowTask"]["type"] == "DYNAMIC"
    assert dynamic["workflowTask"]["name"] == worker
    client.complete(dynamic)
    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED", workflow.get("reasonForIncompletion")

    by_ref = {task["referenceTaskName"]: task for task in workflow["tasks"]}
    assert set(by_ref) == {"first", "pick", "loop", "count__1", "count__2", "dyn"}
    for reference, task in by_ref.items():
        base = reference.split("__")[0]
        assert task["workflowTask"]["taskReferenceName"] == base, f"{reference}: {task['workflowTask']}"
    assert by_ref["pick"]["workflowTask"]["type"] == "SWITCH"
    assert set(by_ref["pick"]["workflowTask"]["decisionCases"]) == {"loop"}
    assert by_ref["loop"]["workflowTask"]["loopOver"][0]["taskReferenceName"] == "count"
    assert by_ref["count__2"]["workflowTask"]["type"] == "SET_VARIABLE"

    # A task fetched on its own, by the SDK or over HTTP, carries it too.
    iteration_task = client.ok("GET", f"/tasks/{by_ref['count__2']['taskId']}")
    assert iteration_task["workflowTask"]["taskReferenceName"] == "count"
    sdk_task = task_client.get_task(by_ref["dyn"]["taskId"])
    assert sdk_task.workflow_task.name == worker

    # search-v2 returns full tasks, as GET /tasks/{id} does.
    found = eventually(
        lambda: client.ok("GET", "/tasks/search-v2", params={"freeText": workflow_id, "size": 20})["results"],
        lambda results: len(results) == 6,
        "the workflow's six tasks in task search",
    )
    assert all("workflowTask" in task for task in found)
