"""One workflow execution's state: Conductor's Workflow and Task JSON shapes as dicts.

Dicts rather than models because the state is read and written on every step and is
already the shape the API returns and Redis stores. Keys starting with `_` are internal
bookkeeping; `public_task` strips them.
"""

from __future__ import annotations

from typing import Any

from actors.workflow.graph import DefinitionGraph, graph_of
from actors.workflow.operators.base import operator_for
from definitions.models import TERMINAL_TASK_STATUSES, WorkflowDef

Json = dict[str, Any]


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

    def __init__(self, workflow: Json, definition: WorkflowDef, tasks: list[Json] | None = None) -> None:
        self.workflow = workflow
        self.definition = definition
        self.graph: DefinitionGraph = graph_of(definition)
        self.tasks: list[Json] = []
        self.by_id: dict[str, Json] = {}
        # Latest execution of each reference name; a loop task is also reachable
        # through its base name, which then means its latest iteration.
        self.by_ref: dict[str, Json] = {}
        # The JOIN and EXCLUSIVE_JOIN tasks, which every step may have to evaluate.
        self.joins: list[Json] = []
        # Tasks that reached a terminal status and whose consequences are not yet decided.
        self.pending: list[Json] = []
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

    def add_task(self, task: Json, dirty: bool = True) -> None:
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

    def touch(self, task: Json) -> None:
        self.dirty_task_ids.add(task["taskId"])

    def touch_workflow(self) -> None:
        self.meta_dirty = True

    def active_tasks(self) -> list[Json]:
        return [task for task in self.tasks if task["status"] not in TERMINAL_TASK_STATUSES]

    def has_active_task(self) -> bool:
        # Newest first: what still runs is nearly always at the end of a long history.
        return any(task["status"] not in TERMINAL_TASK_STATUSES for task in reversed(self.tasks))


def public_task(task: Json) -> Json:
    if any(key[0] == "_" for key in task):
        return {key: value for key, value in task.items() if key[0] != "_"}
    return task
