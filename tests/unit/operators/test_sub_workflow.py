"""SUB_WORKFLOW: the parent asks for a child (StartChild), waits, and takes its result.

Behaviour follows Conductor's SubWorkflowSpec and SubWorkflow task: the task is
IN_PROGRESS with `subWorkflowId` while the child runs; the child's end maps COMPLETED ->
COMPLETED, FAILED -> FAILED, TIMED_OUT -> TIMED_OUT and TERMINATED -> CANCELED (the parent
then ends TERMINATED); terminating the parent terminates the child.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, of_type, rows, simple, types, workflow

WITH_SUB_WF = "workflows/workflow_with_sub_workflow_1_integration_test.json"
INLINE_DEF_WF = "workflows/simple_workflow_with_sub_workflow_inline_def_integration_test.json"
FORK_SUB_WF = "workflows/fork_join_sub_workflow.json"
OPTIONAL_FORKS_WF = "workflows/fork_join_with_optional_sub_workflow_forks_integration_test.json"
CHILD_WF = "workflows/simple_one_task_sub_workflow_integration_test.json"

INPUT = {"param1": "p1 value", "param2": "p2 value", "subwf": "sub_workflow"}


def started(**start: Any) -> Run:
    """The shared parent with `t1` completed, so its SUB_WORKFLOW `t2` has started."""
    run = Run(conductor_definition(WITH_SUB_WF), INPUT, **start)
    run.complete("t1", {"op": "task1.done"})
    return run


def child_finished(
    run: Run, ref: str, status: str, output: dict[str, Any] | None = None, reason: str | None = None
) -> list[cmd.Command]:
    task = run.task(ref)
    return run.send(ev.ChildFinished(task["taskId"], task["subWorkflowId"], status, output or {}, reason))


def sub_workflow(ref: str, name: str = "child", **extra: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": name}, **extra}


def test_the_sub_workflow_task_starts_a_child_with_its_resolved_input() -> None:
    run = Run(conductor_definition(WITH_SUB_WF), INPUT, correlation_id="wf_with_subwf_test_1", priority=3)

    produced = run.complete("t1", {"op": "task1.done"})

    assert types(run) == [("integration_task_1", "COMPLETED"), ("SUB_WORKFLOW", "IN_PROGRESS")]
    task = run.task("t2")
    [start] = of_type(produced, cmd.StartChild)
    assert start.child_workflow_id == task["subWorkflowId"]
    assert task["outputData"] == {"subWorkflowId": task["subWorkflowId"]}
    assert start.parent_task_id == task["taskId"]
    # `name` is an expression in this definition.
    assert (start.name, start.version, start.definition) == ("sub_workflow", 1, None)
    assert start.input == {"param1": "p1 value", "param2": "p2 value", "subwf": None}
    assert start.input == task["inputData"]
    assert start.correlation_id == "wf_with_subwf_test_1"
    assert start.priority == 3
    assert of_type(produced, cmd.DispatchTask) == []


def test_a_completed_child_completes_the_task_with_the_childs_output() -> None:
    run = started()
    child_id = run.task("t2")["subWorkflowId"]

    produced = child_finished(run, "t2", "COMPLETED", {"result": 42})

    assert run.task("t2")["status"] == "COMPLETED"
    assert run.task("t2")["outputData"] == {"result": 42, "subWorkflowId": child_id}
    assert run.status == "COMPLETED"
    assert of_type(produced, cmd.WorkflowEnded) == [cmd.WorkflowEnded("COMPLETED")]


def test_a_failed_child_fails_the_task_and_the_parent() -> None:
    run = started()

    child_finished(run, "t2", "FAILED", reason="child broke")

    task = run.task("t2")
    assert task["status"] == "FAILED"
    assert task["reasonForIncompletion"] == "child broke"
    assert run.status == "FAILED"
    assert run.state.workflow["reasonForIncompletion"] == (
        f"Task {task['taskId']} failed with status: FAILED and reason: 'child broke'"
    )


def test_a_terminated_child_cancels_the_task_and_terminates_the_parent() -> None:
    run = started()

    produced = child_finished(run, "t2", "TERMINATED", reason="terminating from a test case")

    assert types(run) == [("integration_task_1", "COMPLETED"), ("SUB_WORKFLOW", "CANCELED")]
    assert run.status == "TERMINATED"
    assert "terminating from a test case" in run.state.workflow["reasonForIncompletion"]
    # The child is over already: nothing to terminate.
    assert of_type(produced, cmd.TerminateChild) == []
    assert of_type(produced, cmd.WorkflowEnded) == [cmd.WorkflowEnded("TERMINATED")]


def test_a_timed_out_child_times_the_parent_out() -> None:
    run = started()

    child_finished(run, "t2", "TIMED_OUT")

    assert run.task("t2")["status"] == "TIMED_OUT"
    assert run.status == "TIMED_OUT"


def test_news_of_another_child_is_ignored() -> None:
    run = started()
    task = run.task("t2")

    produced = run.send(ev.ChildFinished(task["taskId"], "someone-else", "COMPLETED", {}))

    assert produced == []
    assert task["status"] == "IN_PROGRESS"
    assert run.status == "RUNNING"


def test_terminating_the_parent_terminates_the_child() -> None:
    run = started()
    child_id = run.task("t2")["subWorkflowId"]

    produced = run.send(ev.Terminate("stop it"))

    assert run.status == "TERMINATED"
    assert run.task("t2")["status"] == "CANCELED"
    assert of_type(produced, cmd.TerminateChild) == [
        cmd.TerminateChild(child_id, "Parent workflow has been terminated with reason: stop it")
    ]
    # A SUB_WORKFLOW task is not in any worker queue.
    assert of_type(produced, cmd.CancelTask) == []


def test_a_child_notifies_its_parent_when_it_ends() -> None:
    child = Run(
        conductor_definition(CHILD_WF),
        {"x": 1},
        parent_workflow_id="parent-1",
        parent_workflow_task_id="parent-task-1",
    )

    produced = child.complete("t1", {"done": True})

    assert of_type(produced, cmd.NotifyParent) == [
        cmd.NotifyParent(
            parent_workflow_id="parent-1",
            parent_task_id="parent-task-1",
            child_workflow_id="wf-1",
            status="COMPLETED",
            output={"done": True},
            reason_for_incompletion=None,
        )
    ]


def test_a_failing_child_tells_its_parent_why() -> None:
    child = Run(conductor_definition(CHILD_WF), parent_workflow_id="p", parent_workflow_task_id="pt")

    produced = child.fail("t1", "worker crashed", terminal=True)

    [notice] = of_type(produced, cmd.NotifyParent)
    assert notice.status == "FAILED"
    assert "worker crashed" in (notice.reason_for_incompletion or "")


def test_an_inline_definition_reaches_the_child_unresolved() -> None:
    run = Run(conductor_definition(INLINE_DEF_WF), {"param1": "p1"})

    produced = run.complete("t1", {"op": "o", "imageType": "png"})

    [start] = of_type(produced, cmd.StartChild)
    assert start.input == {"op": "o", "imageType": "png"}
    assert start.definition is not None
    assert start.definition["name"] == "one_task_workflow"
    # The child's own references stay for the child to resolve.
    assert start.definition["tasks"][0]["inputParameters"] == {"p1": "${workflow.input.imageType}"}
    assert start.definition["outputParameters"] == {"op": "${t3.output.op}"}


def test_a_definition_given_as_an_expression_is_resolved() -> None:
    child_definition = {"name": "made_at_run_time", "tasks": [simple("c1")]}
    definition = workflow(
        sub_workflow("s", name="made_at_run_time")
        | {"subWorkflowParam": {"name": "made_at_run_time", "workflowDefinition": "${workflow.input.definition}"}}
    )

    run = Run(definition, {"definition": child_definition})

    [start] = of_type(run.commands, cmd.StartChild)
    assert start.definition == child_definition


def test_task_to_domain_of_the_sub_workflow_param_wins_over_the_parents() -> None:
    definition = workflow(
        sub_workflow("own") | {"subWorkflowParam": {"name": "child", "taskToDomain": {"*": "mine"}}},
        sub_workflow("inherited"),
    )
    run = Run(definition, task_to_domain={"*": "parents"})
    child_finished(run, "own", "COMPLETED")

    starts = of_type(run.commands, cmd.StartChild)
    assert [s.task_to_domain for s in starts] == [{"*": "mine"}, {"*": "parents"}]


def test_redispatch_starts_the_same_child_again() -> None:
    run = started()
    child_id = run.task("t2")["subWorkflowId"]

    produced = run.send(ev.Redispatch())

    [again] = of_type(produced, cmd.StartChild)
    assert again.child_workflow_id == child_id


def test_a_retried_sub_workflow_starts_a_new_child() -> None:
    definition = workflow(sub_workflow("s", name="child", retryCount=1))
    run = Run(definition, task_defs=[{"name": "s", "retryDelaySeconds": 0}])
    first_child = run.task("s")["subWorkflowId"]

    produced = child_finished(run, "s", "FAILED")

    [start] = of_type(produced, cmd.StartChild)
    assert start.child_workflow_id != first_child
    assert run.task("s")["retryCount"] == 1
    assert run.status == "RUNNING"


def test_a_sub_workflow_in_a_fork_is_joined_with_the_other_branch() -> None:
    run = Run(conductor_definition(FORK_SUB_WF), {"param1": "a", "param2": "b"})

    assert types(run) == [
        ("FORK", "COMPLETED"),
        ("SUB_WORKFLOW", "IN_PROGRESS"),
        ("integration_task_2", "SCHEDULED"),
        ("JOIN", "IN_PROGRESS"),
    ]
    [start] = of_type(run.commands, cmd.StartChild)
    assert start.name == "sub_workflow"

    child_finished(run, "st1", "COMPLETED", {"child": "done"})
    assert run.task("fanouttask_join")["status"] == "IN_PROGRESS"
    run.complete("t2", {"t2": True})

    assert run.task("fanouttask_join")["outputData"] == {
        "st1": {"child": "done", "subWorkflowId": run.task("st1")["subWorkflowId"]},
        "t2": {"t2": True},
    }
    assert run.status == "COMPLETED"


def test_failing_branch_terminates_the_child_of_the_other_branch() -> None:
    run = Run(conductor_definition(FORK_SUB_WF), task_defs=[{"name": "integration_task_2", "retryCount": 0}])
    child_id = run.task("st1")["subWorkflowId"]

    produced = run.fail("t2", "boom")

    assert run.status == "FAILED"
    assert run.task("st1")["status"] == "CANCELED"
    [terminate] = of_type(produced, cmd.TerminateChild)
    assert terminate.child_workflow_id == child_id
    assert terminate.reason.startswith("Parent workflow has been terminated with reason: Task ")


def test_optional_sub_workflows_that_fail_complete_the_join_with_errors() -> None:
    run = Run(conductor_definition(OPTIONAL_FORKS_WF))
    assert types(run) == [
        ("FORK", "COMPLETED"),
        ("SUB_WORKFLOW", "IN_PROGRESS"),
        ("SUB_WORKFLOW", "IN_PROGRESS"),
        ("JOIN", "IN_PROGRESS"),
    ]

    child_finished(run, "st1", "FAILED", reason="Failed....")
    child_finished(run, "st2", "FAILED", reason="Failed....")

    assert run.status == "COMPLETED"
    assert types(run) == [
        ("FORK", "COMPLETED"),
        ("SUB_WORKFLOW", "COMPLETED_WITH_ERRORS"),
        ("SUB_WORKFLOW", "COMPLETED_WITH_ERRORS"),
        ("JOIN", "COMPLETED_WITH_ERRORS"),
    ]


@pytest.mark.parametrize("child_status", ["TERMINATED", "FAILED"])
def test_a_child_ending_badly_inside_a_fork_ends_the_parent(child_status: str) -> None:
    run = Run(conductor_definition(FORK_SUB_WF))

    child_finished(run, "st1", child_status)

    assert run.status == {"TERMINATED": "TERMINATED", "FAILED": "FAILED"}[child_status]
    assert run.task("fanouttask_join")["status"] == "CANCELED"
    assert run.task("t2")["status"] == "CANCELED"


def test_a_sub_workflow_in_a_loop_starts_one_child_per_iteration() -> None:
    definition = workflow(
        {
            "name": "l",
            "taskReferenceName": "l",
            "type": "DO_WHILE",
            "loopCondition": "$.l.iteration < 2",
            "loopOver": [sub_workflow("s", inputParameters={"i": "${l.output.iteration}"})],
        }
    )
    run = Run(definition)
    child_finished(run, "s__1", "COMPLETED", {"n": 1})
    child_finished(run, "s__2", "COMPLETED", {"n": 2})

    starts = of_type(run.commands, cmd.StartChild)
    assert [s.input for s in starts] == [{"i": 1}, {"i": 2}]
    assert len({s.child_workflow_id for s in starts}) == 2
    assert run.task("l")["outputData"]["2"]["s"]["n"] == 2
    assert run.status == "COMPLETED"
    assert [ref for ref, _, _ in rows(run)] == ["l", "s__1", "s__2"]


def test_version_zero_means_the_latest_version() -> None:
    """Conductor's SubWorkflow.start: `version == 0 ? null : version`."""
    definition = {
        "name": "parent",
        "tasks": [
            {
                "name": "child",
                "taskReferenceName": "child",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": "child_wf", "version": 0},
            }
        ],
    }
    [start] = of_type(Run(definition).commands, cmd.StartChild)
    assert start.name == "child_wf"
    assert start.version is None
