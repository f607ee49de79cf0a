"""Drives the pure state machine in tests: an in-memory clock, ids and task defs."""

from __future__ import annotations

import itertools
from typing import Any

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from actors.workflow.machine import handle, start_workflow
from actors.workflow.state import WorkflowState
from definitions.models import TaskDef, WorkflowDef


class FakeEnvironment:
    def __init__(self, task_defs: dict[str, TaskDef] | None = None) -> None:
        self.task_defs = task_defs or {}
        self._ids = itertools.count(1)

    def new_id(self) -> str:
        return f"id-{next(self._ids)}"

    def task_def(self, name: str) -> TaskDef | None:
        return self.task_defs.get(name)


class Run:
    """One execution and every command it produced, with a hand-moved clock."""

    def __init__(
        self,
        definition: dict[str, Any] | WorkflowDef,
        workflow_input: dict[str, Any] | None = None,
        task_defs: list[dict[str, Any]] | None = None,
        now: int = 1_000_000,
        **start: Any,
    ) -> None:
        """`start` holds further StartWorkflow fields: correlation_id, task_to_domain, ..."""
        self.env = FakeEnvironment({d["name"]: TaskDef.model_validate(d) for d in task_defs or []})
        self.now = now
        if not isinstance(definition, WorkflowDef):
            definition = WorkflowDef.model_validate(definition)
        self.state: WorkflowState
        self.state, self.commands = start_workflow(
            ev.StartWorkflow(workflow_id="wf-1", definition=definition, input=workflow_input or {}, **start),
            self.now,
            self.env,
        )

    def send(self, event: ev.Event) -> list[cmd.Command]:
        produced = handle(self.state, event, self.now, self.env)
        self.commands.extend(produced)
        return produced

    @property
    def status(self) -> str:
        return self.state.workflow["status"]

    @property
    def output(self) -> dict[str, Any]:
        return self.state.workflow["output"]

    def task(self, reference_name: str) -> dict[str, Any]:
        return self.state.by_ref[reference_name]

    def statuses(self) -> dict[str, str]:
        return {t["referenceTaskName"]: t["status"] for t in self.state.tasks}

    def waiting_worker_tasks(self) -> list[dict[str, Any]]:
        dispatched = {c.task["taskId"] for c in self.commands if isinstance(c, cmd.DispatchTask)}
        waiting = ("SCHEDULED", "IN_PROGRESS")
        return [t for t in self.state.tasks if t["taskId"] in dispatched and t["status"] in waiting]

    def complete(self, reference_name: str, output: dict[str, Any] | None = None) -> list[cmd.Command]:
        return self.send(ev.TaskUpdate(self.task(reference_name)["taskId"], "COMPLETED", output or {}))

    def fail(self, reference_name: str, reason: str = "boom", terminal: bool = False) -> list[cmd.Command]:
        status = "FAILED_WITH_TERMINAL_ERROR" if terminal else "FAILED"
        return self.send(ev.TaskUpdate(self.task(reference_name)["taskId"], status, {}, reason))

    def complete_all_waiting(self, output: dict[str, Any] | None = None) -> int:
        waiting = self.waiting_worker_tasks()
        for task in waiting:
            self.send(ev.TaskUpdate(task["taskId"], "COMPLETED", output or {}))
        return len(waiting)
