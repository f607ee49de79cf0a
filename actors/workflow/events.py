"""Events a workflow actor handles, one at a time, in order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

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


class StartFields(TypedDict, total=False):
    """A start on its way to the shard that runs it, from a gateway (`POST /api/workflow`
    and the other starts of the API) or in a parent's `start_child` message (which adds
    its own keys, see actors/messages.py); `start_from_wire` makes it the event."""

    workflowId: str
    # The definition's JSON (bytes from a gateway); the shard parses it once per definition.
    definition: bytes | dict[str, Any]
    input: dict[str, Any]
    correlationId: str | None
    priority: int
    taskToDomain: dict[str, str]
    createdBy: str | None
    idempotencyKey: str | None
    parentWorkflowId: str | None
    parentWorkflowTaskId: str | None


def start_from_wire(workflow_id: str, definition: WorkflowDef, fields: Mapping[str, Any]) -> StartWorkflow:
    """A start from its JSON fields, as a gateway's request or a parent's message carries them."""
    return StartWorkflow(
        workflow_id=workflow_id,
        definition=definition,
        input=fields.get("input") or {},
        correlation_id=fields.get("correlationId"),
        priority=fields.get("priority") or 0,
        task_to_domain=fields.get("taskToDomain") or {},
        parent_workflow_id=fields.get("parentWorkflowId"),
        parent_workflow_task_id=fields.get("parentWorkflowTaskId"),
        created_by=fields.get("createdBy"),
        idempotency_key=fields.get("idempotencyKey"),
    )


@dataclass(frozen=True, slots=True)
class NextTaskWanted:
    """The worker sending a result also asks for its next task (update-v2): type, domain
    and its worker id, as a poll would give them."""

    task_type: str
    domain: str | None
    worker_id: str | None


@dataclass(slots=True)
class TaskUpdate:
    """A worker's result (Conductor's TaskResult) or a completion through the API."""

    task_id: str
    status: str
    output_data: dict[str, Any] = field(default_factory=dict)
    reason_for_incompletion: str | None = None
    callback_after_seconds: int = 0
    worker_id: str | None = None
    # Set by update-v2: a task of that type this result schedules goes straight back to
    # the worker, in the same step, rather than through its queue (the shard does this).
    next_wanted: NextTaskWanted | None = None


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
    # Conductor's triggerFailureWorkflow: start the definition's failureWorkflow anyway.
    trigger_failure_workflow: bool = False


@dataclass(slots=True)
class Redispatch:
    """After a reload from Redis: hand every waiting task to its worker again."""


# -- lifecycle operations (Conductor's /workflow/{id}/restart, /retry, /rerun, ...) -----------


@dataclass(slots=True)
class Restart:
    """Run an ended workflow again from its first task, with the same id and input.

    `definition_json` (set by the gateway for useLatestDefinitions) replaces the
    definition; the shard parses it into `definition` before the machine sees it.
    """

    definition_json: bytes | None = None
    definition: WorkflowDef | None = None


@dataclass(slots=True)
class Retry:
    """Reschedule the last failed, timed-out or cancelled attempt of each task."""

    resume_subworkflow_tasks: bool = False


@dataclass(slots=True)
class Rerun:
    """Run again from one task (or from the start when `task_id` is None)."""

    task_id: str | None = None
    task_input: dict[str, Any] | None = None
    workflow_input: dict[str, Any] | None = None
    correlation_id: str | None = None


@dataclass(slots=True)
class SkipTask:
    """Mark a task the workflow has not reached yet as SKIPPED."""

    reference_name: str
    task_input: dict[str, Any] | None = None
    task_output: dict[str, Any] | None = None


@dataclass(slots=True)
class ResetCallbacks:
    """Make every task waiting out a callbackAfterSeconds or retry delay visible now."""


@dataclass(slots=True)
class Decide:
    """Re-evaluate the workflow now (Conductor's PUT /workflow/decide/{id})."""


@dataclass(slots=True)
class ChildReopened:
    """A child this task started was restarted, retried or rerun: wait for it again."""

    task_id: str
    child_workflow_id: str


@dataclass(slots=True)
class UpdateVariables:
    """Merge `variables` into the workflow's variables (an event handler's
    update_workflow_variables); with `append_array`, a list variable gets the new values
    appended instead of replaced."""

    variables: dict[str, Any] = field(default_factory=dict)
    append_array: bool = False


class Rejected(Exception):
    """A lifecycle operation the execution's state does not allow; nothing was changed.

    `status` is the HTTP status the gateway answers with (409 wrong state, 400 bad request).
    """

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


Event = (
    StartWorkflow
    | TaskUpdate
    | TaskPolled
    | ChildFinished
    | TimerFired
    | Pause
    | Resume
    | Terminate
    | Redispatch
    | Restart
    | Retry
    | Rerun
    | SkipTask
    | ResetCallbacks
    | Decide
    | ChildReopened
    | UpdateVariables
)
