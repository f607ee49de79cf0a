"""DYNAMIC: a worker task whose name is chosen at run time.

As Conductor's DynamicTaskMapper: `dynamicTaskNameParam` names an input parameter, and
the resolved value of that parameter is the task to run. The task is then a SIMPLE task
of that name: its `taskType` and `taskDefName` are the name, workers poll it under that
name, and that name's TaskDef (an embedded `taskDefinition` first) gives its retries,
timeouts and input template. Conductor renames the task's WorkflowTask the same way, so
`Decider.workflow_task_of` answers for a DYNAMIC task with a copy named after the task it
resolved to (see `resolved_workflow_task`).

Where Podium differs: a missing or blank name fails the task (FAILED_WITH_TERMINAL_ERROR,
with Conductor's reason) instead of failing the workflow without recording the task, and
a name without a TaskDef runs like any SIMPLE task without one (docs/differences.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow.operators.base import Operator, register
from definitions.models import WorkflowTask
from definitions.validation import Finding, Review, TaskSite, required

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord

# The type a DYNAMIC task shows when its name could not be resolved.
UNRESOLVED_TASK_TYPE = "DYNAMIC"


def task_name(value: Any) -> str | None:
    """The task name an input value stands for, or None. Conductor takes `String.valueOf`
    of the value; a number is accepted as such, a map, a list or a blank string is not."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value


def resolved_workflow_task(workflow_task: WorkflowTask, task: TaskRecord) -> WorkflowTask:
    """`workflow_task` named after the task this DYNAMIC task resolved to (its taskDefName)."""
    name = task.get("taskDefName")
    if not name or name == workflow_task.name:
        return workflow_task
    return workflow_task.model_copy(update={"name": name})


@register
class DynamicOperator(Operator):
    task_type = "DYNAMIC"
    mocked_in_test_runs = False
    runs_on_worker = True
    named_when_started = True

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        # As Conductor's WorkflowTaskTypeConstraint: the parameter naming the task is required.
        return required(
            site.task.dynamic_task_name_param,
            "dynamicTaskNameParam is missing; it names the input parameter holding the task name",
        )

    def resolved(self, workflow_task: WorkflowTask, task: TaskRecord) -> WorkflowTask:
        return resolved_workflow_task(workflow_task, task)

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        param = workflow_task.dynamic_task_name_param or ""
        inputs = task["inputData"]
        name = task_name(inputs.get(param))
        if name is None:
            task["taskType"] = UNRESOLVED_TASK_TYPE
            task.pop("domain", None)
            # Conductor's wording (DynamicTaskMapper.getDynamicTaskName).
            reason = f"Cannot map a dynamic task based on the parameter and input. Parameter= {param}, input= {inputs}"
            # Retrying would resolve the same input again: the failure is terminal.
            decider.finish(task, "FAILED_WITH_TERMINAL_ERROR", None, reason)
            return
        task["taskType"] = task["taskDefName"] = name
        if "workflowTask" in task:
            # A forked DYNAMIC task carries its WorkflowTask: rename it as Conductor does.
            task["workflowTask"] = {**task["workflowTask"], "name": name}
        task_def = decider.task_def_for(workflow_task.model_copy(update={"name": name}))
        task["responseTimeoutSeconds"] = task_def.response_timeout_seconds if task_def is not None else 0
        if task_def is not None and task_def.input_template:
            task["inputData"] = {**task_def.input_template, **inputs}
        domain = decider.domain_for(name)
        if domain:
            task["domain"] = domain
        else:
            task.pop("domain", None)
        decider.dispatch(task, decider.start_delay_ms(task))

    def redispatch(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        decider.dispatch(task, decider.start_delay_ms(task))
