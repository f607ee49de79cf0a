"""FORK_JOIN: starts every branch at once, and the JOIN that follows it.

As in Conductor, the fork's task is recorded with the type `FORK`, and what it starts is
scheduled with it, depth first: the fork, the first task of each branch (a SWITCH there
brings its case's first task along), then the JOIN. The task list therefore reads in
Conductor's order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.workflow.graph import iteration_of
from actors.workflow.operators.base import Operator, register
from definitions.models import SUCCESSFUL_TASK_STATUSES, WorkflowTask
from definitions.validation import Finding, Review, TaskSite, error, warning

if TYPE_CHECKING:
    from actors.workflow.graph import Position
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord

# The type Conductor gives the task of a FORK_JOIN or a FORK_JOIN_DYNAMIC.
FORK_TASK_TYPE = "FORK"


def join_after(decider: Decider, fork_task: TaskRecord) -> WorkflowTask | None:
    """The JOIN following a fork in its list, or None (after failing the fork) if there is none."""
    position = decider.state.graph.position(fork_task["referenceTaskName"])
    join_task = position.next_sibling if position is not None else None
    if join_task is None or join_task.type != "JOIN":
        decider.finish(fork_task, "FAILED", {}, f"{fork_task['referenceTaskName']} is not followed by a JOIN")
        return None
    return join_task


def join_on_of(fork: WorkflowTask, join: WorkflowTask) -> list[str]:
    if join.join_on:
        return list(join.join_on)
    # Podium's reading of an empty joinOn: wait for the last task of every branch.
    return [branch[-1].task_reference_name for branch in fork.fork_tasks if branch]


def schedule_join(decider: Decider, fork_task: TaskRecord, join_task: WorkflowTask, join_on: list[str]) -> None:
    decider.schedule(join_task, iteration_of(fork_task["referenceTaskName"]), input_data={"joinOn": join_on})


def joined_after(site: TaskSite) -> list[Finding]:
    """A fork's JOIN must follow it; Conductor finds out only when the fork runs."""
    following = site.next_sibling
    if following is not None and following.type == "JOIN":
        return []
    return [warning("no JOIN follows it; the fork fails when it runs")]


@register
class ForkJoinOperator(Operator):
    task_type = "FORK_JOIN"
    also_named = (FORK_TASK_TYPE,)
    mocked_in_test_runs = False
    retryable = False
    holds_branches = True

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        findings: list[Finding] = []
        if not site.task.fork_tasks:
            findings.append(error("forkTasks is empty; a FORK_JOIN needs at least one branch"))
        for b, branch in enumerate(site.task.fork_tasks):
            if not branch:
                findings.append(warning(f"fork branch {b} is empty; it is skipped"))
        return findings + joined_after(site)

    def restore_after_rerun(self, decider: Decider, task: TaskRecord, position: Position, iteration: int) -> bool:
        """A fork that succeeded before the rerun point: its branches and its JOIN, where
        the cut removed them, are scheduled again."""
        if task["status"] not in SUCCESSFUL_TASK_STATUSES:
            return False
        for branch in position.task.fork_tasks:
            if branch and decider.find_task(branch[0].task_reference_name, iteration) is None:
                decider.schedule(branch[0], iteration)
        join = position.next_sibling
        if join is not None and join.type == "JOIN" and decider.find_task(join.task_reference_name, iteration) is None:
            schedule_join(decider, task, join, join_on_of(position.task, join))
        return True

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        task["taskType"] = FORK_TASK_TYPE
        join = join_after(decider, task)
        if join is None:
            return
        decider.finish(task, "COMPLETED", {})
        join_on = join_on_of(workflow_task, join)
        iteration = iteration_of(task["referenceTaskName"])
        for branch in workflow_task.fork_tasks:
            if branch:
                decider.schedule(branch[0], iteration)
        schedule_join(decider, task, join, join_on)

    def on_success(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        """Nothing to do: the branches and the JOIN were scheduled with the fork."""
