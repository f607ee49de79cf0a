"""Task and workflow timeouts, each a durable timer the task (or workflow) owns.

Conductor's decider checks every timeout on each sweep; here each is a timer due at the
moment it would trip, so a workflow costs nothing while it waits:

| kind | armed when | trips when | then |
|---|---|---|---|
| `poll` | a worker task is scheduled (pollTimeoutSeconds) | nobody polled it | timeoutPolicy |
| `timeout` | a task starts (timeoutSeconds) | it has not ended | timeoutPolicy |
| `response` | a worker task is polled or reports IN_PROGRESS | no update since | TIMED_OUT, retried |
| `total` | a worker task is first scheduled (totalTimeoutSeconds) | all attempts together overran | timeoutPolicy |
| `workflow_timeout` | the workflow starts or is retried (its timeoutSeconds) | it has not ended | its timeoutPolicy |

A timer whose task has moved on is cleared with the task; one that fires early (it was
re-armed later while already in flight) is armed again for its real due time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.workflow import commands as cmd
from actors.workflow.operators.base import operator_for
from definitions.models import TaskDef

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord

POLL, TIMEOUT, RESPONSE, TOTAL = "poll", "timeout", "response", "total"
TASK_TIMEOUT_KINDS = frozenset({POLL, TIMEOUT, RESPONSE, TOTAL})
# Workflow-level timers use this in place of a task id.
WORKFLOW_TIMER_TASK = "-"
WORKFLOW_TIMEOUT = "workflow_timeout"


def arm_on_schedule(decider: Decider, task: TaskRecord, task_def: TaskDef, delay_ms: int) -> None:
    if task_def.poll_timeout_seconds:
        decider.set_timer(task, POLL, decider.now + delay_ms + task_def.poll_timeout_seconds * 1000)
    if task_def.total_timeout_seconds:
        decider.set_timer(task, TOTAL, task["firstScheduledTime"] + task_def.total_timeout_seconds * 1000)


def arm_on_start(decider: Decider, task: TaskRecord) -> None:
    timers = task.get("_timers")
    if timers and POLL in timers:
        decider.clear_timer(task, POLL)
    task_def = _task_def_of(decider, task)
    if task_def is None:
        return
    if task_def.timeout_seconds > 0 and not (timers and TIMEOUT in timers):
        decider.set_timer(task, TIMEOUT, task["startTime"] + task_def.timeout_seconds * 1000)
    arm_response(decider, task, task_def)


def arm_response(decider: Decider, task: TaskRecord, task_def: TaskDef | None = None) -> None:
    """Restart the heartbeat window of a worker task: polled, or an IN_PROGRESS update."""
    task_def = task_def or _task_def_of(decider, task)
    if task_def is None or task_def.response_timeout_seconds <= 0:
        return
    if not operator_for(decider.workflow_task_of(task).type).runs_on_worker:
        return
    window = (task.get("callbackAfterSeconds", 0) + task_def.response_timeout_seconds) * 1000
    decider.set_timer(task, RESPONSE, decider.now + window)


def on_task_timer(decider: Decider, task: TaskRecord, kind: str) -> None:
    timers = task.get("_timers") or {}
    due = timers.pop(kind, None)
    if not timers:
        task.pop("_timers", None)
    decider.state.touch(task)
    if due is None:
        return  # cleared or superseded: the task moved on
    if due > decider.now:
        decider.set_timer(task, kind, due)
        return
    task_def = _task_def_of(decider, task)
    if task_def is None:
        return
    status = task["status"]
    if kind == RESPONSE and status == "IN_PROGRESS":
        reason = (
            f"responseTimeout: {task_def.response_timeout_seconds} exceeded for the taskId: {task['taskId']} "
            f"with Task Definition: {task['taskDefName']}"
        )
        _time_out(decider, task, reason)
    elif kind == POLL and status == "SCHEDULED":
        elapsed = (decider.now - task["scheduledTime"]) // 1000
        reason = (
            f"Task poll timed out after {elapsed} seconds. Poll timeout configured as "
            f"{task_def.poll_timeout_seconds} seconds. Timeout policy configured to {task_def.timeout_policy}"
        )
        time_out_with_policy(decider, task, task_def, reason)
    elif kind == TIMEOUT and status == "IN_PROGRESS":
        elapsed = (decider.now - task["startTime"]) // 1000
        reason = (
            f"Task timed out after {elapsed} seconds. Timeout configured as {task_def.timeout_seconds} seconds. "
            f"Timeout policy configured to {task_def.timeout_policy}"
        )
        time_out_with_policy(decider, task, task_def, reason)
    elif kind == TOTAL:
        elapsed = (decider.now - task["firstScheduledTime"]) // 1000
        reason = (
            f"Task {task['taskDefName']}/{task['taskId']} exceeded total timeout of {task_def.total_timeout_seconds} "
            f"seconds (elapsed {elapsed} seconds across all attempts including retry delays). "
            f"Timeout policy: {task_def.timeout_policy}"
        )
        time_out_with_policy(decider, task, task_def, reason)


def time_out_with_policy(decider: Decider, task: TaskRecord, task_def: TaskDef, reason: str) -> None:
    if task_def.timeout_policy == "ALERT_ONLY":
        decider.emit(cmd.Alert(f"workflow {decider.state.workflow_id}: {reason}"))
        return
    if task_def.timeout_policy == "TIME_OUT_WF":
        # Decided in retries.on_failure: the workflow times out, the task is not retried.
        task["_timesOutWorkflow"] = True
    _time_out(decider, task, reason)


def _time_out(decider: Decider, task: TaskRecord, reason: str) -> None:
    decider.finish(task, "TIMED_OUT", reason=reason)
    if operator_for(decider.workflow_task_of(task).type).runs_on_worker:
        # No worker may pick up (or keep a slot for) an attempt that already timed out.
        decider.emit(cmd.CancelTask(task))


def total_budget_spent(decider: Decider, task: TaskRecord, task_def: TaskDef | None) -> bool:
    """Whether totalTimeoutSeconds leaves no room for another attempt."""
    if task_def is None or not task_def.total_timeout_seconds:
        return False
    first: int = task.get("firstScheduledTime") or task["scheduledTime"]
    return decider.now - first >= task_def.total_timeout_seconds * 1000


# -- the workflow's own timeout ----------------------------------------------------------------


def workflow_timeout_due(decider: Decider) -> int | None:
    seconds = decider.state.definition.timeout_seconds
    if seconds <= 0:
        return None
    workflow = decider.state.workflow
    # As in Conductor, a retried workflow gets its full time again.
    began: int = workflow.get("lastRetriedTime") or workflow["createTime"]
    return began + seconds * 1000


def arm_workflow_timeout(decider: Decider) -> None:
    due = workflow_timeout_due(decider)
    if due is not None:
        decider.emit(cmd.SetTimer(WORKFLOW_TIMER_TASK, WORKFLOW_TIMEOUT, due))


def on_workflow_timer(decider: Decider, kind: str) -> None:
    if kind != WORKFLOW_TIMEOUT:
        return
    due = workflow_timeout_due(decider)
    if due is None:
        return
    if due > decider.now:
        decider.emit(cmd.SetTimer(WORKFLOW_TIMER_TASK, WORKFLOW_TIMEOUT, due))
        return
    definition = decider.state.definition
    workflow = decider.state.workflow
    elapsed = (decider.now - (workflow.get("lastRetriedTime") or workflow["createTime"])) // 1000
    reason = (
        f"Workflow timed out after {elapsed} seconds. Timeout configured as {definition.timeout_seconds} seconds. "
        f"Timeout policy configured to {definition.timeout_policy}"
    )
    if definition.timeout_policy == "TIME_OUT_WF":
        decider.end_workflow("TIMED_OUT", reason)
    else:
        decider.emit(cmd.Alert(f"workflow {workflow['workflowId']}: {reason}"))


def _task_def_of(decider: Decider, task: TaskRecord) -> TaskDef | None:
    try:
        workflow_task = decider.workflow_task_of(task)
    except KeyError:
        return None
    return decider.task_def_for(workflow_task)
