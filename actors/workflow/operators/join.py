"""JOIN: completes when every task in `joinOn` is done, with their outputs by reference.

As in Conductor, only non-empty outputs appear in the JOIN's output (inside a loop keyed
by the iteration's reference name, `ref__2`), and a JOIN over an optional task that ended
COMPLETED_WITH_ERRORS ends COMPLETED_WITH_ERRORS itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.workflow.graph import iteration_of, with_iteration
from actors.workflow.operators.base import Operator, register
from definitions.models import SUCCESSFUL_TASK_STATUSES, WorkflowTask
from definitions.validation import Finding, Review, TaskSite, warning

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord


def evaluate_join(decider: Decider, join_task: TaskRecord) -> None:
    iteration = iteration_of(join_task["referenceTaskName"])
    joined: list[tuple[str, TaskRecord]] = []
    for reference in join_task["inputData"].get("joinOn") or []:
        task = decider.find_task(reference, iteration)
        # `executed` means what follows the task was decided; `_open` a SWITCH whose
        # case still runs. Either way that branch is not done yet.
        if task is None or not task["executed"] or task.get("_open"):
            return
        # Inside a loop Conductor joins on (and keys the output by) `ref__<iteration>`.
        joined.append((with_iteration(reference, iteration), task))
    outputs = {reference: task["outputData"] for reference, task in joined if task["outputData"]}
    failures = [
        f"{reference} {task['status']}" for reference, task in joined if task["status"] not in SUCCESSFUL_TASK_STATUSES
    ]
    if failures:
        decider.finish(join_task, "FAILED", outputs, "Joined tasks did not complete: " + ", ".join(failures))
        return
    with_errors = [
        f"{task['taskDefName']}/{task['taskId']}" for _, task in joined if task["status"] == "COMPLETED_WITH_ERRORS"
    ]
    if with_errors:
        decider.finish(join_task, "COMPLETED_WITH_ERRORS", outputs, " ".join(with_errors) + " completed with errors")
    else:
        decider.finish(join_task, "COMPLETED", outputs)


@register
class JoinOperator(Operator):
    task_type = "JOIN"
    mocked_in_test_runs = False
    retryable = False
    is_join = True
    reopened_by_retry = True
    retried_by_workflow_retry = False

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        return [
            warning(f"joinOn names unknown task '{ref}'; the join waits for it")
            for ref in site.task.join_on
            if ref not in review.known_refs
        ]

    def evaluate(self, decider: Decider, task: TaskRecord) -> None:
        evaluate_join(decider, task)

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        decider.start_task(task)
        evaluate_join(decider, task)
