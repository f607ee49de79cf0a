"""JSON_JQ_TRANSFORM: runs `queryExpression` (jq) over the task's input."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow.operators.base import Operator, register
from definitions.evaluators import EvaluationError, evaluate_jq
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Step


@register
class JsonJqTransformOperator(Operator):
    task_type = "JSON_JQ_TRANSFORM"

    def start(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        inputs = task["inputData"]
        query = inputs.get("queryExpression")
        if not isinstance(query, str):
            step.finish(task, "FAILED", {}, "JSON_JQ_TRANSFORM needs inputParameters.queryExpression")
            return
        try:
            results = evaluate_jq(query, inputs)
        except EvaluationError as error:
            step.finish(task, "FAILED", {"error": str(error)}, str(error))
            return
        step.finish(task, "COMPLETED", {"result": results[0] if results else None, "resultList": results})
