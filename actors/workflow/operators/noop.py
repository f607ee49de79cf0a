"""NOOP: completes at once; a placeholder or a join point in a definition."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.workflow.operators.base import Operator, register
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord


@register
class NoopOperator(Operator):
    task_type = "NOOP"

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        decider.finish(task, "COMPLETED", {})
