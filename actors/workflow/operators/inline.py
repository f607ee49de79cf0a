"""INLINE: evaluates `expression` with `evaluatorType`, `$` bound to the task's input."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow.operators.base import Operator, register
from definitions.evaluators import EvaluationError, evaluate
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Step


@register
class InlineOperator(Operator):
    task_type = "INLINE"
    mocked_in_test_runs = False

    def start(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        inputs = task["inputData"]
        evaluator_type = inputs.get("evaluatorType") or "javascript"
        expression = inputs.get("expression")
        if not isinstance(expression, str):
            step.finish(task, "FAILED", {}, "INLINE needs inputParameters.expression as a string")
            return
        try:
            result = evaluate(evaluator_type, expression, inputs)
        except EvaluationError as error:
            step.finish(task, "FAILED", {"error": str(error)}, str(error))
            return
        step.finish(task, "COMPLETED", {"result": result})
