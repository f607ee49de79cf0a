"""TERMINATE: ends the workflow with `terminationStatus`, `terminationReason` and `workflowOutput`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow.operators.base import Operator, register
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Step

TERMINATION_STATUSES = frozenset({"COMPLETED", "FAILED", "TERMINATED"})


@register
class TerminateOperator(Operator):
    task_type = "TERMINATE"
    mocked_in_test_runs = False
    output_is_the_workflows = True

    def start(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        inputs = task["inputData"]
        status = str(inputs.get("terminationStatus", "")).upper()
        if status not in TERMINATION_STATUSES:
            step.finish(
                task,
                "FAILED",
                {},
                f"TERMINATE needs terminationStatus COMPLETED, FAILED or TERMINATED, got {status!r}",
            )
            return
        output = inputs.get("workflowOutput")
        output = output if isinstance(output, dict) else ({} if output is None else {"output": output})
        step.finish(task, "COMPLETED", output)
        task["executed"] = True
        reason = inputs.get("terminationReason")
        if not isinstance(reason, str) or not reason.strip():
            # Conductor's default, also given when the workflow COMPLETES through a TERMINATE.
            reason = f"Workflow is {status} by TERMINATE task: {task['taskId']}"
        step.end_workflow(status, reason, output, task)
