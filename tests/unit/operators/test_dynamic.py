"""DYNAMIC: a worker task whose name comes from an input parameter at run time.

Behaviour follows Conductor's DynamicTaskMapper (and DynamicTaskMapperTest): the value of
the input named by `dynamicTaskNameParam` is the task name; the task is then that SIMPLE
task (taskType and taskDefName are the name) with that name's TaskDef, an embedded
`taskDefinition` first. The kitchen-sink definitions use it as `task_2`, whose
output later tasks read. Podium's choices are marked as such.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from actors.workflow.definition_checks import validate_workflow_def
from definitions.models import WorkflowDef
from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, dispatched, of_type, rows, simple, task_def, workflow

KITCHENSINK = "kitchensink/kitchensink.json"


def dynamic(ref: str = "task_2", param: str = "taskToExecute", **extra: Any) -> dict[str, Any]:
    """The kitchen sink's DYNAMIC task: its name comes from `workflow.input.task2Name`."""
    return {
        "name": "dyntask",
        "taskReferenceName": ref,
        "inputParameters": extra.pop("inputParameters", {param: "${workflow.input.task2Name}"}),
        "type": "DYNAMIC",
        "dynamicTaskNameParam": param,
        **extra,
    }


def kitchen_sink_dynamic_task() -> dict[str, Any]:
    [task] = [t for t in conductor_definition(KITCHENSINK)["tasks"] if t.get("type") == "DYNAMIC"]
    return task


def test_the_resolved_name_is_the_task_type_and_workers_poll_it() -> None:
    """DynamicTaskMapper: taskType = the resolved name, and so is taskDefName (the
    WorkflowTask is renamed before createTaskModel); the task is SCHEDULED for a worker."""
    definition = workflow(
        kitchen_sink_dynamic_task(), simple("after", inputParameters={"oe": "${task_2.output.oddEven}"})
    )
    run = Run(definition, {"task2Name": "task_2"})

    assert rows(run) == [("task_2", "task_2", "SCHEDULED")]
    task = run.task("task_2")
    assert task["taskDefName"] == "task_2"
    assert task["inputData"] == {"taskToExecute": "task_2"}
    [dispatch] = of_type(run.commands, cmd.DispatchTask)
    assert dispatch.task["taskType"] == "task_2"

    # Its output feeds what follows, as the kitchen sink's oddEvenDecision reads it.
    assert dispatched(run.complete("task_2", {"oddEven": 1})) == ["after"]
    assert run.task("after")["inputData"] == {"oe": 1}
    run.complete("after")
    assert run.status == "COMPLETED"


def test_each_execution_picks_its_own_task() -> None:
    """The name is resolved per execution: one definition runs different tasks."""
    definition = workflow(dynamic())
    assert rows(Run(definition, {"task2Name": "resize"})) == [("task_2", "resize", "SCHEDULED")]
    assert rows(Run(definition, {"task2Name": "encode"})) == [("task_2", "encode", "SCHEDULED")]


def test_the_resolved_tasks_taskdef_gives_retries_not_the_dynamic_tasks_own_name() -> None:
    """DynamicTaskMapper sets the task definition of the resolved name on the task, so a
    failure is retried per that TaskDef; a TaskDef named like the DYNAMIC task is unused."""
    run = Run(
        workflow(dynamic()),
        {"task2Name": "flaky"},
        task_defs=[task_def("flaky", retryCount=1, retryDelaySeconds=0), task_def("dyntask", retryCount=5)],
    )
    first = run.task("task_2")
    retried = dispatched(run.fail("task_2"))
    assert retried == ["task_2"]
    second = run.task("task_2")
    assert second["taskType"] == "flaky"
    assert second["retryCount"] == 1
    assert second["retriedTaskId"] == first["taskId"]
    assert second["inputData"] == {"taskToExecute": "flaky"}

    run.fail("task_2", "still broken")
    assert rows(run) == [("task_2", "flaky", "FAILED"), ("task_2", "flaky", "FAILED")]
    assert run.status == "FAILED"
    assert run.state.workflow["failedTaskNames"] == ["flaky"]


def test_the_resolved_tasks_taskdef_gives_timeouts() -> None:
    """The TaskModel's responseTimeoutSeconds is the resolved TaskDef's, and Podium arms
    that TaskDef's poll, response and task timeouts."""
    run = Run(
        workflow(dynamic()),
        {"task2Name": "slow"},
        task_defs=[
            task_def("slow", responseTimeoutSeconds=30, timeoutSeconds=100, pollTimeoutSeconds=10),
            task_def("dyntask", pollTimeoutSeconds=999),
        ],
    )
    task = run.task("task_2")
    assert task["responseTimeoutSeconds"] == 30
    assert run.timer(task["taskId"], "poll") == run.now + 10_000

    run.poll("task_2")
    assert run.timer(task["taskId"], "timeout") == run.now + 100_000
    assert run.timer(task["taskId"], "response") == run.now + 30_000

    run.advance(30_000)
    assert task["status"] == "TIMED_OUT"
    assert "responseTimeout: 30 exceeded" in task["reasonForIncompletion"]


def test_an_embedded_task_definition_wins() -> None:
    """DynamicTaskMapper.getDynamicTaskDefinition: the WorkflowTask's own taskDefinition
    comes before the registered one."""
    embedded = {"name": "any", "retryCount": 1, "retryDelaySeconds": 0, "responseTimeoutSeconds": 7}
    run = Run(
        workflow(dynamic(taskDefinition=embedded)),
        {"task2Name": "registered"},
        task_defs=[task_def("registered", retryCount=0, responseTimeoutSeconds=60)],
    )
    assert run.task("task_2")["responseTimeoutSeconds"] == 7
    assert dispatched(run.fail("task_2")) == ["task_2"]


def test_the_resolved_tasks_input_template_fills_missing_inputs() -> None:
    """ParametersUtils.getTaskInput is given the resolved TaskDef: its inputTemplate
    supplies what inputParameters do not."""
    run = Run(
        workflow(dynamic(inputParameters={"taskToExecute": "${workflow.input.task2Name}", "size": 2})),
        {"task2Name": "templated"},
        task_defs=[task_def("templated", inputTemplate={"size": 1, "unit": "px"})],
    )
    assert run.task("task_2")["inputData"] == {"size": 2, "unit": "px", "taskToExecute": "templated"}


def test_task_to_domain_applies_to_the_resolved_name() -> None:
    """A domain is chosen by the task's type, which is the resolved name."""
    run = Run(workflow(dynamic()), {"task2Name": "blue_task"}, task_to_domain={"blue_task": "blue", "dyntask": "red"})
    assert run.task("task_2")["domain"] == "blue"


def test_a_number_is_taken_as_a_name() -> None:
    """Conductor takes String.valueOf of the parameter's value."""
    run = Run(workflow(dynamic()), {"task2Name": 42})
    assert rows(run) == [("task_2", "42", "SCHEDULED")]


@pytest.mark.parametrize(
    "value", [None, "", "   ", {"name": "x"}, ["x"]], ids=["missing", "empty", "blank", "map", "list"]
)
def test_a_missing_or_unusable_name_fails_the_task_and_the_workflow(value: Any) -> None:
    """Conductor throws TerminateWorkflowException ("Cannot map a dynamic task based on the
    parameter and input") and the workflow fails. Podium's choice: the task is recorded
    FAILED_WITH_TERMINAL_ERROR (never retried) with that reason, and fails the workflow."""
    workflow_input = {} if value is None else {"task2Name": value}
    run = Run(
        workflow(dynamic(), simple("after")),
        workflow_input,
        task_defs=[task_def("dyntask", retryCount=3, retryDelaySeconds=0)],
    )

    assert rows(run) == [("task_2", "DYNAMIC", "FAILED_WITH_TERMINAL_ERROR")]
    reason = run.task("task_2")["reasonForIncompletion"]
    assert reason.startswith("Cannot map a dynamic task based on the parameter and input. Parameter= taskToExecute")
    assert not of_type(run.commands, cmd.DispatchTask)
    assert run.status == "FAILED"
    assert reason in run.state.workflow["reasonForIncompletion"]


def test_an_optional_dynamic_task_without_a_name_lets_the_workflow_go_on() -> None:
    """Podium's choice, following from recording the failure on the task: an optional
    DYNAMIC task ends COMPLETED_WITH_ERRORS like any optional task."""
    run = Run(workflow(dynamic(optional=True), simple("after")), {})
    assert rows(run) == [
        ("task_2", "DYNAMIC", "COMPLETED_WITH_ERRORS"),
        ("after", "after", "SCHEDULED"),
    ]


def test_terminating_the_workflow_takes_the_task_off_its_queue() -> None:
    """Like a SIMPLE task, a waiting DYNAMIC task is cancelled and dequeued on terminate."""
    run = Run(workflow(dynamic()), {"task2Name": "worker_a"})
    run.send(ev.Terminate(reason="stop"))
    [cancel] = of_type(run.commands, cmd.CancelTask)
    assert cancel.task["taskType"] == "worker_a"
    assert run.task("task_2")["status"] == "CANCELED"


def test_recovery_dispatches_it_again_under_its_resolved_name() -> None:
    """After a reload the waiting task is handed to its worker again (at least once)."""
    run = Run(workflow(dynamic()), {"task2Name": "worker_a"})
    produced = run.send(ev.Redispatch())
    assert [c.task["taskType"] for c in of_type(produced, cmd.DispatchTask)] == ["worker_a"]


def test_inside_a_dynamic_fork_the_carried_workflow_task_is_renamed() -> None:
    """A DYNAMIC task forked by FORK_JOIN_DYNAMIC resolves its name the same way, and its
    retries use the resolved TaskDef."""
    fork = {
        "name": "fork",
        "taskReferenceName": "fork",
        "type": "FORK_JOIN_DYNAMIC",
        "dynamicForkTasksParam": "tasks",
        "dynamicForkTasksInputParamName": "inputs",
        "inputParameters": {"tasks": "${workflow.input.tasks}", "inputs": "${workflow.input.inputs}"},
    }
    forked = {"name": "dyn", "taskReferenceName": "d1", "type": "DYNAMIC", "dynamicTaskNameParam": "which"}
    run = Run(
        workflow(fork, {"name": "join", "taskReferenceName": "join", "type": "JOIN"}),
        {"tasks": [forked], "inputs": {"d1": {"which": "forked_worker"}}},
        task_defs=[task_def("forked_worker", retryCount=1, retryDelaySeconds=0)],
    )
    assert run.task("d1")["taskType"] == "forked_worker"
    assert run.task("d1")["workflowTask"]["name"] == "forked_worker"
    assert dispatched(run.fail("d1")) == ["d1"]
    run.complete("d1", {"ok": True})
    assert run.status == "COMPLETED"
    assert run.task("join")["outputData"] == {"d1": {"ok": True}}


# -- registration ---------------------------------------------------------------------


def test_registration_requires_dynamic_task_name_param() -> None:
    """Conductor's WorkflowTaskTypeConstraint: "dynamicTaskNameParam field is required"."""
    errors = validate_workflow_def(WorkflowDef.model_validate(workflow(dynamic(param=""))))
    assert errors == [
        "task 'task_2' (DYNAMIC): dynamicTaskNameParam is missing; it names the input parameter holding the task name"
    ]
    assert validate_workflow_def(WorkflowDef.model_validate(workflow(kitchen_sink_dynamic_task()))) == []
