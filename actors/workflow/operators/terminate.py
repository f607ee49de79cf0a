"""TERMINATE: ends the workflow with `terminationStatus`, `terminationReason` and `workflowOutput`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.workflow.operators.base import Operator, register
from definitions.models import WorkflowTask
from definitions.validation import Finding, Review, TaskSite, blank, error

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord

TERMINATION_STATUSES = frozenset({"COMPLETED", "FAILED", "TERMINATED"})


@register
class TerminateOperator(Operator):
    task_type = "TERMINATE"
    mocked_in_test_runs = False
    output_is_the_workflows = True

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        task = site.task
        findings: list[Finding] = []
        status = task.input_parameters.get("terminationStatus")
        allowed = ", ".join(sorted(TERMINATION_STATUSES))
        if blank(status):
            findings.append(error(f"inputParameters.terminationStatus is missing; use one of {allowed}"))
        elif status not in TERMINATION_STATUSES:
            findings.append(error(f"inputParameters.terminationStatus '{status}' is not one of {allowed}"))
        if task.optional:
            # An optional TERMINATE would have no defined outcome when it "fails".
            findings.append(error("a TERMINATE task cannot be optional"))
        return findings

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        inputs = task["inputData"]
        status = str(inputs.get("terminationStatus", "")).upper()
        if status not in TERMINATION_STATUSES:
            decider.finish(
                task,
                "FAILED",
                {},
                f"TERMINATE needs terminationStatus COMPLETED, FAILED or TERMINATED, got {status!r}",
            )
            return
        output = inputs.get("workflowOutput")
        output = output if isinstance(output, dict) else ({} if output is None else {"output": output})
        decider.finish(task, "COMPLETED", output)
        task["executed"] = True
        reason = inputs.get("terminationReason")
        if not isinstance(reason, str) or not reason.strip():
            # Conductor's default, also given when the workflow COMPLETES through a TERMINATE.
            reason = f"Workflow is {status} by TERMINATE task: {task['taskId']}"
        decider.end_workflow(status, reason, output, task)
