"""SWITCH and DECISION: pick one case list by an evaluated value, then run it.

The task itself completes as soon as it has chosen and, as in Conductor, schedules the
first task of the chosen case at once (so the case's tasks follow it in the task list).
While the case runs the task is marked `_open`, so a JOIN waiting on it waits for the
whole case. With no case to run (no match and no default, or an explicitly empty case),
the workflow moves on past it when it is decided.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow.graph import iteration_of
from actors.workflow.operators.base import Operator, register
from definitions.evaluators import EVALUATOR_TYPES, EvaluationError, evaluate
from definitions.expressions import lookup_path
from definitions.models import WorkflowTask
from definitions.validation import Finding, Review, TaskSite, blank, error, warning

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord


def case_label(value: Any) -> str:
    """Conductor compares case values as strings; JSON booleans read as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _start_case(decider: Decider, task: TaskRecord, workflow_task: WorkflowTask, case: str) -> None:
    """Schedule the chosen case's first task; a key present with an empty list runs nothing."""
    chosen = workflow_task.decision_cases.get(case)
    if chosen is None:
        chosen = workflow_task.default_case
    if chosen:
        task["_open"] = True
        decider.state.touch(task)
        decider.schedule(chosen[0], iteration_of(task["referenceTaskName"]))


def _case_ended(decider: Decider, container: WorkflowTask, iteration: int) -> None:
    """The chosen case's last task is done: the switch is closed and the workflow moves on."""
    graph = decider.state.graph
    container_iteration = iteration if graph.enclosing_loop(container.task_reference_name) else 0
    switch_task = decider.find_task(container.task_reference_name, container_iteration)
    if switch_task is not None and switch_task.pop("_open", False):
        decider.state.touch(switch_task)
    decider.continue_after(graph.positions[container.task_reference_name], container_iteration)


def _after_choice(decider: Decider, task: TaskRecord) -> None:
    # An open case moves the workflow on when its last task ends; nothing to do here.
    if not task.get("_open"):
        decider.advance(task)


class _CaseChooser(Operator):
    """What SWITCH and DECISION share: they run the case they choose as their branch, and
    the workflow goes on past them once that case is done."""

    mocked_in_test_runs = False
    retryable = False
    holds_branches = True

    def branch_ended(self, decider: Decider, container: WorkflowTask, iteration: int) -> None:
        _case_ended(decider, container, iteration)

    def on_success(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        _after_choice(decider, task)


@register
class SwitchOperator(_CaseChooser):
    task_type = "SWITCH"

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        task = site.task
        findings: list[Finding] = []
        if task.evaluator_type is None:
            findings.append(error("evaluatorType is missing"))
        elif blank(task.evaluator_type) or task.evaluator_type not in EVALUATOR_TYPES:
            findings.append(
                warning(
                    f"evaluatorType '{task.evaluator_type}' is not one of {', '.join(sorted(EVALUATOR_TYPES))}; "
                    "the task fails when it runs"
                )
            )
        if task.expression is None:
            findings.append(error("expression is missing"))
        elif blank(task.expression):
            findings.append(warning("expression is empty"))
        if not task.decision_cases:
            # Conductor: "decisionCases should have atleast one task for taskType: SWITCH".
            findings.append(error("decisionCases is empty; a SWITCH needs at least one case"))
        return findings

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        inputs = task["inputData"]
        evaluator_type = workflow_task.evaluator_type or "value-param"
        expression = workflow_task.expression or ""
        try:
            if evaluator_type == "value-param":
                value = lookup_path(inputs, tuple(expression.split(".")))
            else:
                value = evaluate(evaluator_type, expression, inputs)
        except EvaluationError as error:
            decider.finish(task, "FAILED", {"error": str(error)}, str(error))
            return
        case = case_label(value)
        decider.finish(task, "COMPLETED", {"evaluationResult": [case], "selectedCase": case})
        _start_case(decider, task, workflow_task, case)


@register
class DecisionOperator(_CaseChooser):
    task_type = "DECISION"

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        task = site.task
        findings: list[Finding] = []
        if task.case_value_param is None and task.case_expression is None:
            findings.append(error("caseValueParam or caseExpression is required"))
        elif blank(task.case_value_param) and blank(task.case_expression):
            findings.append(warning("caseValueParam and caseExpression are empty"))
        if not task.decision_cases:
            findings.append(error("decisionCases is empty; a DECISION needs at least one case"))
        return findings

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        inputs = task["inputData"]
        try:
            if workflow_task.case_expression:
                value = evaluate("javascript", workflow_task.case_expression, inputs)
            else:
                value = inputs.get(workflow_task.case_value_param or "")
        except EvaluationError as error:
            decider.finish(task, "FAILED", {"error": str(error)}, str(error))
            return
        case = case_label(value)
        decider.finish(task, "COMPLETED", {"caseOutput": [case]})
        _start_case(decider, task, workflow_task, case)
