"""Side effects a step asks for. The shard writes the checkpoint first, then does them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from actors.workflow.state import TaskRecord


@dataclass(slots=True)
class DispatchTask:
    """Give a worker task to its Python pool or its Redis queue, visible after `delay_ms`."""

    task: TaskRecord
    delay_ms: int = 0


@dataclass(slots=True)
class CancelTask:
    """Take a task that will not run any more out of its queue."""

    task: TaskRecord


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
class ClearTimer:
    task_id: str
    kind: str


@dataclass(slots=True)
class WorkflowEnded:
    status: str


@dataclass(slots=True)
class WorkflowReopened:
    """An ended workflow runs again (restart, retry, rerun, a reopened child): index it as running."""


@dataclass(slots=True)
class StartWorkflow:
    """Start an unrelated workflow (a failureWorkflow, a START_WORKFLOW task's): by name at
    `version` (None: the latest), or from an inline `definition`."""

    workflow_id: str
    name: str
    input: dict[str, Any]
    correlation_id: str | None
    priority: int
    task_to_domain: dict[str, str] = field(default_factory=dict)
    version: int | None = None
    definition: dict[str, Any] | None = None


@dataclass(slots=True)
class ReopenParent:
    """This child runs again: its parent's SUB_WORKFLOW task must wait for it again."""

    parent_workflow_id: str
    parent_task_id: str
    child_workflow_id: str


@dataclass(slots=True)
class RetryChild:
    """Retry a failed child in place (retry with resumeSubworkflowTasks)."""

    child_workflow_id: str
    parent_workflow_id: str
    parent_task_id: str


@dataclass(slots=True)
class CallHttp:
    """Make an HTTP task's request; its answer comes back as a task update."""

    task: TaskRecord
    async_complete: bool = False


@dataclass(slots=True)
class PublishEvent:
    """An EVENT task's message: added to the event bus in the step's own checkpoint, or,
    for a sink that names a broker (`external`), to the outbox gateways publish from."""

    event: str
    payload: dict[str, Any]
    message_id: str
    external: bool = False


@dataclass(slots=True)
class Alert:
    """A timeout under policy ALERT_ONLY: reported, nothing else happens."""

    message: str


# The timer kind a shard sets to hand a delayed task to its Python pool.
DISPATCH_TIMER = "dispatch"

Command = (
    DispatchTask
    | CancelTask
    | StartChild
    | TerminateChild
    | NotifyParent
    | SetTimer
    | ClearTimer
    | WorkflowEnded
    | WorkflowReopened
    | StartWorkflow
    | ReopenParent
    | RetryChild
    | CallHttp
    | PublishEvent
    | Alert
)
