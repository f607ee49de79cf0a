"""LAMBDA: the older INLINE; runs `scriptExpression` as javascript over the task's input."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow.operator import Operator, register
from definitions.evaluators import EvaluationError, evaluate
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Step


@register
class LambdaOperator(Operator):
    task_type = "LAMBDA"

    def start(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        script = workflow_task.script_expression
        if not script:
            step.finish(task, "FAILED", {}, "LAMBDA needs a scriptExpression")
            return
        try:
            result = evaluate("javascript", script, task["inputData"])
        except EvaluationError as error:
            step.finish(task, "FAILED", {"error": str(error)}, str(error))
            return
        step.finish(task, "COMPLETED", {"result": result})
