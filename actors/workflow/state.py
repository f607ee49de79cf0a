"""One workflow execution's state: Conductor's Workflow and Task JSON shapes as dicts.

Dicts rather than models because the state is read and written on every step and is
already the shape the API returns and Redis stores; `TaskRecord` and `WorkflowRecord`
declare every key, Conductor's and Podium's own. Keys starting with `_` are internal
bookkeeping, stored with the checkpoint; `public_task` strips them.
"""

from __future__ import annotations

from typing import Any, TypedDict, cast

from actors.workflow.graph import DefinitionGraph, graph_of
from actors.workflow.operators.base import operator_for
from definitions.models import TERMINAL_TASK_STATUSES, WorkflowDef

Json = dict[str, Any]


class TaskRecord(TypedDict, total=False):
    """One task execution: Conductor's Task JSON, plus Podium's internal keys."""

    taskId: str
    taskType: str
    taskDefName: str
    referenceTaskName: str
    status: str
    seq: int
    iteration: int
    inputData: Json
    outputData: Json
    reasonForIncompletion: str
    workflowInstanceId: str
    workflowType: str
    workflowPriority: int
    correlationId: str
    domain: str | None
    workerId: str
    retryCount: int
    retried: bool
    retriedTaskId: str
    # Whether the workflow has acted on this task's terminal status (Conductor's meaning).
    executed: bool
    pollCount: int
    callbackFromWorker: bool
    callbackAfterSeconds: int
    responseTimeoutSeconds: int
    startDelayInSeconds: int
    scheduledTime: int
    firstScheduledTime: int
    startTime: int
    endTime: int
    updateTime: int
    waitTimeout: int
    subWorkflowId: str
    # A task the definition does not hold (DYNAMIC, dynamic fork branches): its WorkflowTask.
    workflowTask: Json
    # -- Podium's own ------------------------------------------------------------------
    # A loop iteration's reference name without its `__<n>` suffix.
    _baseRef: str
    # A DO_WHILE: the seq after which its current iteration's tasks begin.
    _iterationStartSeq: int
    # A SWITCH whose chosen case is still running (its success does not advance yet).
    _open: bool
    # The durable timers armed for this task: kind -> due (ms).
    _timers: dict[str, int]
    # A queued task a worker may not poll before this time (ms): a retry or callback delay.
    _visibleAt: int
    # Skipped through the API before the workflow reached it.
    _skipAhead: bool
    # Its timeout times the workflow out (timeoutPolicy TIME_OUT_WF) rather than failing it.
    _timesOutWorkflow: bool


class WorkflowRecord(TypedDict, total=False):
    """One execution's Workflow JSON, without its tasks (those are `TaskRecord`s)."""

    workflowId: str
    workflowName: str
    workflowVersion: int
    status: str
    input: Json
    output: Json
    variables: Json
    correlationId: str
    idempotencyKey: str
    priority: int
    taskToDomain: dict[str, str]
    reasonForIncompletion: str
    failedReferenceTaskNames: list[str]
    failedTaskNames: list[str]
    failedTaskId: str
    parentWorkflowId: str
    parentWorkflowTaskId: str
    reRunFromWorkflowId: str
    event: str
    externalInputPayloadStoragePath: str
    ownerApp: str
    createdBy: str
    createTime: int
    startTime: int
    endTime: int
    updateTime: int
    lastRetriedTime: int


class WorkflowState:
    __slots__ = (
        "by_id",
        "by_ref",
        "definition",
        "dirty_task_ids",
        "graph",
        "joins",
        "meta_dirty",
        "pending",
        "removed_task_ids",
        "skip_ahead",
        "tasks",
        "workflow",
    )

    def __init__(
        self, workflow: WorkflowRecord, definition: WorkflowDef, tasks: list[TaskRecord] | None = None
    ) -> None:
        self.workflow: WorkflowRecord = workflow
        self.definition = definition
        self.graph: DefinitionGraph = graph_of(definition)
        self.tasks: list[TaskRecord] = []
        self.by_id: dict[str, TaskRecord] = {}
        # Latest execution of each reference name; a loop task is also reachable
        # through its base name, which then means its latest iteration.
        self.by_ref: dict[str, TaskRecord] = {}
        # The JOIN and EXCLUSIVE_JOIN tasks, which every step may have to evaluate.
        self.joins: list[TaskRecord] = []
        # Tasks that reached a terminal status and whose consequences are not yet decided.
        self.pending: list[TaskRecord] = []
        self.dirty_task_ids: set[str] = set()
        # Tasks a restart or rerun dropped, to delete from the checkpoint.
        self.removed_task_ids: set[str] = set()
        self.meta_dirty = True
        # Whether some task was skipped through the API before the workflow reached it.
        self.skip_ahead = False
        for task in sorted(tasks or (), key=lambda t: t["seq"]):
            self.add_task(task, dirty=False)
            if task["status"] in TERMINAL_TASK_STATUSES and not task.get("executed"):
                self.pending.append(task)
        if tasks:
            self.meta_dirty = False

    @property
    def workflow_id(self) -> str:
        return str(self.workflow["workflowId"])

    @property
    def status(self) -> str:
        return str(self.workflow["status"])

    def add_task(self, task: TaskRecord, dirty: bool = True) -> None:
        self.tasks.append(task)
        self.by_id[task["taskId"]] = task
        reference = task["referenceTaskName"]
        self.by_ref[reference] = task
        base = task.get("_baseRef")
        if base:
            self.by_ref[base] = task
        if "_skipAhead" in task:
            self.skip_ahead = True
        if operator_for(task["taskType"]).is_join:
            self.joins.append(task)
        if dirty:
            self.dirty_task_ids.add(task["taskId"])

    def remove_tasks(self, task_ids: set[str]) -> None:
        """Forget these tasks (a restart or rerun); the next checkpoint deletes them."""
        if not task_ids:
            return
        kept = [task for task in self.tasks if task["taskId"] not in task_ids]
        self.tasks, self.by_id, self.by_ref, self.joins = [], {}, {}, []
        for task in kept:
            self.add_task(task, dirty=False)
        self.pending = [task for task in self.pending if task["taskId"] not in task_ids]
        self.dirty_task_ids -= task_ids
        self.removed_task_ids |= task_ids

    def replace_definition(self, definition: WorkflowDef) -> None:
        self.definition = definition
        self.graph = graph_of(definition)

    def touch(self, task: TaskRecord) -> None:
        self.dirty_task_ids.add(task["taskId"])

    def touch_workflow(self) -> None:
        self.meta_dirty = True

    def active_tasks(self) -> list[TaskRecord]:
        return [task for task in self.tasks if task["status"] not in TERMINAL_TASK_STATUSES]

    def has_active_task(self) -> bool:
        # Newest first: what still runs is nearly always at the end of a long history.
        return any(task["status"] not in TERMINAL_TASK_STATUSES for task in reversed(self.tasks))


def public_task(task: TaskRecord | Json) -> Json:
    """The task as the API shows it: without Podium's internal keys."""
    if any(key[0] == "_" for key in task):
        return {key: value for key, value in task.items() if key[0] != "_"}
    return cast(Json, task)
