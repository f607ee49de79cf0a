"""NOOP: completes at once; a placeholder or a join point in a definition."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow.operators.base import Operator, register
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Decider


@register
class NoopOperator(Operator):
    task_type = "NOOP"

    def start(self, decider: Decider, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        decider.finish(task, "COMPLETED", {})
