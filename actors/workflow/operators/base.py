"""The contract between the decider and one task type, and the registry of types."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Step


class Operator:
    task_type: ClassVar[str]
    # A worker runs tasks of this type; their taskType is the WorkflowTask's name.
    runs_on_worker: ClassVar[bool] = False
    # Waits for a person, a timer or a child workflow: an execution blocked only on such
    # tasks may wait for days, so its shard lets it leave memory at once.
    parks_execution: ClassVar[bool] = False
    # Completed by a signal (TaskResource's signal endpoints) rather than by a worker.
    accepts_signal: ClassVar[bool] = False
    # Runs a child workflow, whose tasks the signal and execute endpoints look into.
    has_child_workflow: ClassVar[bool] = False

    def blocks_until_signalled(self, task: dict[str, Any]) -> bool:
        """Whether this unfinished task holds its workflow until someone signals it (the
        point a sync execute or signal returns at)."""
        return False

    def start(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        """The task was just scheduled: begin it (an inline operator finishes it here)."""
        raise NotImplementedError

    def on_success(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        """The task finished successfully: by default the workflow moves on past it."""
        step.advance(task)

    def redispatch(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        """After a reload: repeat whatever side effect this waiting task depends on."""

    def on_timer(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask, kind: str) -> None:
        """A durable timer this task set has fired."""


_operators: dict[str, Operator] = {}


def register(operator_class: type[Operator]) -> type[Operator]:
    _operators[operator_class.task_type] = operator_class()
    return operator_class


def operator_for(task_type: str) -> Operator:
    # Any type the engine does not run inline is work for a worker, as in Conductor.
    return _operators.get(task_type) or _operators["SIMPLE"]
