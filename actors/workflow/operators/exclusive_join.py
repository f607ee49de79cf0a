"""EXCLUSIVE_JOIN: joins whichever branch of a DECISION or SWITCH ran.

As Conductor's ExclusiveJoin and ExclusiveJoinTaskMapper: the task is recorded with the
type and taskDefName `EXCLUSIVE_JOIN`, is IN_PROGRESS from the start, and its input is
`{joinOn, defaultExclusiveJoinTask}`. It looks for the first task of `joinOn` that was
scheduled (a SKIPPED one does not count); when none was, for the first such task of
`defaultExclusiveJoinTask`. Once that task is done the join completes with its output.

If that task did not succeed the join fails, with the reasons of the unsuccessful
`joinOn` tasks: a permissive one fails it only once every scheduled `joinOn` task is
done. An optional task that failed ended COMPLETED_WITH_ERRORS, which counts as a
success, so the join then completes. Inside a DO_WHILE the references mean the
iteration's tasks (`ref__2`).

Podium's readings where Conductor's code does something accidental (docs/differences.md):

- a `joinOn` task that was scheduled but is still running is waited for; Conductor then
  falls through to `defaultExclusiveJoinTask` and may complete with a default's output;
- `defaultExclusiveJoinTask` references inside a loop mean the iteration's tasks too;
- when no candidate was scheduled and nothing else in the workflow can still run, the
  join fails with a reason; Conductor leaves it IN_PROGRESS, and the workflow RUNNING, for
  ever;
- after a retry of the workflow the failed join gets a new attempt that waits; when the
  branch reaches the join again, the newer attempt made there replaces it (the older one
  ends CANCELED and marked `retried`), where Conductor reopens the one task in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow.graph import iteration_of
from actors.workflow.operators.base import Operator, register
from definitions.models import SUCCESSFUL_TASK_STATUSES, TERMINAL_TASK_STATUSES, WorkflowTask
from definitions.validation import Finding, Review, TaskSite, warning

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord

TASK_TYPE = "EXCLUSIVE_JOIN"
DEFAULTS = "defaultExclusiveJoinTask"

Json = dict[str, Any]


def _scheduled(decider: Decider, references: list[str], iteration: int) -> list[TaskRecord]:
    """The tasks of `references` that were scheduled (and not skipped), in that order."""
    found = []
    for reference in references:
        task = decider.find_task(reference, iteration)
        if task is not None and task["status"] != "SKIPPED":
            found.append(task)
    return found


def _done(task: TaskRecord) -> bool:
    # `executed`: what follows the task was decided (a failed attempt's retry exists, or
    # not); `_open`: a SWITCH whose case still runs.
    return bool(task["executed"]) and not task.get("_open")


def _failed(task: TaskRecord) -> bool:
    return task["status"] not in SUCCESSFUL_TASK_STATUSES


def _reasons(tasks: list[TaskRecord]) -> str:
    """Conductor's reason: the failed tasks' reasons, space separated."""
    reasons = [str(task["reasonForIncompletion"]) for task in tasks if task.get("reasonForIncompletion")]
    if reasons:
        return " ".join(reasons)
    return ", ".join(f"{task['referenceTaskName']} ended {task['status']}" for task in tasks)


def _nothing_left_to_run(decider: Decider, join_task: TaskRecord) -> bool:
    """No other task is active or waiting for its outcome to be decided."""
    return all(
        task is join_task or (task["status"] in TERMINAL_TASK_STATUSES and task["executed"])
        for task in decider.state.tasks
    )


def _supersede(decider: Decider, join_task: TaskRecord, newer: TaskRecord) -> None:
    """A newer attempt of this join was scheduled: end this one without deciding it."""
    join_task.update(
        {
            "status": "CANCELED",
            "executed": True,
            "retried": True,
            "endTime": decider.now,
            "updateTime": decider.now,
            "reasonForIncompletion": f"Replaced by the newer attempt {newer['taskId']}",
        }
    )
    decider.clear_timers(join_task)
    decider.state.touch(join_task)


def evaluate_exclusive_join(decider: Decider, join_task: TaskRecord) -> None:
    """Finish the join if the branch it joins is done; otherwise leave it waiting."""
    latest = decider.state.by_ref.get(join_task["referenceTaskName"])
    if latest is not None and latest is not join_task:
        _supersede(decider, join_task, latest)
        return
    iteration = iteration_of(join_task["referenceTaskName"])
    inputs = join_task["inputData"]
    join_on = [str(reference) for reference in inputs.get("joinOn") or []]
    defaults = [str(reference) for reference in inputs.get(DEFAULTS) or []]

    scheduled = _scheduled(decider, join_on, iteration)
    if scheduled:
        joined = scheduled[0]
        if not _done(joined):
            return
        if _failed(joined):
            permissive = decider.workflow_task_of(joined).permissive
            if not permissive or all(_done(task) for task in scheduled):
                failed = [task for task in scheduled if _done(task) and _failed(task)]
                decider.finish(join_task, "FAILED", {}, _reasons(failed))
                return
        decider.finish(join_task, "COMPLETED", dict(joined["outputData"]))
        return

    scheduled = _scheduled(decider, defaults, iteration)
    if scheduled:
        joined = scheduled[0]
        if not _done(joined):
            return
        if _failed(joined):
            decider.finish(join_task, "FAILED", {}, _reasons([joined]))
        else:
            decider.finish(join_task, "COMPLETED", dict(joined["outputData"]))
        return

    if _nothing_left_to_run(decider, join_task):
        reason = (
            f"None of the tasks in joinOn {join_on} or {DEFAULTS} {defaults} was scheduled: there is no branch to join"
        )
        decider.finish(join_task, "FAILED", {}, reason)


@register
class ExclusiveJoinOperator(Operator):
    task_type = TASK_TYPE
    retryable = False
    is_join = True

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        task = site.task
        # Conductor checks nothing here. With neither joinOn nor defaultExclusiveJoinTask
        # there is nothing the join could ever complete on: it fails when it runs.
        if not task.join_on and not task.default_exclusive_join_task:
            return [warning("joinOn is empty; list the tasks it joins (or give defaultExclusiveJoinTask)")]
        findings = [
            warning(f"joinOn names unknown task '{ref}'") for ref in task.join_on if ref not in review.known_refs
        ]
        findings.extend(
            warning(f"defaultExclusiveJoinTask names unknown task '{ref}'")
            for ref in task.default_exclusive_join_task
            if ref not in review.known_refs
        )
        return findings

    def evaluate(self, decider: Decider, task: TaskRecord) -> None:
        evaluate_exclusive_join(decider, task)

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        task["taskType"] = task["taskDefName"] = TASK_TYPE
        task["inputData"] = {
            "joinOn": list(workflow_task.join_on),
            DEFAULTS: list(workflow_task.default_exclusive_join_task),
        }
        decider.start_task(task)
        evaluate_exclusive_join(decider, task)
        if task["status"] == "IN_PROGRESS":
            # Decided later in this step, once what it waits for may have moved.
            decider.mark_joins_dirty()
