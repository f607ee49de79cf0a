"""START_WORKFLOW: starts another workflow and moves on without waiting for it.

As Conductor's StartWorkflow task: the input `startWorkflow` is a StartWorkflowRequest
(`name`, `version`, `input`, `correlationId`, `taskToDomain`, `priority`, `workflowDef`,
`idempotencyKey`). A blank `correlationId` becomes the starting workflow's, an empty
`taskToDomain` the starting workflow's; the priority is the request's (0 by default).
The new workflow has no parent: nothing links it to this one but the task's output
`{workflowId: <its id>}`.

The task completes in the step that schedules it (Conductor runs it as an asynchronous
system task, SCHEDULED first). The new id is chosen here and the start goes out as a
message in the same checkpoint, so a crash never starts it twice. Where Podium differs
(docs/differences.md): the start is fire and forget, so a `name`/`version` that is not
registered does not fail the task (Conductor fails it); the shard logs a warning and no
workflow with that id ever exists. An inline `workflowDef` is validated here, and an
invalid one fails the task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from actors.workflow import commands as cmd
from actors.workflow.definition_checks import review_workflow_def
from actors.workflow.operators.base import Operator, register
from definitions.models import StartWorkflowRequest, WorkflowTask
from definitions.validation import Finding, Review, TaskSite, blank, is_expression, warning

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord

START_WORKFLOW_PARAMETER = "startWorkflow"
WORKFLOW_ID = "workflowId"


class RequestError(ValueError):
    pass


def _violations(error: ValidationError) -> str:
    """Conductor's wording: `startWorkflow validation failed. '<field>' -> <message>. ...`"""
    parts = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or START_WORKFLOW_PARAMETER
        message = problem["msg"]
        if field == "name" and problem["type"] in ("missing", "string_type"):
            message = "Workflow name cannot be null or empty"
        parts.append(f"'{field}' -> {message}. ")
    return f"{START_WORKFLOW_PARAMETER} validation failed. " + "".join(parts)


def read_request(value: Any) -> StartWorkflowRequest:
    """The StartWorkflowRequest in the task's input, or RequestError saying what is wrong."""
    if value is None:
        raise RequestError(f"Missing '{START_WORKFLOW_PARAMETER}' in input data.")
    if not isinstance(value, dict):
        raise RequestError(
            f"Error reading StartWorkflowRequest. '{START_WORKFLOW_PARAMETER}' must be a map, "
            f"got {type(value).__name__}"
        )
    inline = value.get("workflowDef")
    if isinstance(inline, dict) and not inline.get("name") and isinstance(value.get("name"), str):
        # As for SUB_WORKFLOW: the request's name stands in for a nameless inline definition.
        value = {**value, "workflowDef": {**inline, "name": value["name"]}}
    try:
        request = StartWorkflowRequest.model_validate(value)
    except ValidationError as error:
        raise RequestError(_violations(error)) from None
    if request.workflow_def is None and not request.name.strip():
        raise RequestError(f"{START_WORKFLOW_PARAMETER} validation failed. 'name' -> Workflow name cannot be empty. ")
    if request.workflow_def is not None:
        problems = review_workflow_def(request.workflow_def).errors
        if problems:
            raise RequestError(
                f"{START_WORKFLOW_PARAMETER} validation failed. 'workflowDef' -> " + "; ".join(problems) + ". "
            )
    return request


@register
class StartWorkflowOperator(Operator):
    task_type = "START_WORKFLOW"

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        # Conductor checks the request only when the task runs, and fails the task then.
        request = site.task.input_parameters.get("startWorkflow")
        if request is None:
            return [warning("inputParameters.startWorkflow is missing; it holds the StartWorkflowRequest")]
        if is_expression(request):
            return []
        if not isinstance(request, dict):
            return [warning("inputParameters.startWorkflow must be a StartWorkflowRequest map or a ${...} expression")]
        if blank(request.get("name")) and not isinstance(request.get("workflowDef"), dict | str):
            return [warning("inputParameters.startWorkflow.name is missing")]
        return []

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        try:
            request = read_request(task["inputData"].get(START_WORKFLOW_PARAMETER))
        except RequestError as error:
            decider.finish(task, "FAILED", {}, str(error).rstrip())
            return
        workflow = decider.state.workflow
        correlation_id = request.correlation_id
        if correlation_id is None or not correlation_id.strip():
            correlation_id = workflow.get("correlationId")
        definition = request.workflow_def
        workflow_id = decider.env.new_id()
        decider.emit(
            cmd.StartWorkflow(
                workflow_id=workflow_id,
                name=definition.name if definition is not None else request.name,
                input=request.input,
                correlation_id=correlation_id,
                priority=request.priority,
                task_to_domain=dict(request.task_to_domain or workflow.get("taskToDomain") or {}),
                version=request.version,
                definition=definition.to_wire() if definition is not None else None,
            )
        )
        decider.finish(task, "COMPLETED", {WORKFLOW_ID: workflow_id})
