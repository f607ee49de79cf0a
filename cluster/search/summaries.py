"""Conductor's result shapes (WorkflowSummary, TaskSummary) and their ordering."""

from __future__ import annotations

import time
from typing import Any

import orjson

from cluster.search.query import (
    Json,
)


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is not None, value if value is not None else 0)


def sort_summaries(summaries: list[Json], order: list[tuple[str, bool]], id_field: str) -> list[Json]:
    """Sorted by each key in turn; ties by id, in the direction of the last key."""
    ordered = sorted(summaries, key=lambda s: s[id_field], reverse=order[-1][1])
    for name, descending in reversed(order):
        # Missing values (no correlation id, not ended) sort before any value.
        def key(summary: Json, name: str = name) -> tuple[bool, Any]:
            return _sort_key(summary.get(name))

        ordered.sort(key=key, reverse=descending)
    return ordered


# -- Conductor's result shapes --------------------------------------------------------------


def iso_time(epoch_ms: int) -> str:
    """Conductor's summary time format: yyyy-MM-dd'T'HH:mm:ss.SSS'Z', in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms // 1000)) + f".{epoch_ms % 1000:03d}Z"


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def workflow_summary(workflow: Json) -> Json:
    """Conductor's WorkflowSummary of an execution (WorkflowSummary.java): times as text,
    input and output as JSON text, failed reference names joined by commas."""
    end = workflow.get("endTime") or 0
    summary: Json = {
        "workflowType": workflow.get("workflowName"),
        "version": workflow.get("workflowVersion"),
        "workflowId": workflow.get("workflowId"),
        "correlationId": workflow.get("correlationId"),
        "startTime": iso_time(workflow.get("createTime") or workflow.get("startTime") or 0),
        "updateTime": iso_time(workflow["updateTime"]) if workflow.get("updateTime") else None,
        "endTime": iso_time(end) if end > 0 else None,
        "status": workflow.get("status"),
        "input": _json_text(workflow.get("input") or {}),
        "output": _json_text(workflow.get("output") or {}),
        "reasonForIncompletion": workflow.get("reasonForIncompletion"),
        "executionTime": end - (workflow.get("startTime") or 0) if end > 0 else 0,
        "event": workflow.get("event"),
        "failedReferenceTaskNames": ",".join(workflow.get("failedReferenceTaskNames") or []),
        "failedTaskNames": list(workflow.get("failedTaskNames") or []),
        "priority": workflow.get("priority") or 0,
        "createdBy": workflow.get("createdBy"),
        "taskToDomain": workflow.get("taskToDomain") or {},
        "idempotencyKey": workflow.get("idempotencyKey"),
        "parentWorkflowId": workflow.get("parentWorkflowId") or "",
    }
    return {key: value for key, value in summary.items() if value is not None}


def task_summary(task: Json) -> Json:
    """Conductor's TaskSummary of a task (TaskSummary.java)."""
    scheduled = task.get("scheduledTime") or 0
    started = task.get("startTime") or 0
    end = task.get("endTime") or 0
    summary: Json = {
        "workflowId": task.get("workflowInstanceId"),
        "workflowType": task.get("workflowType"),
        "correlationId": task.get("correlationId"),
        "scheduledTime": iso_time(scheduled),
        "startTime": iso_time(started),
        "updateTime": iso_time(task.get("updateTime") or 0),
        "endTime": iso_time(end),
        "status": task.get("status"),
        "reasonForIncompletion": task.get("reasonForIncompletion"),
        "executionTime": end - started if end > 0 else 0,
        "queueWaitTime": started - scheduled if started > 0 and scheduled > 0 else 0,
        "taskDefName": task.get("taskDefName"),
        "taskType": task.get("taskType"),
        "input": _json_text(task.get("inputData") or {}),
        "output": _json_text(task.get("outputData") or {}),
        "taskId": task.get("taskId"),
        "workflowPriority": task.get("workflowPriority") or 0,
        "domain": task.get("domain"),
    }
    return {key: value for key, value in summary.items() if value is not None}
