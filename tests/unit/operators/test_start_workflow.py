"""START_WORKFLOW: starts another workflow, fire and forget.

Behaviour follows Conductor's StartWorkflowSpec (test-harness) on
`workflow_that_starts_another_workflow.json` and the StartWorkflow system task: the task
completes with `{workflowId}` of the new workflow, which gets the starter's correlation
id and taskToDomain unless the request gives its own, and has no parent. A request that
is missing or does not conform fails the task, and so the workflow.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors import messages
from actors.workflow import commands as cmd
from actors.workflow.definition_checks import validate_workflow_def
from definitions.models import WorkflowDef
from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, of_type, rows, simple, workflow

STARTER = "workflows/workflow_that_starts_another_workflow.json"


def start_workflow_task(request: Any, ref: str = "st") -> dict[str, Any]:
    return {
        "name": "start_workflow",
        "taskReferenceName": ref,
        "type": "START_WORKFLOW",
        "inputParameters": {"startWorkflow": request},
    }


def started(run: Run) -> cmd.StartWorkflow:
    [command] = of_type(run.commands, cmd.StartWorkflow)
    assert isinstance(command, cmd.StartWorkflow)
    return command


def test_start_by_name_completes_at_once_with_the_new_workflow_id() -> None:
    """StartWorkflowSpec "name and version": the START_WORKFLOW task COMPLETES, the starter
    workflow COMPLETES, and the task's output workflowId is the started workflow, which
    runs with the starter's correlationId and the request's input. Podium's choice: the
    task completes in the step that schedules it (Conductor shows it SCHEDULED until its
    async system task worker runs it)."""
    request = {"name": "integration_test_wf", "input": {"param1": "value1", "param2": "value2"}}
    run = Run(conductor_definition(STARTER), {"startWorkflow": request}, correlation_id="corr-1")

    assert rows(run) == [("st", "START_WORKFLOW", "COMPLETED")]
    assert run.status == "COMPLETED"
    command = started(run)
    assert run.task("st")["outputData"] == {"workflowId": command.workflow_id}
    assert command.workflow_id != run.state.workflow_id
    assert command.name == "integration_test_wf"
    assert command.version is None
    assert command.input == {"param1": "value1", "param2": "value2"}
    assert command.correlation_id == "corr-1"
    assert command.priority == 0
    assert command.definition is None


def test_the_started_workflow_has_no_parent() -> None:
    """StartWorkflow passes only a triggering workflow id, never a parent: the new workflow
    does not report back, and ending the starter does not touch it."""
    run = Run(conductor_definition(STARTER), {"startWorkflow": {"name": "other"}})
    workflow_id, message_id, message = messages.start_workflow(started(run))
    assert workflow_id == message_id.removeprefix("start:") == run.task("st")["outputData"]["workflowId"]
    assert message["kind"] == "start_child"
    assert message["parentWorkflowId"] is None
    assert message["parentWorkflowTaskId"] is None
    assert not of_type(run.commands, cmd.StartChild)


def test_a_version_is_honoured() -> None:
    """StartWorkflowInput carries the request's version; without one the latest runs."""
    run = Run(conductor_definition(STARTER), {"startWorkflow": {"name": "other", "version": 2}})
    command = started(run)
    assert command.version == 2
    assert messages.start_workflow(command)[2]["version"] == 2
    latest = Run(conductor_definition(STARTER), {"startWorkflow": {"name": "other"}})
    assert messages.start_workflow(started(latest))[2]["version"] is None


def test_the_requests_correlation_id_task_to_domain_and_priority_win() -> None:
    """StartWorkflow.start: the starter's correlationId only when the request's is blank,
    its taskToDomain only when the request's is empty; the priority is the request's."""
    request = {
        "name": "other",
        "correlationId": "own",
        "taskToDomain": {"a": "green"},
        "priority": 7,
    }
    run = Run(
        conductor_definition(STARTER),
        {"startWorkflow": request},
        correlation_id="corr-1",
        task_to_domain={"*": "blue"},
        priority=3,
    )
    command = started(run)
    assert (command.correlation_id, command.task_to_domain, command.priority) == ("own", {"a": "green"}, 7)

    inherited = Run(
        conductor_definition(STARTER),
        {"startWorkflow": {"name": "other", "correlationId": "  "}},
        correlation_id="corr-1",
        task_to_domain={"*": "blue"},
        priority=3,
    )
    command = started(inherited)
    assert (command.correlation_id, command.task_to_domain, command.priority) == ("corr-1", {"*": "blue"}, 0)


def test_an_inline_workflow_def_is_started_as_given() -> None:
    """StartWorkflowSpec "workflow definition": the request carries `workflowDef`; its
    `${...}` belong to the started workflow and reach it untouched."""
    task1 = {
        "name": "integration_task_1",
        "taskReferenceName": "t1",
        "type": "SIMPLE",
        "inputParameters": {"tp1": "${workflow.input.param1}", "tp3": "${CPEWF_TASK_ID}"},
    }
    definition = {"name": "dynamic_wf", "version": 1, "tasks": [task1], "ownerEmail": "abc@abc.com"}
    run = Run(conductor_definition(STARTER), {"startWorkflow": {"name": "dynamic_wf", "workflowDef": definition}})

    assert run.status == "COMPLETED"
    command = started(run)
    assert command.name == "dynamic_wf"
    assert command.definition is not None
    assert command.definition["tasks"][0]["inputParameters"] == task1["inputParameters"]
    assert WorkflowDef.model_validate(command.definition).name == "dynamic_wf"
    assert messages.start_workflow(command)[2]["definition"] == command.definition


def test_the_request_may_be_written_into_the_definition() -> None:
    """inputParameters.startWorkflow may be a literal map whose values are resolved against
    the starting workflow, as every task input is."""
    run = Run(
        workflow(
            simple("prep"), start_workflow_task({"name": "${prep.output.next}", "input": {"n": "${workflow.input.n}"}})
        ),
        {"n": 5},
    )
    run.complete("prep", {"next": "chosen_wf"})
    command = started(run)
    assert (command.name, command.input) == ("chosen_wf", {"n": 5})
    assert run.status == "COMPLETED"


def test_a_missing_request_fails_the_task_and_the_workflow() -> None:
    """StartWorkflowSpec "start_workflow does not conform to StartWorkflowRequest": the input
    is under the wrong key, so `startWorkflow` resolves to null; the task FAILS with a
    reason (Conductor's "Missing 'startWorkflow' in input data.") and so does the workflow."""
    run = Run(conductor_definition(STARTER), {"start_workflow": {"param1": "value1", "param2": "value2"}})

    assert rows(run) == [("st", "START_WORKFLOW", "FAILED")]
    assert run.task("st")["reasonForIncompletion"] == "Missing 'startWorkflow' in input data."
    assert run.status == "FAILED"
    assert not of_type(run.commands, cmd.StartWorkflow)


@pytest.mark.parametrize(
    ("request_value", "reason"),
    [
        ({"input": {"a": 1}}, "startWorkflow validation failed. 'name' -> Workflow name cannot be null or empty."),
        ({"name": "  "}, "startWorkflow validation failed. 'name' -> Workflow name cannot be empty."),
        ({"name": "x", "priority": 100}, "startWorkflow validation failed. 'priority' -> "),
        ({"name": "x", "input": "not a map"}, "startWorkflow validation failed. 'input' -> "),
        ({"name": "x", "version": "two"}, "startWorkflow validation failed. 'version' -> "),
        ("just a string", "Error reading StartWorkflowRequest. 'startWorkflow' must be a map, got str"),
        ({"name": "x", "workflowDef": {"tasks": []}}, "startWorkflow validation failed. 'workflowDef' -> "),
    ],
    ids=["no-name", "blank-name", "priority", "input", "version", "not-a-map", "invalid-def"],
)
def test_a_request_that_does_not_conform_fails_the_task(request_value: Any, reason: str) -> None:
    """StartWorkflow.getRequest: a request that fails StartWorkflowRequest's constraints
    (name @NotNull, priority 0..99, typed fields) fails the task with the violations, and
    no workflow is started. An inline workflowDef is validated as at registration."""
    run = Run(conductor_definition(STARTER), {"startWorkflow": request_value})
    assert run.task("st")["status"] == "FAILED"
    assert run.task("st")["reasonForIncompletion"].startswith(reason)
    assert run.status == "FAILED"
    assert not of_type(run.commands, cmd.StartWorkflow)


def test_an_optional_start_workflow_failure_lets_the_workflow_go_on() -> None:
    """The task's failure is an ordinary task failure: optional turns it into
    COMPLETED_WITH_ERRORS."""
    task = {**start_workflow_task("${workflow.input.missing}"), "optional": True}
    run = Run(workflow(task, simple("after")), {})
    assert rows(run) == [("st", "START_WORKFLOW", "COMPLETED_WITH_ERRORS"), ("after", "after", "SCHEDULED")]


def test_each_started_workflow_gets_a_new_id() -> None:
    """Two START_WORKFLOW tasks start two workflows."""
    run = Run(workflow(start_workflow_task({"name": "a"}, "s1"), start_workflow_task({"name": "a"}, "s2")))
    ids = [c.workflow_id for c in of_type(run.commands, cmd.StartWorkflow)]
    assert len(set(ids)) == 2
    assert [run.task(ref)["outputData"]["workflowId"] for ref in ("s1", "s2")] == ids


# -- registration ---------------------------------------------------------------------


def test_registration_requires_input_parameters_start_workflow() -> None:
    """Podium's check at registration: without inputParameters.startWorkflow the task
    could only fail; a literal request must name the workflow."""

    def errors(task: dict[str, Any]) -> list[str]:
        return validate_workflow_def(WorkflowDef.model_validate(workflow(task)))

    assert errors({"name": "s", "taskReferenceName": "s", "type": "START_WORKFLOW"}) == [
        "task 's' (START_WORKFLOW): inputParameters.startWorkflow is missing; it holds the StartWorkflowRequest"
    ]
    assert errors(start_workflow_task({"input": {}}, "s")) == [
        "task 's' (START_WORKFLOW): inputParameters.startWorkflow.name is missing"
    ]
    assert errors(start_workflow_task(5, "s")) == [
        "task 's' (START_WORKFLOW): inputParameters.startWorkflow must be a StartWorkflowRequest map "
        "or a ${...} expression"
    ]
    assert errors(start_workflow_task({"name": "${workflow.input.which}"}, "s")) == []
    assert validate_workflow_def(WorkflowDef.model_validate(conductor_definition(STARTER))) == []
