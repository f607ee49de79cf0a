"""JSON_JQ_TRANSFORM: runs `queryExpression` (jq) over the task's input."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.workflow.operators.base import Operator, register
from definitions.evaluators import EvaluationError, evaluate_jq
from definitions.models import WorkflowTask
from definitions.validation import Finding, Review, TaskSite, blank, error, warning

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord


@register
class JsonJqTransformOperator(Operator):
    task_type = "JSON_JQ_TRANSFORM"

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        task = site.task
        # As in Conductor, the query may come from the task definition's input template,
        # and only its absence is refused.
        sources = [task.input_parameters]
        sources.extend(
            d.input_template for d in (task.task_definition, review.task_defs.get(task.name)) if d is not None
        )
        present = [source["queryExpression"] for source in sources if "queryExpression" in source]
        if not present:
            return [error("inputParameters.queryExpression is missing")]
        if all(blank(query) for query in present):
            return [warning("inputParameters.queryExpression is empty; the task fails when it runs")]
        return []

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        inputs = task["inputData"]
        query = inputs.get("queryExpression")
        if not isinstance(query, str):
            decider.finish(task, "FAILED", {}, "JSON_JQ_TRANSFORM needs inputParameters.queryExpression")
            return
        try:
            results = evaluate_jq(query, inputs)
        except EvaluationError as error:
            decider.finish(task, "FAILED", {"error": str(error)}, str(error))
            return
        decider.finish(task, "COMPLETED", {"result": results[0] if results else None, "resultList": results})
