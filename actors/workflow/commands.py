"""Side effects a step asks for. The shard writes the checkpoint first, then does them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class DispatchTask:
    """Give a worker task to its Python pool or its Redis queue, visible after `delay_ms`."""

    task: dict[str, Any]
    delay_ms: int = 0


@dataclass(slots=True)
class CancelTask:
    """Take a task that will not run any more out of its queue."""

    task: dict[str, Any]


@dataclass(slots=True)
class StartChild:
    child_workflow_id: str
    parent_task_id: str
    name: str | None
    version: int | None
    definition: dict[str, Any] | None
    input: dict[str, Any]
    correlation_id: str | None
    priority: int
    task_to_domain: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class TerminateChild:
    child_workflow_id: str
    reason: str


@dataclass(slots=True)
class NotifyParent:
    parent_workflow_id: str
    parent_task_id: str
    child_workflow_id: str
    status: str
    output: dict[str, Any]
    reason_for_incompletion: str | None


@dataclass(slots=True)
class SetTimer:
    task_id: str
    kind: str
    due_ms: int


@dataclass(slots=True)
class WorkflowEnded:
    status: str


Command = DispatchTask | CancelTask | StartChild | TerminateChild | NotifyParent | SetTimer | WorkflowEnded
