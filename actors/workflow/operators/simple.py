"""SIMPLE: work for a worker, a Python actor pool or an external poller."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.workflow.operators.base import Operator, register
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord


@register
class SimpleOperator(Operator):
    task_type = "SIMPLE"
    runs_on_worker = True

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        decider.dispatch(task, decider.start_delay_ms(task))

    def redispatch(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        decider.dispatch(task, decider.start_delay_ms(task))
