"""JOIN: completes when every task in `joinOn` is done, with their outputs by reference."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow.graph import iteration_of
from actors.workflow.operator import Operator, register
from definitions.models import SUCCESSFUL_TASK_STATUSES, WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Step


def evaluate_join(step: Step, join_task: dict[str, Any]) -> None:
    iteration = iteration_of(join_task["referenceTaskName"])
    outputs: dict[str, Any] = {}
    failures: list[str] = []
    for reference in join_task["inputData"].get("joinOn") or []:
        task = step.find_task(reference, iteration)
        # `executed` means what follows the task was decided; `_open` a SWITCH whose
        # case still runs. Either way that branch is not done yet.
        if task is None or not task["executed"] or task.get("_open"):
            return
        if task["status"] not in SUCCESSFUL_TASK_STATUSES:
            failures.append(f"{reference} {task['status']}")
        outputs[reference] = task["outputData"]
    if failures:
        step.finish(join_task, "FAILED", outputs, "Joined tasks did not complete: " + ", ".join(failures))
    else:
        step.finish(join_task, "COMPLETED", outputs)


@register
class JoinOperator(Operator):
    task_type = "JOIN"

    def start(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        step.start_task(task)
        evaluate_join(step, task)
