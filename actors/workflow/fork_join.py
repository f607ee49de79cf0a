"""FORK_JOIN: starts every branch at once, and the JOIN that follows it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow.graph import iteration_of
from actors.workflow.operator import Operator, register
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Step


def schedule_join(step: Step, fork_task: dict[str, Any], join_on: list[str]) -> None:
    """The JOIN is the task after the fork in the same list (validation makes sure)."""
    position = step.state.graph.position(fork_task["referenceTaskName"])
    join_task = position.next_sibling if position is not None else None
    if join_task is None or join_task.type != "JOIN":
        step.finish(fork_task, "FAILED", {}, f"{fork_task['referenceTaskName']} is not followed by a JOIN")
        return
    step.schedule(join_task, iteration_of(fork_task["referenceTaskName"]), input_data={"joinOn": join_on})


@register
class ForkJoinOperator(Operator):
    task_type = "FORK_JOIN"

    def start(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        step.finish(task, "COMPLETED", {})

    def on_success(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        iteration = iteration_of(task["referenceTaskName"])
        position = step.state.graph.position(task["referenceTaskName"])
        join = position.next_sibling if position is not None else None
        join_on = list(join.join_on) if join is not None and join.join_on else []
        if not join_on:
            # An empty joinOn means "every branch": wait for the last task of each.
            join_on = [branch[-1].task_reference_name for branch in workflow_task.fork_tasks if branch]
        for branch in workflow_task.fork_tasks:
            if branch:
                step.schedule(branch[0], iteration)
        schedule_join(step, task, join_on)
