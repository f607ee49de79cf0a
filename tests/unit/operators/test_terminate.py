"""TERMINATE: ends the workflow at once with `terminationStatus`, a reason and an output.

Behaviour follows Conductor's LambdaAndTerminateTaskSpec and its Terminate task: the
TERMINATE task itself COMPLETES, its output (`workflowOutput`, a non-map value wrapped
as `{"output": value}`) becomes the workflow's output, the reason defaults to
"Workflow is <STATUS> by TERMINATE task: <taskId>", and every pending task is cancelled
(a running child workflow terminated).
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, dispatched, of_type, rows, simple, types, workflow

COMPLETED_WF = "workflows/terminate_task_completed_workflow_integration_test.json"
FAILED_WF = "workflows/terminate_task_failed_workflow_integration.json"
TERMINATED_WF = "workflows/terminate_task_terminated_status_test.json"
PARENT_WF = "workflows/terminate_task_parent_workflow.json"
DECISION_WF = "workflows/decision_and_terminate_integration_test.json"
SWITCH_WF = "workflows/switch_and_terminate_integration_test.json"


def terminate(ref: str, status: str, **inputs: Any) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "TERMINATE",
        "inputParameters": {"terminationStatus": status, **inputs},
    }


def test_terminate_completed_ends_the_workflow_with_its_output() -> None:
    run = Run(conductor_definition(COMPLETED_WF), {"a": 1})

    assert run.status == "COMPLETED"
    assert types(run) == [("LAMBDA", "COMPLETED"), ("TERMINATE", "COMPLETED")]
    assert [t["seq"] for t in run.state.tasks] == [1, 2]
    terminate_task = run.task("terminate0")
    assert run.output == {"result": {"testvalue": True}}
    assert terminate_task["outputData"] == run.output
    assert run.state.workflow["reasonForIncompletion"] == (
        f"Workflow is COMPLETED by TERMINATE task: {terminate_task['taskId']}"
    )
    # The task after the TERMINATE is never scheduled.
    assert dispatched(run.commands) == []
    assert of_type(run.commands, cmd.WorkflowEnded) == [cmd.WorkflowEnded("COMPLETED")]


def test_terminate_failed_uses_the_given_reason() -> None:
    run = Run(conductor_definition(FAILED_WF), {"a": 1})

    assert run.status == "FAILED"
    assert run.state.workflow["reasonForIncompletion"] == "Early exit in terminate"
    assert types(run) == [("LAMBDA", "COMPLETED"), ("TERMINATE", "COMPLETED")]
    # As in LambdaAndTerminateTaskSpec: a FAILED terminate starts the failureWorkflow,
    # whose id the output names.
    [failure] = of_type(run.commands, cmd.StartWorkflow)
    assert failure.name == "failure_workflow"
    assert failure.input["workflowId"] == run.state.workflow_id
    assert run.output == {"result": {"testvalue": True}, "conductor.failure_workflow": failure.workflow_id}
    # As in Conductor, only tasks that ended FAILED count as failed ones.
    assert run.state.workflow["failedReferenceTaskNames"] == []


def test_terminate_terminated() -> None:
    run = Run(conductor_definition(TERMINATED_WF))

    assert run.status == "TERMINATED"
    assert run.state.workflow["reasonForIncompletion"] == "Early exit with TERMINATED status"
    assert [ref for ref, _, _ in rows(run)] == ["lambda0", "terminate0"]


def test_terminate_in_a_fork_cancels_the_other_branch_and_terminates_its_child() -> None:
    run = Run(conductor_definition(PARENT_WF), {"lambdaValue": 1})
    assert types(run) == [
        ("FORK", "COMPLETED"),
        ("LAMBDA", "COMPLETED"),
        ("LAMBDA", "COMPLETED"),
        ("JOIN", "IN_PROGRESS"),
        ("SUB_WORKFLOW", "IN_PROGRESS"),
        ("WAIT", "IN_PROGRESS"),
    ]
    assert [t["seq"] for t in run.state.tasks] == [1, 2, 3, 4, 5, 6]
    child_id = run.task("test_terminate_subworkflow")["subWorkflowId"]

    produced = run.send(ev.TaskUpdate(run.task("basicJavaA")["taskId"], "COMPLETED"))

    assert run.status == "COMPLETED"
    assert types(run) == [
        ("FORK", "COMPLETED"),
        ("LAMBDA", "COMPLETED"),
        ("LAMBDA", "COMPLETED"),
        ("JOIN", "CANCELED"),
        ("SUB_WORKFLOW", "CANCELED"),
        ("WAIT", "COMPLETED"),
        ("TERMINATE", "COMPLETED"),
    ]
    terminate_id = run.task("terminate0")["taskId"]
    reason = f"Workflow is COMPLETED by TERMINATE task: {terminate_id}"
    assert run.state.workflow["reasonForIncompletion"] == reason
    assert of_type(produced, cmd.TerminateChild) == [
        cmd.TerminateChild(child_id, f"Parent workflow has been terminated with reason: {reason}")
    ]
    assert run.output == {"output": "some output"}


@pytest.mark.parametrize(("path", "chooser"), [(DECISION_WF, "decision"), (SWITCH_WF, "switch")])
def test_terminate_in_a_case_fails_the_workflow_with_an_earlier_tasks_output(path: str, chooser: str) -> None:
    run = Run(conductor_definition(path), {"param1": "p1", "param2": "p2", "case": "two"})

    run.complete("t1", {"op": "task1 completed"})

    assert run.status == "FAILED"
    assert run.output == {"output": "task1 completed"}
    assert "Workflow is FAILED by TERMINATE task" in run.state.workflow["reasonForIncompletion"]
    assert [ref for ref, _, _ in rows(run)] == ["t1", chooser, "terminate0"]
    assert [t["seq"] for t in run.state.tasks] == [1, 2, 3]


def test_the_other_case_runs_on_to_the_end() -> None:
    run = Run(conductor_definition(SWITCH_WF), {"param1": "p1", "param2": "p2", "case": "one"})
    run.complete("t1")
    run.complete("t2")

    run.complete("t3", {"op": "three"})

    assert run.status == "COMPLETED"
    assert run.output == {"o2": "three"}


def test_terminate_cancels_queued_worker_tasks() -> None:
    definition = workflow(
        {
            "name": "f",
            "taskReferenceName": "f",
            "type": "FORK_JOIN",
            "forkTasks": [[simple("slow")], [terminate("stop", "COMPLETED")]],
        },
        {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["slow", "stop"]},
    )

    run = Run(definition)

    assert run.status == "COMPLETED"
    assert run.task("slow")["status"] == "CANCELED"
    assert [c.task["referenceTaskName"] for c in of_type(run.commands, cmd.CancelTask)] == ["slow"]


def test_an_invalid_status_fails_the_terminate_task() -> None:
    run = Run(workflow(terminate("stop", "PAUSED"), simple("after")))

    assert run.task("stop")["status"] == "FAILED"
    assert "terminationStatus" in run.task("stop")["reasonForIncompletion"]
    assert run.status == "FAILED"


def test_a_map_workflow_output_is_the_output_as_it_is() -> None:
    run = Run(workflow(terminate("stop", "COMPLETED", workflowOutput={"a": 1, "b": "${workflow.input.b}"})), {"b": 2})

    assert run.output == {"a": 1, "b": 2}
    assert run.task("stop")["outputData"] == {"a": 1, "b": 2}


def test_terminate_in_a_loop_stops_the_loop() -> None:
    definition = workflow(
        {
            "name": "l",
            "taskReferenceName": "l",
            "type": "DO_WHILE",
            "loopCondition": "true",
            "loopOver": [simple("work"), terminate("stop", "TERMINATED", terminationReason="enough")],
        }
    )
    run = Run(definition)

    run.complete("work__1")

    assert run.status == "TERMINATED"
    assert run.state.workflow["reasonForIncompletion"] == "enough"
    assert run.task("l")["status"] == "CANCELED"
    assert rows(run)[-1] == ("stop__1", "TERMINATE", "COMPLETED")
