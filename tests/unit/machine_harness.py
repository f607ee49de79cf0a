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
        # (task type, domain) pairs with a worker polling: what active_domain answers from.
        self.polling: set[tuple[str, str]] = set()

    def new_id(self) -> str:
        return f"id-{next(self._ids)}"

    def task_def(self, name: str) -> TaskDef | None:
        return self.task_defs.get(name)

    def active_domain(self, task_type: str, domains: list[str], now: int) -> str | None:
        return next((domain for domain in domains if (task_type, domain) in self.polling), None)


class Run:
    """One execution and every command it produced, with a hand-moved clock."""

    def __init__(
        self,
        definition: dict[str, Any] | WorkflowDef,
        workflow_input: dict[str, Any] | None = None,
        task_defs: list[dict[str, Any]] | None = None,
        now: int = 1_000_000,
        polling: set[tuple[str, str]] | None = None,
        **start: Any,
    ) -> None:
        """`start` holds further StartWorkflow fields: correlation_id, task_to_domain, ...;
        `polling` the (task type, domain) pairs with an active worker."""
        self.env = FakeEnvironment({d["name"]: TaskDef.model_validate(d) for d in task_defs or []})
        self.env.polling = polling or set()
        self.now = now
        if not isinstance(definition, WorkflowDef):
            definition = WorkflowDef.model_validate(definition)
        self.state: WorkflowState
        # Durable timers set and neither cleared nor fired yet: (task id, kind) -> due.
        self.timers: dict[tuple[str, str], int] = {}
        self.state, self.commands = start_workflow(
            ev.StartWorkflow(workflow_id="wf-1", definition=definition, input=workflow_input or {}, **start),
            self.now,
            self.env,
        )
        self._track_timers(self.commands)

    def send(self, event: ev.Event) -> list[cmd.Command]:
        produced = handle(self.state, event, self.now, self.env)
        self.commands.extend(produced)
        self._track_timers(produced)
        return produced

    # -- durable timers, as a shard's timer service keeps them ------------------------------

    def _track_timers(self, produced: list[cmd.Command]) -> None:
        for command in produced:
            if isinstance(command, cmd.SetTimer):
                self.timers[(command.task_id, command.kind)] = command.due_ms
            elif isinstance(command, cmd.ClearTimer):
                self.timers.pop((command.task_id, command.kind), None)

    def timer(self, task_id: str, kind: str) -> int | None:
        """When the live timer `kind` of `task_id` is due, or None if there is none."""
        return self.timers.get((task_id, kind))

    def advance(self, ms: int) -> list[cmd.Command]:
        """Move the clock on by `ms`; see `advance_to`."""
        return self.advance_to(self.now + ms)

    def advance_to(self, moment: int) -> list[cmd.Command]:
        """Move the clock to `moment`, firing every timer due by then in due order, each at
        its own due time (a timer a firing sets, if due by then, fires too)."""
        produced: list[cmd.Command] = []
        while True:
            due = [(when, key) for key, when in self.timers.items() if when <= moment]
            if not due:
                break
            when, (task_id, kind) = min(due)
            del self.timers[(task_id, kind)]
            self.now = max(self.now, when)
            produced.extend(self.send(ev.TimerFired(task_id, kind)))
        self.now = max(self.now, moment)
        return produced

    def fire(self, task_id: str, kind: str) -> list[cmd.Command]:
        """Deliver one timer now, due or not (a late or duplicate delivery)."""
        self.timers.pop((task_id, kind), None)
        return self.send(ev.TimerFired(task_id, kind))

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

    def poll(self, reference_name: str, worker_id: str | None = "worker") -> list[cmd.Command]:
        """A worker takes the task (Conductor's poll: SCHEDULED -> IN_PROGRESS)."""
        return self.send(ev.TaskPolled(self.task(reference_name)["taskId"], worker_id))

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
