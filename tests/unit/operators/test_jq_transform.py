"""JSON_JQ_TRANSFORM: runs `queryExpression` (jq) over the task's input.

Behaviour follows Conductor's JsonJQTransformSpec: the output holds `result` (the first
result) and `resultList` (all of them); a jq error fails the task.
"""

from __future__ import annotations

from typing import Any

from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, rows, types, workflow

JQ_WF = "workflows/simple_json_jq_transform_integration_test.json"
SEQUENTIAL_WF = "workflows/sequential_json_jq_transform_integration_test.json"
RESULT_WF = "workflows/json_jq_transform_result_integration_test.json"


def jq(ref: str, query: str, **inputs: Any) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "JSON_JQ_TRANSFORM",
        "inputParameters": {"queryExpression": query, **inputs},
    }


def test_query_result_and_result_list() -> None:
    run = Run(conductor_definition(JQ_WF), {"in1": {"array": ["a", "b"]}, "in2": {"array": ["c", "d"]}})

    assert run.status == "COMPLETED"
    assert rows(run) == [("jq_1", "JSON_JQ_TRANSFORM", "COMPLETED")]
    output = run.task("jq_1")["outputData"]
    assert output == {"result": {"out": ["a", "b", "c", "d"]}, "resultList": [{"out": ["a", "b", "c", "d"]}]}
    assert run.output == output


def test_a_jq_error_fails_the_task_and_the_workflow() -> None:
    run = Run(conductor_definition(JQ_WF), {"in1": "a", "in2": "b"})

    assert run.status == "FAILED"
    task = run.task("jq_1")
    assert task["status"] == "FAILED"
    assert "Cannot index string with string" in task["reasonForIncompletion"]
    assert task["outputData"]["error"] == task["reasonForIncompletion"]


def test_a_query_built_from_an_earlier_result() -> None:
    workflow_input = {
        "method": "POST",
        "body": {"name": "Beary Beariston", "title": "the Brown Bear"},
        "requestTransform": '{name: (.body.name + " you are " + .body.title) }',
        "responseTransform": '{result: "reply: " + .response.body.message}',
    }

    run = Run(conductor_definition(SEQUENTIAL_WF), workflow_input)

    assert run.status == "COMPLETED"
    defaults = run.task("default_variables")["outputData"]["result"]
    assert defaults["method"] == "POST"
    assert defaults["requestTransform"] == workflow_input["requestTransform"]
    assert defaults["document"] == "rgt_results"
    assert run.task("request_transform")["outputData"]["result"] == {"name": "Beary Beariston you are the Brown Bear"}


def test_results_drive_decisions() -> None:
    run = Run(conductor_definition(RESULT_WF), {"requestedAction": "redeliver"})

    assert run.status == "COMPLETED"
    assert types(run) == [
        ("JSON_JQ_TRANSFORM", "COMPLETED"),
        ("DECISION", "COMPLETED"),
        ("JSON_JQ_TRANSFORM", "COMPLETED"),
        ("DECISION", "COMPLETED"),
    ]
    assert run.task("json_jq_1")["outputData"]["result"] == "CREATE"
    assert run.task("decide_1")["outputData"]["caseOutput"] == ["CREATE"]
    assert run.task("json_jq_2")["outputData"]["result"] == [
        "redeliver",
        "redeliver_from_validation_error",
        "redelivery",
    ]
    assert run.task("decide_2")["outputData"]["caseOutput"] == ["true"]


def test_many_results_and_no_result() -> None:
    run = Run(workflow(jq("many", ".items[]", items=[1, 2, 3]), jq("none", "empty")))

    assert run.task("many")["outputData"] == {"result": 1, "resultList": [1, 2, 3]}
    assert run.task("none")["outputData"] == {"result": None, "resultList": []}


def test_a_missing_query_fails_the_task() -> None:
    run = Run(workflow({"name": "j", "taskReferenceName": "j", "type": "JSON_JQ_TRANSFORM", "inputParameters": {}}))

    assert run.task("j")["status"] == "FAILED"
    assert "queryExpression" in run.task("j")["reasonForIncompletion"]
    assert run.status == "FAILED"
