"""SET_VARIABLE: merges the task's input into the workflow's variables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.workflow.operators.base import Operator, register
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord


@register
class SetVariableOperator(Operator):
    task_type = "SET_VARIABLE"
    mocked_in_test_runs = False

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        workflow = decider.state.workflow
        workflow["variables"] = {**workflow.get("variables", {}), **task["inputData"]}
        decider.state.touch_workflow()
        decider.finish(task, "COMPLETED", {})
