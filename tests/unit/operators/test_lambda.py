"""LAMBDA: the older INLINE; `scriptExpression` is a javascript function body.

Behaviour follows Conductor's Lambda task (the script runs as the body of a function, so
it returns its result) and LambdaAndTerminateTaskSpec on `simple_lambda_workflow_integration_test.json`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, rows, workflow

LAMBDA_WF = "workflows/simple_lambda_workflow_integration_test.json"


def lambda_task(ref: str, script: str, **inputs: Any) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "LAMBDA",
        "inputParameters": {"scriptExpression": script, **inputs},
    }


@pytest.mark.parametrize(("a", "expected"), [(1, True), (2, False)])
def test_conductor_lambda_workflow(a: int, expected: bool) -> None:
    run = Run(conductor_definition(LAMBDA_WF), {"a": a})

    assert run.status == "COMPLETED"
    assert rows(run) == [("lambda0", "LAMBDA", "COMPLETED")]
    task = run.task("lambda0")
    assert task["outputData"] == {"result": {"testvalue": expected}}
    assert task["seq"] == 1
    assert task["inputData"]["input"] == {"a": a}


def test_the_script_can_declare_variables_and_return_early() -> None:
    script = "var i = 10; if ($.v == 1) { return {i: i}; } return {i: i + 3};"

    assert Run(workflow(lambda_task("l", script, v=1))).task("l")["outputData"] == {"result": {"i": 10}}
    assert Run(workflow(lambda_task("l", script, v=2))).task("l")["outputData"] == {"result": {"i": 13}}


def test_a_script_without_return_gives_a_null_result() -> None:
    """As in Conductor, where the script is a function body: no `return`, no result."""
    run = Run(workflow(lambda_task("l", "$.v + 1;", v=1)))

    assert run.task("l")["status"] == "COMPLETED"
    assert run.task("l")["outputData"] == {"result": None}


def test_a_script_error_fails_the_task() -> None:
    run = Run(workflow(lambda_task("l", "return $.nope.deeper;")))

    assert run.task("l")["status"] == "FAILED"
    assert "TypeError" in run.task("l")["reasonForIncompletion"]
    assert run.status == "FAILED"


def test_a_script_on_the_task_itself_is_accepted() -> None:
    definition = workflow(
        {
            "name": "l",
            "taskReferenceName": "l",
            "type": "LAMBDA",
            "scriptExpression": "return $.x * 3;",
            "inputParameters": {"x": 3},
        }
    )

    assert Run(definition).task("l")["outputData"] == {"result": 9}


def test_a_missing_script_fails_the_task() -> None:
    run = Run(workflow({"name": "l", "taskReferenceName": "l", "type": "LAMBDA", "inputParameters": {"x": 1}}))

    assert run.task("l")["status"] == "FAILED"
    assert "scriptExpression" in run.task("l")["reasonForIncompletion"]
