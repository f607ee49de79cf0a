"""HTTP: a request made by the shard itself, on its aiohttp connection pool.

The task starts IN_PROGRESS and the shard makes the call after the checkpoint; the
response comes back as an ordinary task update, so a non-2xx answer fails the task and
its TaskDef's retries apply. After a crash the call is made again (at least once, like
every task).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow import commands as cmd
from actors.workflow.operators.base import Operator, register
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Step


@register
class HttpOperator(Operator):
    task_type = "HTTP"

    def start(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        step.start_task(task)
        step.commands.append(cmd.CallHttp(task, workflow_task.async_complete))

    def redispatch(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        if "response" not in task["outputData"]:
            # Not answered before the crash; an asyncComplete task that was answered waits
            # for its outside update instead.
            step.commands.append(cmd.CallHttp(task, workflow_task.async_complete))
