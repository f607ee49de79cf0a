"""The shortest path through every layer: register, start, work, complete."""

from __future__ import annotations

from tests.integration.client import PodiumClient


def test_external_worker_workflow_completes(client: PodiumClient) -> None:
    client.register(
        {
            "name": "smoke_external",
            "tasks": [
                {"name": "smoke_task", "taskReferenceName": "t1", "inputParameters": {"n": "${workflow.input.n}"}}
            ],
            "outputParameters": {"doubled": "${t1.output.doubled}"},
        },
        [{"name": "smoke_task", "retryCount": 0}],
    )
    workflow_id = client.start("smoke_external", {"n": 21})
    [task] = client.poll("smoke_task")
    assert task["inputData"] == {"n": 21}
    client.complete(task, {"doubled": 42})
    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert workflow["output"] == {"doubled": 42}


def test_python_actor_worker_workflow_completes(client: PodiumClient) -> None:
    client.register(
        {
            "name": "smoke_python",
            "tasks": [{"name": "py_add", "taskReferenceName": "add", "inputParameters": {"a": 2, "b": 3}}],
        }
    )
    workflow = client.wait(client.start("smoke_python"))
    assert workflow["status"] == "COMPLETED"
    assert workflow["tasks"][0]["outputData"] == {"sum": 5}
