"""DYNAMIC, START_WORKFLOW and EXCLUSIVE_JOIN end to end: through the HTTP gateway, on a
real Redis and a real Ray.

As in test_operators_e2e.py, Conductor's own test definitions are registered unchanged
except for names (a per-test suffix on the workflow and its worker tasks), and the
assertions follow the Groovy specs that ship with them (ExclusiveJoinSpec,
StartWorkflowSpec).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from tests.integration.client import PodiumClient, eventually
from tests.integration.test_operators_e2e import (
    existing_workflow,
    refs,
    register,
    shared_definition,
    statuses,
    suffixed,
    task_of,
)

Json = dict[str, Any]


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10]


# -- DYNAMIC ------------------------------------------------------------------------------


def test_dynamic_task_runs_as_the_task_its_input_names(client: PodiumClient, uid: str) -> None:
    """DynamicTaskMapper: the task's type is the name held by the input named in
    dynamicTaskNameParam; workers poll it under that name and its TaskDef's retries apply."""
    worker_type = f"dyn_worker_{uid}"
    name = register(
        client,
        {
            "name": f"dynamic_{uid}",
            "tasks": [
                {
                    "name": "dyntask",
                    "taskReferenceName": "task_2",
                    "inputParameters": {"taskToExecute": "${workflow.input.task2Name}", "n": 3},
                    "type": "DYNAMIC",
                    "dynamicTaskNameParam": "taskToExecute",
                },
                {"name": "py_add", "taskReferenceName": "add", "inputParameters": {"a": "${task_2.output.n}", "b": 1}},
            ],
            "outputParameters": {"sum": "${add.output.sum}"},
        },
    )
    client.ok("POST", "/metadata/taskdefs", json=[{"name": worker_type, "retryCount": 1, "retryDelaySeconds": 0}])
    workflow_id = client.start(name, {"task2Name": worker_type})

    first = client.take(worker_type)
    assert first["taskType"] == first["taskDefName"] == worker_type
    assert first["referenceTaskName"] == "task_2"
    assert first["inputData"] == {"taskToExecute": worker_type, "n": 3}
    client.complete(first, status="FAILED")

    # retryCount 1 of the resolved name's TaskDef: a second attempt under the same name.
    second = client.take(worker_type)
    assert second["retryCount"] == 1
    assert second["retriedTaskId"] == first["taskId"]
    client.complete(second, {"n": 41})

    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert [(t["taskType"], t["status"]) for t in workflow["tasks"]] == [
        (worker_type, "FAILED"),
        (worker_type, "COMPLETED"),
        ("py_add", "COMPLETED"),
    ]
    assert workflow["output"] == {"sum": 42}

    # Without the name the task fails, and so does the workflow.
    failed = client.wait(client.start(name, {}))
    assert failed["status"] == "FAILED"
    assert task_of(failed, "task_2")["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert "Cannot map a dynamic task" in task_of(failed, "task_2")["reasonForIncompletion"]


# -- START_WORKFLOW -----------------------------------------------------------------------


def test_start_workflow_starts_another_workflow_by_name_and_version(client: PodiumClient, uid: str) -> None:
    """StartWorkflowSpec "name and version": the starter completes at once, its task's
    output names the started workflow, which runs with the starter's correlationId and no
    parent. The requested version is the one that runs, not the latest."""
    target = suffixed(shared_definition("simple_workflow_1_integration_test"), uid)
    register(client, target)
    newer = copy.deepcopy(target)
    newer["version"] = 2
    newer["description"] = "a later version the request does not ask for"
    register(client, newer)
    starter = register(client, suffixed(shared_definition("workflow_that_starts_another_workflow"), uid))

    request = {"name": target["name"], "version": 1, "input": {"param1": "value1", "param2": "value2"}}
    starter_id = client.start(starter, {"startWorkflow": request}, correlationId=f"corr-{uid}")

    finished = client.wait(starter_id)
    assert finished["status"] == "COMPLETED"
    assert [(t["taskType"], t["status"]) for t in finished["tasks"]] == [("START_WORKFLOW", "COMPLETED")]
    started_id = task_of(finished, "st")["outputData"]["workflowId"]

    started = existing_workflow(client, started_id)
    assert started["status"] == "RUNNING"
    assert started["workflowName"] == target["name"]
    assert started["workflowVersion"] == 1
    assert started["correlationId"] == f"corr-{uid}"
    assert started["input"] == {"param1": "value1", "param2": "value2"}
    assert "parentWorkflowId" not in started or started["parentWorkflowId"] is None

    task1 = client.take(f"integration_task_1_{uid}")
    assert task1["workflowInstanceId"] == started_id
    client.complete(task1, {"op": "done"})
    client.complete(client.take(f"integration_task_2_{uid}"), {"uuid": "u"})
    assert client.wait(started_id)["status"] == "COMPLETED"
    # The started workflow ending changes nothing for the starter.
    assert client.workflow(starter_id)["status"] == "COMPLETED"


def test_start_workflow_with_an_inline_definition_and_a_bad_request(client: PodiumClient, uid: str) -> None:
    """StartWorkflowSpec "workflow definition": the request carries `workflowDef`, whose
    `${...}` are the started workflow's own. Then "does not conform": a request under the
    wrong key fails the task and the starter."""
    starter = register(client, suffixed(shared_definition("workflow_that_starts_another_workflow"), uid))
    task1 = {
        "name": f"integration_task_1_{uid}",
        "taskReferenceName": "t1",
        "type": "SIMPLE",
        "inputParameters": {"tp1": "${workflow.input.param1}", "tp3": "${CPEWF_TASK_ID}"},
    }
    definition = {"name": f"dynamic_wf_{uid}", "version": 1, "tasks": [task1], "ownerEmail": "abc@abc.com"}
    request = {"name": definition["name"], "workflowDef": definition, "input": {"param1": "p1"}}

    starter_id = client.start(starter, {"startWorkflow": request}, correlationId=f"corr-{uid}")
    started_id = task_of(client.wait(starter_id), "st")["outputData"]["workflowId"]
    started = existing_workflow(client, started_id)
    assert started["workflowName"] == definition["name"]
    assert started["correlationId"] == f"corr-{uid}"

    polled = client.take(f"integration_task_1_{uid}")
    assert polled["workflowInstanceId"] == started_id
    assert polled["inputData"] == {"tp1": "p1", "tp3": polled["taskId"]}
    client.complete(polled)
    assert client.wait(started_id)["status"] == "COMPLETED"

    refused = client.wait(client.start(starter, {"start_workflow": {"param1": "value1"}}))
    assert refused["status"] == "FAILED"
    assert statuses(refused) == {"st": "FAILED"}
    assert task_of(refused, "st")["reasonForIncompletion"] == "Missing 'startWorkflow' in input data."


# -- EXCLUSIVE_JOIN -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workflow_input", "workers", "expected_types", "joined"),
    [
        ({"decision_1": "null"}, ["1"], ["1", "DECISION", "EXCLUSIVE_JOIN"], "task1"),
        (
            {"decision_1": "true", "decision_2": "true"},
            ["1", "2", "3"],
            ["1", "DECISION", "2", "DECISION", "3", "EXCLUSIVE_JOIN"],
            "task3",
        ),
        (
            {"decision_1": "false", "decision_3": "null"},
            ["1", "4"],
            ["1", "DECISION", "4", "DECISION", "EXCLUSIVE_JOIN"],
            "task4",
        ),
    ],
    ids=["default-decision", "both-true", "false-then-default"],
)
def test_exclusive_join_joins_the_branch_that_ran(
    client: PodiumClient,
    uid: str,
    workflow_input: Json,
    workers: list[str],
    expected_types: list[str],
    joined: str,
) -> None:
    """ExclusiveJoinSpec: the join completes with the output of the first joinOn task that
    ran, else of the first defaultExclusiveJoinTask that ran, and the workflow completes."""
    name = register(client, suffixed(shared_definition("exclusive_join_integration_test"), uid))
    workflow_id = client.start(name, workflow_input)

    for number in workers:
        task = client.take(f"integration_task_{number}_{uid}")
        client.complete(task, {"taskReferenceName": task["referenceTaskName"]})

    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    named = {number: f"integration_task_{number}_{uid}" for number in "12345"}
    assert [t["taskType"] for t in workflow["tasks"]] == [named.get(kind, kind) for kind in expected_types]
    assert all(task["status"] == "COMPLETED" for task in workflow["tasks"])
    join = task_of(workflow, "exclusiveJoin")
    assert join["outputData"] == {"taskReferenceName": joined}
    assert join["inputData"] == {"joinOn": ["task3", "task5"], "defaultExclusiveJoinTask": ["task2", "task4", "task1"]}
    assert refs(workflow)[-1] == "exclusiveJoin"


def test_exclusive_join_fails_with_a_failed_permissive_branch(client: PodiumClient, uid: str) -> None:
    """ExclusiveJoin: a permissive joined task that failed fails the join, with its reason."""
    definition = suffixed(shared_definition("exclusive_join_integration_test"), uid)
    definition["tasks"][1]["decisionCases"]["false"][0]["permissive"] = True
    name = register(client, definition)
    workflow_id = client.start(name, {"decision_1": "false", "decision_3": "null"})

    client.complete(client.take(f"integration_task_1_{uid}"))
    task4 = client.take(f"integration_task_4_{uid}")
    client.ok(
        "POST",
        "/tasks",
        json={
            "workflowInstanceId": workflow_id,
            "taskId": task4["taskId"],
            "status": "FAILED_WITH_TERMINAL_ERROR",
            "reasonForIncompletion": "task4 broke",
        },
    )
    workflow = eventually(
        lambda: client.workflow(workflow_id), lambda w: w["status"] != "RUNNING", "the workflow to fail"
    )
    assert workflow["status"] == "FAILED"
    join = task_of(workflow, "exclusiveJoin")
    assert join["status"] == "FAILED"
    assert join["reasonForIncompletion"] == "task4 broke"
