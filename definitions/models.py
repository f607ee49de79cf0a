"""Conductor's DSL as pydantic models.

Field names are snake_case in Python and Conductor's camelCase on the wire. Unknown
fields are kept (``extra="allow"``) so definitions written for newer Conductor
versions load, round-trip and never crash a request.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
from pydantic.alias_generators import to_camel


class ConductorModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        protected_namespaces=(),
    )

    def to_wire(self) -> dict[str, Any]:
        """The camelCase JSON shape, without fields nobody set."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class TaskStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"
    FAILED_WITH_TERMINAL_ERROR = "FAILED_WITH_TERMINAL_ERROR"
    TIMED_OUT = "TIMED_OUT"
    CANCELED = "CANCELED"
    SKIPPED = "SKIPPED"

    @property
    def is_terminal(self) -> bool:
        return self not in (TaskStatus.SCHEDULED, TaskStatus.IN_PROGRESS)

    @property
    def is_successful(self) -> bool:
        return self in (TaskStatus.COMPLETED, TaskStatus.COMPLETED_WITH_ERRORS, TaskStatus.SKIPPED)


class WorkflowStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    TERMINATED = "TERMINATED"
    PAUSED = "PAUSED"

    @property
    def is_terminal(self) -> bool:
        return self not in (WorkflowStatus.RUNNING, WorkflowStatus.PAUSED)


TERMINAL_TASK_STATUSES = frozenset(s.value for s in TaskStatus if s.is_terminal)
SUCCESSFUL_TASK_STATUSES = frozenset(s.value for s in TaskStatus if s.is_successful)
TERMINAL_WORKFLOW_STATUSES = frozenset(s.value for s in WorkflowStatus if s.is_terminal)


class TaskDef(ConductorModel):
    # Empty only for a definition embedded in a WorkflowTask; the metadata API requires it.
    name: str = ""
    description: str | None = None
    retry_count: int = 3
    timeout_seconds: int = 0
    input_keys: list[str] = Field(default_factory=list)
    output_keys: list[str] = Field(default_factory=list)
    timeout_policy: str = "TIME_OUT_WF"
    retry_logic: str = "FIXED"
    retry_delay_seconds: int = 60
    response_timeout_seconds: int = 3600
    concurrent_exec_limit: int | None = None
    input_template: dict[str, Any] = Field(default_factory=dict)
    rate_limit_per_frequency: int | None = None
    rate_limit_frequency_in_seconds: int | None = None
    isolation_group_id: str | None = None
    execution_name_space: str | None = None
    owner_email: str | None = None
    poll_timeout_seconds: int | None = None
    backoff_scale_factor: int = 1
    base_type: str | None = None
    total_timeout_seconds: int | None = None
    max_retry_delay_seconds: int | None = None
    backoff_jitter_ms: int | None = None
    create_time: int | None = None
    update_time: int | None = None


@functools.cache
def adhoc_task_def(name: str) -> TaskDef:
    """The TaskDef Conductor gives a worker task whose type has none registered
    (MetadataMapperService: `new TaskDef(name)`): 3 retries 60 s apart, a one-hour
    response timeout, TIME_OUT_WF. Shared and cached: callers must not change it."""
    return TaskDef(name=name)


class SubWorkflowParams(ConductorModel):
    name: str | None = None
    version: int | None = None
    task_to_domain: dict[str, str] | None = None
    # An inline definition (a dict or WorkflowDef) or an expression resolving to one.
    workflow_definition: Any = None
    idempotency_key: str | None = None
    idempotency_strategy: str | None = None
    priority: Any = None


class WorkflowTask(ConductorModel):
    name: str = ""
    task_reference_name: str = ""
    description: str | None = None
    input_parameters: dict[str, Any] = Field(default_factory=dict)
    type: str = "SIMPLE"
    dynamic_task_name_param: str | None = None
    case_value_param: str | None = None
    case_expression: str | None = None
    script_expression: str | None = None
    decision_cases: dict[str, list[WorkflowTask]] = Field(default_factory=dict)
    dynamic_fork_tasks_param: str | None = None
    dynamic_fork_tasks_input_param_name: str | None = None
    default_case: list[WorkflowTask] = Field(default_factory=list)
    fork_tasks: list[list[WorkflowTask]] = Field(default_factory=list)
    start_delay: int = 0
    sub_workflow_param: SubWorkflowParams | None = None
    join_on: list[str] = Field(default_factory=list)
    sink: str | None = None
    optional: bool = False
    task_definition: TaskDef | None = None
    rate_limited: bool | None = None
    default_exclusive_join_task: list[str] = Field(default_factory=list)
    async_complete: bool = False
    loop_condition: str | None = None
    loop_over: list[WorkflowTask] = Field(default_factory=list)
    retry_count: int | None = None
    evaluator_type: str | None = None
    expression: str | None = None
    join_status: str | None = None
    permissive: bool = False

    def children(self) -> list[list[WorkflowTask]]:
        """Every nested task list this task owns: switch cases, fork branches, loop body."""
        lists: list[list[WorkflowTask]] = []
        lists.extend(self.decision_cases.values())
        if self.default_case:
            lists.append(self.default_case)
        lists.extend(self.fork_tasks)
        if self.loop_over:
            lists.append(self.loop_over)
        return lists


class WorkflowDef(ConductorModel):
    name: str
    description: str | None = None
    version: int = 1
    tasks: list[WorkflowTask] = Field(default_factory=list)
    input_parameters: list[str] = Field(default_factory=list)
    output_parameters: dict[str, Any] = Field(default_factory=dict)
    failure_workflow: str | None = None
    schema_version: int = 2
    restartable: bool = True
    workflow_status_listener_enabled: bool = False
    owner_email: str | None = None
    timeout_policy: str = "ALERT_ONLY"
    timeout_seconds: int = 0
    variables: dict[str, Any] = Field(default_factory=dict)
    input_template: dict[str, Any] = Field(default_factory=dict)
    create_time: int | None = None
    update_time: int | None = None
    # Structures the engine derives once per definition object (its task graph).
    _derived: dict[str, Any] = PrivateAttr(default_factory=dict)


class StartWorkflowRequest(ConductorModel):
    name: str
    version: int | None = None
    correlation_id: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    task_to_domain: dict[str, str] = Field(default_factory=dict)
    workflow_def: WorkflowDef | None = None
    priority: int = Field(default=0, ge=0, le=99)
    idempotency_key: str | None = None
    idempotency_strategy: str | None = None
    created_by: str | None = None


class TaskResult(ConductorModel):
    workflow_instance_id: str
    task_id: str
    status: TaskStatus
    output_data: dict[str, Any] = Field(default_factory=dict)
    reason_for_incompletion: str | None = None
    callback_after_seconds: int = 0
    worker_id: str | None = None
    logs: list[Any] = Field(default_factory=list)


class Task(ConductorModel):
    """A task execution as the API shows it (the engine keeps plain dicts of this shape)."""

    task_type: str
    status: TaskStatus
    reference_task_name: str
    task_id: str
    workflow_instance_id: str
    input_data: dict[str, Any] = Field(default_factory=dict)
    output_data: dict[str, Any] = Field(default_factory=dict)
    retry_count: int = 0
    seq: int = 0
    poll_count: int = 0
    task_def_name: str | None = None
    scheduled_time: int = 0
    start_time: int = 0
    end_time: int = 0
    update_time: int = 0
    reason_for_incompletion: str | None = None
    worker_id: str | None = None
    iteration: int = 0
    sub_workflow_id: str | None = None


class Workflow(ConductorModel):
    """A workflow execution as the API shows it (the engine keeps plain dicts of this shape)."""

    workflow_id: str
    workflow_name: str
    workflow_version: int
    status: WorkflowStatus
    input: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] = Field(default_factory=dict)
    tasks: list[Task] = Field(default_factory=list)
    correlation_id: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    create_time: int = 0
    start_time: int = 0
    end_time: int = 0
    update_time: int = 0
    reason_for_incompletion: str | None = None
    parent_workflow_id: str | None = None
    parent_workflow_task_id: str | None = None
    priority: int = 0


# -- event handlers (Conductor's EventHandler) -------------------------------------------------
# Conductor spells the action fields in snake case (`start_workflow`, `complete_task`, ...) and
# `expandInlineJSON` as written, so those carry explicit aliases.

EVENT_ACTIONS = ("start_workflow", "complete_task", "fail_task", "terminate_workflow", "update_workflow_variables")
CONDITION_EVALUATORS = ("value-param", "javascript", "graaljs")


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


class StartWorkflowAction(ConductorModel):
    name: str = ""
    version: int | None = None
    correlation_id: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    task_to_domain: dict[str, str] | None = None


class TaskDetails(ConductorModel):
    """The task a complete_task or fail_task action updates: `taskId`, or `workflowId` and
    `taskRefName`; `output` becomes the task's output."""

    workflow_id: str | None = None
    task_ref_name: str | None = None
    task_id: str | None = None
    output: dict[str, Any] = Field(default_factory=dict)
    reason_for_incompletion: str | None = None

    def names_a_task(self) -> bool:
        return not _blank(self.task_id) or not (_blank(self.workflow_id) or _blank(self.task_ref_name))


class TerminateWorkflowAction(ConductorModel):
    workflow_id: str | None = None
    termination_reason: str | None = None


class UpdateWorkflowVariablesAction(ConductorModel):
    workflow_id: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    append_array: bool | None = None


class EventAction(ConductorModel):
    action: str
    start_workflow: StartWorkflowAction | None = Field(default=None, alias="start_workflow")
    complete_task: TaskDetails | None = Field(default=None, alias="complete_task")
    fail_task: TaskDetails | None = Field(default=None, alias="fail_task")
    terminate_workflow: TerminateWorkflowAction | None = Field(default=None, alias="terminate_workflow")
    update_workflow_variables: UpdateWorkflowVariablesAction | None = Field(
        default=None, alias="update_workflow_variables"
    )
    expand_inline_json: bool = Field(default=False, alias="expandInlineJSON")

    @model_validator(mode="after")
    def _complete(self) -> EventAction:
        """The parameters object named after the action must be there and name its target."""
        if self.action not in EVENT_ACTIONS:
            raise ValueError(f"action '{self.action}' is not supported; use one of {', '.join(EVENT_ACTIONS)}")
        params = getattr(self, self.action)
        if params is None:
            raise ValueError(f"action '{self.action}' needs its parameters in '{self.action}'")
        if isinstance(params, StartWorkflowAction) and _blank(params.name):
            raise ValueError("start_workflow.name is missing")
        if isinstance(params, TaskDetails) and not params.names_a_task():
            raise ValueError(f"{self.action} needs taskId, or workflowId and taskRefName")
        if isinstance(params, TerminateWorkflowAction | UpdateWorkflowVariablesAction) and _blank(params.workflow_id):
            raise ValueError(f"{self.action}.workflowId is missing")
        return self


class EventHandler(ConductorModel):
    """Conductor's EventHandler: on each message of `event` whose payload satisfies
    `condition`, run `actions`. Inactive unless `active` is true, as in Conductor."""

    name: str
    event: str
    condition: str | None = None
    evaluator_type: str | None = None
    actions: list[EventAction]
    active: bool = False

    @model_validator(mode="after")
    def _complete(self) -> EventHandler:
        if _blank(self.name):
            raise ValueError("Missing event handler name")
        if _blank(self.event):
            raise ValueError("Missing event location")
        if not self.actions:
            raise ValueError("No actions specified. Please specify at-least one action")
        if self.evaluator_type is not None and self.evaluator_type not in CONDITION_EVALUATORS:
            raise ValueError(f"evaluatorType '{self.evaluator_type}' is not one of {', '.join(CONDITION_EVALUATORS)}")
        return self
