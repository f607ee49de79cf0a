"""LAMBDA: the older INLINE; runs `scriptExpression` as javascript over the task's input."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.workflow.operators.base import Operator, register
from definitions.evaluators import EvaluationError, evaluate
from definitions.models import WorkflowTask
from definitions.validation import Finding, Review, TaskSite, blank, warning

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord


@register
class LambdaOperator(Operator):
    task_type = "LAMBDA"

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        task = site.task
        # Conductor reads the script from inputParameters; the WorkflowTask field is an
        # older spelling some clients still send. Without one the task fails when it runs.
        if blank(task.input_parameters.get("scriptExpression")) and blank(task.script_expression):
            return [warning("inputParameters.scriptExpression is missing; the task fails when it runs")]
        return []

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        # Conductor's own definitions put the script among the inputs; older ones on the task.
        script = task["inputData"].get("scriptExpression") or workflow_task.script_expression
        if not isinstance(script, str) or not script:
            decider.finish(task, "FAILED", {}, "LAMBDA needs a scriptExpression")
            return
        try:
            # Conductor runs the script as a function body, so it ends with `return`.
            result = evaluate("javascript", f"function scriptFun(){{{script}\n}} scriptFun();", task["inputData"])
        except EvaluationError as error:
            decider.finish(task, "FAILED", {"error": str(error)}, str(error))
            return
        decider.finish(task, "COMPLETED", {"result": result})
