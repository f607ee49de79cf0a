"""Retrying a failed task: the delay its TaskDef asks for, and what a failure does when no
retry is left."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from actors.workflow import timeouts
from actors.workflow.operators.base import operator_for
from actors.workflow.state import TaskRecord
from definitions.models import TaskDef, WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Decider

RETRYABLE_STATUSES = frozenset({"FAILED", "TIMED_OUT"})
WORKFLOW_STATUS_AFTER = {"CANCELED": "TERMINATED", "TIMED_OUT": "TIMED_OUT"}


def retry_delay_seconds(task_def: TaskDef | None, retry_count: int) -> int:
    """Delay before attempt `retry_count` (1 = first retry), per the TaskDef's retryLogic,
    capped by maxRetryDelaySeconds."""
    if task_def is None or retry_count <= 0:
        return 0
    base = max(task_def.retry_delay_seconds, 0)
    if task_def.retry_logic == "EXPONENTIAL_BACKOFF":
        delay = base * (2 ** (retry_count - 1))
    elif task_def.retry_logic == "LINEAR_BACKOFF":
        delay = base * max(task_def.backoff_scale_factor, 1) * retry_count
    else:
        delay = base
    if task_def.max_retry_delay_seconds:
        delay = min(delay, task_def.max_retry_delay_seconds)
    return int(delay)


def retry_delay_ms(task_def: TaskDef | None, retry_count: int, task_id: str = "") -> int:
    """The retry delay plus up to backoffJitterMs. The jitter is drawn from the task id
    rather than a random source, so the state machine stays deterministic while
    simultaneous retries still spread out."""
    delay = retry_delay_seconds(task_def, retry_count) * 1000
    if task_def is not None and task_def.backoff_jitter_ms and delay:
        delay += zlib.crc32(task_id.encode()) % (task_def.backoff_jitter_ms + 1)
    return delay


def on_failure(decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
    """A task ended unsuccessfully: retry it per its TaskDef, or let it fail the workflow
    (an optional task completes with errors, a permissive one fails it at the end)."""
    if task.pop("_timesOutWorkflow", False):
        # timeoutPolicy TIME_OUT_WF: no retry, optional or not.
        decider.end_workflow("TIMED_OUT", task.get("reasonForIncompletion"), decider.final_output(task), task)
        return
    task_def = decider.task_def_for(workflow_task)
    allowed = workflow_task.retry_count
    if allowed is None:
        allowed = task_def.retry_count if task_def is not None else 0
    if (
        task["status"] in RETRYABLE_STATUSES
        and operator_for(workflow_task.type).retryable
        and task["retryCount"] < allowed
    ):
        if timeouts.total_budget_spent(decider, task, task_def):
            assert task_def is not None
            status = "TIMED_OUT" if task["status"] == "TIMED_OUT" else "FAILED"
            elapsed = (decider.now - (task.get("firstScheduledTime") or task["scheduledTime"])) // 1000
            reason = (
                f"Task {task['taskId']}/{task['taskDefName']} exceeded total timeout of "
                f"{task_def.total_timeout_seconds} seconds (elapsed {elapsed} seconds across all attempts). "
                "No further retries will be attempted."
            )
            decider.end_workflow(status, reason, decider.final_output(task), task)
            return
        decider.retry_task(task, workflow_task, retry_delay_ms(task_def, task["retryCount"] + 1, task["taskId"]))
        return
    if workflow_task.optional:
        task["status"] = "COMPLETED_WITH_ERRORS"
        decider.advance(task)
        return
    if workflow_task.permissive:
        # The workflow goes on; it fails when it would otherwise complete.
        decider.advance(task)
        return
    status = WORKFLOW_STATUS_AFTER.get(task["status"], "FAILED")
    # Conductor's wording, which users' alerting may match on.
    reason = f"Task {task['taskId']} failed with status: {status} and reason: '{task.get('reasonForIncompletion')}'"
    decider.end_workflow(status, reason, decider.final_output(task), task)
