"""Helpers for the operator tests: Conductor's shared definitions and compact views of a run."""

from __future__ import annotations

from typing import Any

from actors.workflow import commands as cmd
from definitions.models import WorkflowDef
from tests.conductor_corpus import read
from tests.unit.machine_harness import Run

Json = dict[str, Any]


def conductor_definition(relative_path: str, name: str | None = None) -> Json:
    """A fresh copy of one workflow definition from Conductor's test suites.

    `relative_path` is relative to the `conductor` folder (`workflows/x.json`); `name`
    picks one definition from a file holding several.
    """
    data = read(relative_path)
    candidates = data if isinstance(data, list) else [data]
    for item in candidates:
        if isinstance(item, dict) and (name is None or item.get("name") == name):
            return item
    raise LookupError(f"no workflow definition named {name!r} in {relative_path}")


def rows(run: Run) -> list[tuple[str, str, str]]:
    """(referenceTaskName, taskType, status) of every task, in order."""
    return [(t["referenceTaskName"], t["taskType"], t["status"]) for t in run.state.tasks]


def types(run: Run) -> list[tuple[str, str]]:
    """(taskType, status) of every task, in order, as Conductor's specs check them."""
    return [(t["taskType"], t["status"]) for t in run.state.tasks]


def dispatched(commands: list[cmd.Command]) -> list[str]:
    """Reference names of the tasks handed to workers by `commands`."""
    return [c.task["referenceTaskName"] for c in commands if isinstance(c, cmd.DispatchTask)]


def of_type(commands: list[cmd.Command], kind: type) -> list[Any]:
    return [c for c in commands if isinstance(c, kind)]


def simple(ref: str, name: str | None = None, **extra: Any) -> Json:
    """A SIMPLE task definition; `name` defaults to the reference name."""
    return {"name": name or ref, "taskReferenceName": ref, "type": "SIMPLE", **extra}


def workflow(*tasks: Json, **extra: Any) -> Json:
    return {"name": extra.pop("name", "test_wf"), "version": 1, "tasks": list(tasks), **extra}


def task_def(name: str, **fields: Any) -> Json:
    """A TaskDef as registered through the metadata API (Conductor's defaults for the rest)."""
    return {"name": name, **fields}


def worker_task_names(definition: Json | WorkflowDef) -> list[str]:
    """The names of the SIMPLE tasks anywhere in `definition` (branches and loops included)."""
    if isinstance(definition, WorkflowDef):
        definition = definition.model_dump(by_alias=True, exclude_none=True)
    names: list[str] = []

    def visit(tasks: list[Json]) -> None:
        for task in tasks:
            if task.get("type", "SIMPLE") == "SIMPLE":
                names.append(task["name"])
            for case in (task.get("decisionCases") or {}).values():
                visit(case)
            visit(task.get("defaultCase") or [])
            for branch in task.get("forkTasks") or []:
                visit(branch)
            visit(task.get("loopOver") or [])

    visit(definition["tasks"])
    return sorted(set(names))


def without_retries(definition: Json | WorkflowDef) -> list[Json]:
    """TaskDefs with no retries for every SIMPLE task of `definition`, as Conductor's specs
    register before a test about a failure (without one, a SIMPLE task gets Conductor's
    ad-hoc TaskDef: three retries, 60 s apart)."""
    return [task_def(name, retryCount=0) for name in worker_task_names(definition)]
