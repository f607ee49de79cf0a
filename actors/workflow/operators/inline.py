"""INLINE: evaluates `expression` with `evaluatorType`, `$` bound to the task's input."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.workflow.operators.base import Operator, register
from definitions.evaluators import EVALUATOR_TYPES, EvaluationError, evaluate
from definitions.models import WorkflowTask
from definitions.validation import Finding, Review, TaskSite, blank, is_expression, warning

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord


@register
class InlineOperator(Operator):
    task_type = "INLINE"
    mocked_in_test_runs = False

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        # Conductor checks nothing about INLINE at registration: these fail the task at run time.
        params = site.task.input_parameters
        findings: list[Finding] = []
        evaluator = params.get("evaluatorType")
        if blank(evaluator):
            findings.append(warning("inputParameters.evaluatorType is missing"))
        elif not is_expression(evaluator) and evaluator not in EVALUATOR_TYPES:
            findings.append(
                warning(
                    f"inputParameters.evaluatorType '{evaluator}' is not one of {', '.join(sorted(EVALUATOR_TYPES))}"
                )
            )
        if blank(params.get("expression")):
            findings.append(warning("inputParameters.expression is missing; the task fails when it runs"))
        return findings

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        inputs = task["inputData"]
        evaluator_type = inputs.get("evaluatorType") or "javascript"
        expression = inputs.get("expression")
        if not isinstance(expression, str):
            decider.finish(task, "FAILED", {}, "INLINE needs inputParameters.expression as a string")
            return
        try:
            result = evaluate(evaluator_type, expression, inputs)
        except EvaluationError as error:
            decider.finish(task, "FAILED", {"error": str(error)}, str(error))
            return
        decider.finish(task, "COMPLETED", {"result": result})
