"""The contract between the decider and one task type, and the registry of types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from definitions.models import WorkflowTask
from definitions.validation import Finding, Review, TaskSite

if TYPE_CHECKING:
    from actors.workflow.graph import Position
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord


class Operator:
    task_type: ClassVar[str]
    # Other taskType values its tasks carry (a FORK_JOIN's task is a "FORK").
    also_named: ClassVar[tuple[str, ...]] = ()
    # A worker runs tasks of this type; their taskType is the WorkflowTask's name.
    runs_on_worker: ClassVar[bool] = False
    # Waits for a person, a timer or a child workflow: an execution blocked only on such
    # tasks may wait for days, so its shard lets it leave memory at once.
    parks_execution: ClassVar[bool] = False
    # Completed by a signal (TaskResource's signal endpoints) rather than by a worker.
    accepts_signal: ClassVar[bool] = False
    # Runs a child workflow, whose tasks the signal and execute endpoints look into.
    has_child_workflow: ClassVar[bool] = False

    # Conductor retries a failed task per its TaskDef, except these, whatever a TaskDef of
    # the same name says (the switches, forks, joins and loops).
    retryable: ClassVar[bool] = True
    # Waits on other tasks: evaluated at the end of every step while IN_PROGRESS (`evaluate`).
    is_join: ClassVar[bool] = False
    # Holds branches or a loop body: its own success only means "go on to the next sibling"
    # once they are done, so a rerun never advances past it by itself.
    holds_branches: ClassVar[bool] = False
    # Repeats its body (a DO_WHILE): what lies inside it runs once per iteration.
    is_loop: ClassVar[bool] = False
    # Cancelled or failed by a failure inside it: a workflow retry reopens it in place
    # rather than scheduling it again.
    reopened_by_retry: ClassVar[bool] = False
    # Retried as a task by a workflow retry (a JOIN is not: its branches are, and it reopens).
    retried_by_workflow_retry: ClassVar[bool] = True
    # Its successful output is the workflow's output (TERMINATE).
    output_is_the_workflows: ClassVar[bool] = False
    # Learns which task it runs only when it starts (DYNAMIC): its TaskDef is known then.
    named_when_started: ClassVar[bool] = False
    # A test run (`POST /api/workflow/test`) takes this task's result from the request's
    # mocks; the operators Conductor's WorkflowTestService runs itself say False.
    mocked_in_test_runs: ClassVar[bool] = True

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        """What a task of this type must carry, checked when its workflow is registered:
        `error`s are what Conductor refuses too, `warning`s what would fail at run time."""
        return []

    def resolved(self, workflow_task: WorkflowTask, task: TaskRecord) -> WorkflowTask:
        """The WorkflowTask that describes `task` (a DYNAMIC task's names the task it became)."""
        return workflow_task

    def evaluate(self, decider: Decider, task: TaskRecord) -> None:
        """A join: decide whether what it waits on is done."""

    def branch_ended(self, decider: Decider, container: WorkflowTask, iteration: int) -> None:
        """The last task of one of this container's branches (or loop body) is done. By
        default (a fork) the joins decide whether the fork is done."""
        decider.mark_joins_dirty()

    def restore_after_rerun(self, decider: Decider, task: TaskRecord, position: Position, iteration: int) -> bool:
        """After a rerun cut the tasks after another: schedule again whatever this succeeded
        task had started that the cut removed. True if it did (nothing else to restore)."""
        return False

    def blocks_until_signalled(self, task: Mapping[str, Any]) -> bool:
        """Whether this unfinished task holds its workflow until someone signals it (the
        point a sync execute or signal returns at)."""
        return False

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        """The task was just scheduled: begin it (an inline operator finishes it here)."""
        raise NotImplementedError

    def on_success(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        """The task finished successfully: by default the workflow moves on past it."""
        decider.advance(task)

    def redispatch(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        """After a reload: repeat whatever side effect this waiting task depends on."""

    def on_timer(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask, kind: str) -> None:
        """A durable timer this task set has fired."""


_operators: dict[str, Operator] = {}


def register(operator_class: type[Operator]) -> type[Operator]:
    operator = operator_class()
    for name in (operator_class.task_type, *operator_class.also_named):
        _operators[name] = operator
    return operator_class


_all_registered = False


def _register_all() -> None:
    global _all_registered
    if not _all_registered:
        _all_registered = True
        import actors.workflow.operators.all  # noqa: F401 (registers every operator)


def operator_for(task_type: str) -> Operator:
    found = _operators.get(task_type)
    if found is not None:
        return found
    _register_all()
    # Any type the engine does not run inline is work for a worker, as in Conductor.
    return _operators.get(task_type) or _operators["SIMPLE"]


def implemented_task_types() -> frozenset[str]:
    """The workflow task types the engine runs (their DSL names, not `also_named`)."""
    _register_all()
    return frozenset(operator.task_type for operator in _operators.values())
