"""SUB_WORKFLOW: runs a child workflow, by name and version or an inline definition.

The child's id is chosen when the task starts and kept on the task, so starting it again
after a crash finds the same child instead of making a second one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from actors.workflow.operators.base import Operator, register
from definitions.models import WorkflowDef, WorkflowTask
from definitions.validation import Finding, Review, TaskSite, blank, error, pydantic_summary, warning

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord


def _start_command(decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> cmd.StartChild:
    params = workflow_task.sub_workflow_param
    workflow = decider.state.workflow
    definition = params.workflow_definition if params else None
    if isinstance(definition, WorkflowDef):
        definition = definition.to_wire()
    elif isinstance(definition, str):
        # Only an expression is resolved ("${prepare.output.definition}"): the `${...}` in an
        # inline definition belong to the child and must reach it untouched.
        definition = decider.resolve(definition, task["iteration"])
    # The name may be an expression, as in Conductor: "name": "${workflow.input.subwf}".
    name = decider.resolve(params.name, task["iteration"]) if params and params.name else None
    priority = decider.resolve(params.priority, task["iteration"]) if params else None
    if not isinstance(priority, int) or isinstance(priority, bool):
        priority = workflow.get("priority", 0)
    return cmd.StartChild(
        child_workflow_id=task["subWorkflowId"],
        parent_task_id=task["taskId"],
        name=str(name) if name is not None else None,
        # As Conductor: version 0 (or none) means the latest version.
        version=(params.version or None) if params else None,
        definition=definition if isinstance(definition, dict) else None,
        input=task["inputData"],
        correlation_id=workflow.get("correlationId"),
        priority=priority,
        task_to_domain=(params.task_to_domain if params and params.task_to_domain else None)
        or workflow.get("taskToDomain")
        or {},
    )


@register
class SubWorkflowOperator(Operator):
    task_type = "SUB_WORKFLOW"
    mocked_in_test_runs = False
    parks_execution = True
    has_child_workflow = True

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        param = site.task.sub_workflow_param
        if param is None:
            return [error("subWorkflowParam is missing")]
        definition = param.workflow_definition
        if blank(param.name) and definition is None:
            return [error("subWorkflowParam needs a name or a workflowDefinition")]
        if isinstance(definition, WorkflowDef):
            inline: WorkflowDef | None = definition
        elif isinstance(definition, dict):
            raw = dict(definition)
            # The parent's subWorkflowParam.name stands in for a nameless inline definition.
            if blank(raw.get("name")) and not blank(param.name):
                raw["name"] = param.name
            try:
                inline = WorkflowDef.model_validate(raw)
            except ValidationError as exc:
                return [error(f"inline workflowDefinition does not parse: {pydantic_summary(exc)}")]
        else:
            # Absent, or an expression resolved at run time: nothing to check statically.
            inline = None
        if inline is None:
            return []
        findings = review.nested(inline)
        return [error(f"inline workflowDefinition: {e}") for e in findings.errors] + [
            warning(f"inline workflowDefinition: {w}") for w in findings.warnings
        ]

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        child_id = decider.env.new_id()
        task["subWorkflowId"] = child_id
        task["outputData"] = {"subWorkflowId": child_id}
        decider.start_task(task)
        decider.emit(_start_command(decider, task, workflow_task))

    def redispatch(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        decider.emit(_start_command(decider, task, workflow_task))


_TASK_STATUS_OF_CHILD = {"TIMED_OUT": "TIMED_OUT", "TERMINATED": "CANCELED", "FAILED": "FAILED"}


def child_finished(decider: Decider, task: TaskRecord, event: ev.ChildFinished) -> None:
    if event.child_workflow_id != task.get("subWorkflowId"):
        return
    output = {**event.output, "subWorkflowId": event.child_workflow_id}
    if event.status == "COMPLETED":
        decider.finish(task, "COMPLETED", output)
        return
    # As in Conductor: a terminated child cancels the task (the parent then ends TERMINATED).
    status = _TASK_STATUS_OF_CHILD.get(event.status, "FAILED")
    reason = event.reason_for_incompletion or f"sub workflow {event.child_workflow_id} ended {event.status}"
    decider.finish(task, status, output, reason)
