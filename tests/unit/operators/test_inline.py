"""INLINE: evaluates `inputParameters.expression` (javascript by default) with `$` = the input.

The result is the task output's `result`; a script error fails the task (and, with no
retry, the workflow) with the error in `reasonForIncompletion` and the output's `error`.
"""

from __future__ import annotations

from typing import Any

from tests.unit.machine_harness import Run
from tests.unit.operators.support import rows, simple, workflow


def inline(ref: str, expression: str, evaluator: str | None = "javascript", **inputs: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"expression": expression, **inputs}
    if evaluator is not None:
        params["evaluatorType"] = evaluator
    return {"name": ref, "taskReferenceName": ref, "type": "INLINE", "inputParameters": params}


def test_the_result_of_the_script_is_the_tasks_result() -> None:
    definition = workflow(
        inline(
            "calc", "function f() { return {sum: $.a + $.b, items: [$.a, $.b]}; } f();", a=2, b="${workflow.input.b}"
        ),
        simple("after", inputParameters={"sum": "${calc.output.result.sum}"}),
    )

    run = Run(definition, {"b": 3})

    assert rows(run)[0] == ("calc", "INLINE", "COMPLETED")
    assert run.task("calc")["outputData"] == {"result": {"sum": 5, "items": [2, 3]}}
    assert run.task("calc")["inputData"]["b"] == 3
    assert run.task("after")["inputData"] == {"sum": 5}


def test_the_value_of_the_last_expression_is_the_result() -> None:
    run = Run(workflow(inline("x", "if ($.n > 1) { 'many'; } else { 'one'; }", n=5)))

    assert run.task("x")["outputData"] == {"result": "many"}
    assert run.status == "COMPLETED"
    assert run.output == {"result": "many"}


def test_javascript_is_the_default_evaluator() -> None:
    run = Run(workflow(inline("x", "$.n * 2", evaluator=None, n=21)))

    assert run.task("x")["outputData"] == {"result": 42}


def test_graaljs_is_javascript_too() -> None:
    run = Run(workflow(inline("x", "[1, 2, 3].map(function (v) { return v * $.k; })", evaluator="graaljs", k=2)))

    assert run.task("x")["outputData"] == {"result": [2, 4, 6]}


def test_value_param_evaluator_reads_an_input() -> None:
    run = Run(workflow(inline("x", "nested.value", evaluator="value-param", nested={"value": "found"})))

    assert run.task("x")["outputData"] == {"result": "found"}


def test_a_script_error_fails_the_task_and_the_workflow() -> None:
    run = Run(workflow(inline("x", "$.missing.property"), simple("after")))

    task = run.task("x")
    assert task["status"] == "FAILED"
    assert "TypeError" in task["reasonForIncompletion"]
    assert task["outputData"]["error"] == task["reasonForIncompletion"]
    assert run.status == "FAILED"
    assert [ref for ref, _, _ in rows(run)] == ["x"]


def test_a_failed_inline_task_is_retried_when_its_task_def_allows() -> None:
    run = Run(workflow(inline("x", "$.missing.property")), task_defs=[{"name": "x", "retryCount": 1}])

    assert [status for _, _, status in rows(run)] == ["FAILED", "FAILED"]
    assert run.task("x")["retryCount"] == 1
    assert run.status == "FAILED"


def test_a_missing_expression_fails_the_task() -> None:
    definition = workflow(
        {"name": "x", "taskReferenceName": "x", "type": "INLINE", "inputParameters": {"evaluatorType": "javascript"}}
    )

    run = Run(definition)

    assert run.task("x")["status"] == "FAILED"
    assert "expression" in run.task("x")["reasonForIncompletion"]


def test_an_unknown_evaluator_fails_the_task() -> None:
    run = Run(workflow(inline("x", "1", evaluator="python")))

    assert run.task("x")["status"] == "FAILED"
    assert "python" in run.task("x")["reasonForIncompletion"]


def test_inline_tasks_in_a_row_run_in_one_step() -> None:
    run = Run(
        workflow(
            inline("a", "$.v + 1", v=1),
            inline("b", "$.v * 10", v="${a.output.result}"),
            inline("c", "'' + $.v", v="${b.output.result}"),
        )
    )

    assert run.status == "COMPLETED"
    assert run.task("c")["outputData"] == {"result": "20"}
    assert [t["seq"] for t in run.state.tasks] == [1, 2, 3]
