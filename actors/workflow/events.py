"""Events a workflow actor handles, one at a time, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from definitions.models import WorkflowDef


@dataclass(slots=True)
class StartWorkflow:
    workflow_id: str
    definition: WorkflowDef
    input: dict[str, Any] = field(default_factory=dict)
    correlation_id: str | None = None
    priority: int = 0
    task_to_domain: dict[str, str] = field(default_factory=dict)
    parent_workflow_id: str | None = None
    parent_workflow_task_id: str | None = None
    created_by: str | None = None
    idempotency_key: str | None = None


@dataclass(slots=True)
class TaskUpdate:
    """A worker's result (Conductor's TaskResult) or a completion through the API."""

    task_id: str
    status: str
    output_data: dict[str, Any] = field(default_factory=dict)
    reason_for_incompletion: str | None = None
    callback_after_seconds: int = 0
    worker_id: str | None = None


@dataclass(slots=True)
class TaskPolled:
    task_id: str
    worker_id: str | None = None


@dataclass(slots=True)
class ChildFinished:
    task_id: str
    child_workflow_id: str
    status: str
    output: dict[str, Any] = field(default_factory=dict)
    reason_for_incompletion: str | None = None


@dataclass(slots=True)
class TimerFired:
    task_id: str
    kind: str


@dataclass(slots=True)
class Pause:
    pass


@dataclass(slots=True)
class Resume:
    pass


@dataclass(slots=True)
class Terminate:
    reason: str | None = None
    # TERMINATED by an operator, FAILED/COMPLETED by a TERMINATE task.
    status: str = "TERMINATED"


@dataclass(slots=True)
class Redispatch:
    """After a reload from Redis: hand every waiting task to its worker again."""


Event = StartWorkflow | TaskUpdate | TaskPolled | ChildFinished | TimerFired | Pause | Resume | Terminate | Redispatch
