"""A task as the API shows it: the checkpoint's task plus the `workflowTask` it came from.

Conductor returns every Task with its WorkflowTask, and its UI reads it on every
execution page (the task's name and type, a SWITCH's cases, a SUB_WORKFLOW's name).
Podium keeps the definition once per execution (by digest), not once per task, so the
WorkflowTask is looked up here, when a task is read back, rather than stored with it.

Tasks that carry their own `workflowTask` (a dynamic fork's forked tasks, whose
WorkflowTask exists only in the fork's input) keep it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from actors.workflow.graph import ITERATION_SEPARATOR, base_reference
from actors.workflow.operators.base import operator_for
from actors.workflow.state import public_task

Json = dict[str, Any]

# WorkflowTask fields holding nested task lists, as the stored definition spells them.
_NESTED_LISTS = ("defaultCase", "loopOver")


def definition_index(definition: Json | None) -> dict[str, Json]:
    """Every WorkflowTask of a stored definition (its JSON) by taskReferenceName.

    Inline sub-workflow definitions are left out: their tasks run in the child.
    """
    index: dict[str, Json] = {}
    if definition:
        _index_tasks(definition.get("tasks") or (), index)
    return index


def _index_tasks(tasks: Iterable[Any], index: dict[str, Json]) -> None:
    for task in tasks:
        if not isinstance(task, dict):
            continue
        reference = task.get("taskReferenceName")
        if isinstance(reference, str):
            index.setdefault(reference, task)
        cases = task.get("decisionCases")
        if isinstance(cases, dict):
            for branch in cases.values():
                if isinstance(branch, list):
                    _index_tasks(branch, index)
        for field in _NESTED_LISTS:
            nested = task.get(field)
            if isinstance(nested, list):
                _index_tasks(nested, index)
        forks = task.get("forkTasks")
        if isinstance(forks, list):
            for branch in forks:
                if isinstance(branch, list):
                    _index_tasks(branch, index)


def definition_reference(task: Json) -> str:
    """The reference name a task has in its definition: `ref` for loop iteration `ref__2`."""
    base = task.get("_baseRef")
    if isinstance(base, str) and base:
        return base
    reference = str(task.get("referenceTaskName") or "")
    iteration = task.get("iteration")
    if isinstance(iteration, int) and iteration > 0:
        suffix = f"{ITERATION_SEPARATOR}{iteration}"
        if reference.endswith(suffix):
            return reference[: -len(suffix)]
    return base_reference(reference)


def workflow_task_of(task: Json, index: dict[str, Json]) -> Json | None:
    """The WorkflowTask JSON `task` was scheduled from, or None if the definition lacks it."""
    own = task.get("workflowTask")
    if own is not None:
        return own if isinstance(own, dict) else None
    reference = task.get("referenceTaskName")
    found = index.get(reference) if isinstance(reference, str) else None
    if found is None:
        found = index.get(definition_reference(task))
    if found is None:
        return None
    if operator_for(str(found.get("type", ""))).named_when_started:
        # As Conductor's DynamicTaskMapper: the WorkflowTask takes the resolved task's name.
        resolved = task.get("taskDefName")
        if isinstance(resolved, str) and resolved and resolved != found.get("name"):
            return {**found, "name": resolved}
    return found


def api_task(task: Json, index: dict[str, Json] | None) -> Json:
    """`task` without internal fields and with its `workflowTask`, when the index knows it."""
    public = public_task(task)
    if index is None or "workflowTask" in public:
        return public
    workflow_task = workflow_task_of(task, index)
    if workflow_task is None:
        return public
    return {**public, "workflowTask": workflow_task}
