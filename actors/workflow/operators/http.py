"""HTTP: a request made by the shard itself, on its aiohttp connection pool.

The task starts IN_PROGRESS and the shard makes the call after the checkpoint; the
response comes back as an ordinary task update, so a non-2xx answer fails the task and
its TaskDef's retries apply. After a crash the call is made again (at least once, like
every task).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.workflow import commands as cmd
from actors.workflow.operators.base import Operator, register
from definitions.models import WorkflowTask
from definitions.validation import Finding, Review, TaskSite, error

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord


@register
class HttpOperator(Operator):
    task_type = "HTTP"

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        # As Conductor's WorkflowTaskTypeConstraint: the request is in inputParameters.http_request,
        # at the top level of inputParameters (uri or method), or in the TaskDef's inputTemplate.
        params = site.task.input_parameters
        task_def = site.task.task_definition or review.task_defs.get(site.task.name)
        template = task_def.input_template if task_def is not None else {}
        if any(key in params for key in ("http_request", "uri", "method")) or "http_request" in template:
            return []
        if "uri" in template:
            # Podium reads a top-level uri from the template too; Conductor would refuse this.
            return []
        return [error("inputParameters.http_request is missing; it holds the request (uri, method, headers, body)")]

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        decider.start_task(task)
        decider.emit(cmd.CallHttp(task, workflow_task.async_complete))

    def redispatch(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        if "response" not in task["outputData"]:
            # Not answered before the crash; an asyncComplete task that was answered waits
            # for its outside update instead.
            decider.emit(cmd.CallHttp(task, workflow_task.async_complete))
