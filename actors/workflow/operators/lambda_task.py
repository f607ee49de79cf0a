"""LAMBDA: the older INLINE; runs `scriptExpression` as javascript over the task's input."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow.operators.base import Operator, register
from definitions.evaluators import EvaluationError, evaluate
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Step


@register
class LambdaOperator(Operator):
    task_type = "LAMBDA"

    def start(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        # Conductor's own definitions put the script among the inputs; older ones on the task.
        script = task["inputData"].get("scriptExpression") or workflow_task.script_expression
        if not isinstance(script, str) or not script:
            step.finish(task, "FAILED", {}, "LAMBDA needs a scriptExpression")
            return
        try:
            # Conductor runs the script as a function body, so it ends with `return`.
            result = evaluate("javascript", f"function scriptFun(){{{script}\n}} scriptFun();", task["inputData"])
        except EvaluationError as error:
            step.finish(task, "FAILED", {"error": str(error)}, str(error))
            return
        step.finish(task, "COMPLETED", {"result": result})
