"""SWITCH and DECISION: pick one case list by an evaluated value, then run it.

The task itself completes as soon as it has chosen; while the chosen case runs it is
marked `_open`, so a JOIN waiting on it waits for the whole case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow.graph import iteration_of
from actors.workflow.operator import Operator, register
from definitions.evaluators import EvaluationError, evaluate
from definitions.expressions import lookup_path
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Step


def case_label(value: Any) -> str:
    """Conductor compares case values as strings; JSON booleans read as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _run_case(step: Step, task: dict[str, Any], workflow_task: WorkflowTask, case: str) -> None:
    chosen = workflow_task.decision_cases.get(case)
    if chosen is None:
        chosen = workflow_task.default_case
    if chosen:
        task["_open"] = True
        step.state.touch(task)
        step.schedule(chosen[0], iteration_of(task["referenceTaskName"]))
    else:
        step.advance(task)


@register
class SwitchOperator(Operator):
    task_type = "SWITCH"

    def start(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        inputs = task["inputData"]
        evaluator_type = workflow_task.evaluator_type or "value-param"
        expression = workflow_task.expression or ""
        try:
            if evaluator_type == "value-param":
                value = lookup_path(inputs, tuple(expression.split(".")))
            else:
                value = evaluate(evaluator_type, expression, inputs)
        except EvaluationError as error:
            step.finish(task, "FAILED", {"error": str(error)}, str(error))
            return
        case = case_label(value)
        step.finish(task, "COMPLETED", {"evaluationResult": [case], "selectedCase": case})

    def on_success(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        result = task["outputData"].get("evaluationResult") or ["null"]
        _run_case(step, task, workflow_task, result[0])


@register
class DecisionOperator(Operator):
    task_type = "DECISION"

    def start(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        inputs = task["inputData"]
        try:
            if workflow_task.case_expression:
                value = evaluate("javascript", workflow_task.case_expression, inputs)
            else:
                value = inputs.get(workflow_task.case_value_param or "")
        except EvaluationError as error:
            step.finish(task, "FAILED", {"error": str(error)}, str(error))
            return
        step.finish(task, "COMPLETED", {"caseOutput": [case_label(value)]})

    def on_success(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        result = task["outputData"].get("caseOutput") or ["null"]
        _run_case(step, task, workflow_task, result[0])
