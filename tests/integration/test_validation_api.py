"""Registration refuses what Conductor refuses; `/metadata/workflow/validate` also warns.

Conductor OSS registers a definition whose FORK_JOIN has no JOIN after it (as
conductor-python's kitchensink does) and fails the workflow only when the fork runs
(ForkJoinTaskMapper: "Fork task definition is not followed by a join task"). Podium
does the same, and reports the problem as a warning when asked to validate.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.integration.client import PodiumClient

Json = dict[str, Any]


def fork_last(name: str) -> Json:
    """The kitchensink's shape: a worker task, then a fork of two branches, and nothing after."""
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {"name": "set", "taskReferenceName": "set", "type": "SET_VARIABLE", "inputParameters": {"a": 1}},
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [{"name": "left", "taskReferenceName": "left", "type": "NOOP"}],
                    [{"name": "right", "taskReferenceName": "right", "type": "NOOP"}],
                ],
            },
        ],
    }


def test_a_fork_without_join_registers_warns_and_fails_when_it_runs(client: PodiumClient) -> None:
    name = f"fork_last_{uuid.uuid4().hex[:10]}"
    definition = fork_last(name)

    validated = client.ok("POST", "/metadata/workflow/validate", json=definition)
    assert validated == {"warnings": ["task 'fork' (FORK_JOIN): no JOIN follows it; the fork fails when it runs"]}
    client.register(definition)
    assert client.ok("GET", f"/metadata/workflow/{name}")["tasks"][1]["type"] == "FORK_JOIN"

    workflow = client.wait(client.start(name))
    assert workflow["status"] == "FAILED"
    assert "not followed by a JOIN" in workflow["reasonForIncompletion"]
    by_ref = {task["referenceTaskName"]: task for task in workflow["tasks"]}
    # As in Conductor, no branch starts: the fork fails before scheduling them.
    assert set(by_ref) == {"set", "fork"}
    assert by_ref["set"]["status"] == "COMPLETED"
    assert by_ref["fork"]["status"] == "FAILED"


def test_validate_answers_an_empty_object_for_a_clean_definition(client: PodiumClient) -> None:
    definition = fork_last(f"clean_{uuid.uuid4().hex[:10]}")
    definition["tasks"].append({"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": []})
    assert client.ok("POST", "/metadata/workflow/validate", json=definition) == {}


def test_what_conductor_refuses_is_refused_by_validate_and_registration(client: PodiumClient) -> None:
    name = f"refused_{uuid.uuid4().hex[:10]}"
    definition = {
        "name": name,
        "tasks": [
            # WorkflowTaskTypeConstraint: a SWITCH needs at least one decision case.
            {
                "name": "s",
                "taskReferenceName": "s",
                "type": "SWITCH",
                "evaluatorType": "value-param",
                "expression": "x",
                "defaultCase": [],
            },
            # A Podium warning only: it must not be listed among the refusals.
            {"name": "l", "taskReferenceName": "l", "type": "LAMBDA", "inputParameters": {}},
        ],
    }
    expected = ["task 's' (SWITCH): decisionCases is empty; a SWITCH needs at least one case"]
    for path in ("/metadata/workflow/validate", "/metadata/workflow"):
        response = client.request("POST", path, json=definition)
        assert response.status_code == 400, (path, response.text)
        assert [problem["message"] for problem in response.json()["validationErrors"]] == expected
    assert client.request("GET", f"/metadata/workflow/{name}").status_code == 404, "a refused definition was stored"


def test_an_unknown_type_registers_and_runs_as_a_worker_task(client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:10]
    name = f"unknown_type_{uid}"
    worker = f"custom_{uid}"
    definition = {"name": name, "tasks": [{"name": worker, "taskReferenceName": "c", "type": "MY_MODULE_TASK"}]}
    (warning,) = client.ok("POST", "/metadata/workflow/validate", json=definition)["warnings"]
    assert warning.startswith(
        f"task 'c' (MY_MODULE_TASK): unknown type 'MY_MODULE_TASK'; it runs as a worker task polled as '{worker}'"
    )
    client.register(definition)
    workflow_id = client.start(name)
    task = client.take(worker)
    assert task["referenceTaskName"] == "c"
    client.complete(task, {"done": True})
    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert workflow["output"] == {"done": True}
