"""FORK_JOIN and JOIN: branches in parallel, the JOIN waiting for its `joinOn` tasks.

Behaviour follows Conductor's ForkJoinSpec: the fork's task has type FORK and completes
at once; the first task of every branch and the JOIN (IN_PROGRESS) follow it in that
order; the JOIN's output maps each joined reference name to that task's output.
"""

from __future__ import annotations

from typing import Any

from actors.workflow import commands as cmd
from tests.unit.machine_harness import Run
from tests.unit.operators.support import (
    conductor_definition,
    dispatched,
    of_type,
    rows,
    simple,
    types,
    without_retries,
    workflow,
)

FORK_WF = "workflows/fork_join_integration_test.json"
NESTED_WF = "workflows/nested_fork_join_integration_test.json"


def fork(ref: str, *branches: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "FORK_JOIN", "forkTasks": list(branches)}


def join(ref: str, *join_on: str) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "JOIN", "joinOn": list(join_on)}


def test_fork_schedules_every_branch_and_an_in_progress_join() -> None:
    run = Run(conductor_definition(FORK_WF))

    assert rows(run) == [
        ("fanouttask", "FORK", "COMPLETED"),
        ("t1", "integration_task_1", "SCHEDULED"),
        ("t2", "integration_task_2", "SCHEDULED"),
        ("fanouttask_join", "JOIN", "IN_PROGRESS"),
    ]
    assert dispatched(run.commands) == ["t1", "t2"]
    assert run.task("fanouttask_join")["inputData"] == {"joinOn": ["t3", "t2"]}


def test_join_completes_when_every_joined_task_is_done_then_the_workflow_moves_on() -> None:
    run = Run(conductor_definition(FORK_WF))

    assert dispatched(run.complete("t1", {"one": 1})) == ["t3"]
    assert types(run)[-1] == ("integration_task_3", "SCHEDULED")
    run.complete("t3", {"three": 3})
    assert run.task("fanouttask_join")["status"] == "IN_PROGRESS"

    produced = run.complete("t2", {"two": 2})

    join_task = run.task("fanouttask_join")
    assert join_task["status"] == "COMPLETED"
    assert join_task["outputData"] == {"t3": {"three": 3}, "t2": {"two": 2}}
    assert dispatched(produced) == ["t4"]
    assert types(run) == [
        ("FORK", "COMPLETED"),
        ("integration_task_1", "COMPLETED"),
        ("integration_task_2", "COMPLETED"),
        ("JOIN", "COMPLETED"),
        ("integration_task_3", "COMPLETED"),
        ("integration_task_4", "SCHEDULED"),
    ]
    run.complete("t4")
    assert run.status == "COMPLETED"


def test_join_output_leaves_out_tasks_with_empty_output() -> None:
    run = Run(conductor_definition(FORK_WF))
    run.complete("t1")
    run.complete("t3")
    run.complete("t2", {"two": 2})

    assert run.task("fanouttask_join")["outputData"] == {"t2": {"two": 2}}


def test_a_failed_branch_task_without_retries_fails_the_workflow_and_cancels_the_rest() -> None:
    run = Run(conductor_definition(FORK_WF), task_defs=[{"name": "integration_task_2", "retryCount": 0}])
    run.complete("t1")

    produced = run.fail("t2", "Failed....")

    assert run.status == "FAILED"
    assert types(run) == [
        ("FORK", "COMPLETED"),
        ("integration_task_1", "COMPLETED"),
        ("integration_task_2", "FAILED"),
        ("JOIN", "CANCELED"),
        ("integration_task_3", "CANCELED"),
    ]
    # Only the worker task needs taking out of its queue.
    assert [c.task["referenceTaskName"] for c in of_type(produced, cmd.CancelTask)] == ["t3"]
    assert run.state.workflow["failedReferenceTaskNames"] == ["t2"]
    assert run.state.workflow["failedTaskNames"] == ["integration_task_2"]
    task_id = run.task("t2")["taskId"]
    assert (
        run.state.workflow["reasonForIncompletion"]
        == f"Task {task_id} failed with status: FAILED and reason: 'Failed....'"
    )


def test_a_retried_branch_task_is_joined_on_its_last_attempt() -> None:
    run = Run(
        conductor_definition(FORK_WF),
        task_defs=[{"name": "integration_task_2", "retryCount": 1, "retryDelaySeconds": 0}],
    )
    first_attempt = run.task("t2")
    run.fail("t2")
    assert run.task("t2") is not first_attempt
    assert run.task("t2")["retryCount"] == 1

    run.complete("t1")
    run.complete("t3")
    run.complete("t2", {"second": True})

    assert run.task("fanouttask_join")["outputData"]["t2"] == {"second": True}
    assert run.task("fanouttask_join")["status"] == "COMPLETED"


def test_nested_forks_are_scheduled_depth_first_as_in_conductor() -> None:
    run = Run(conductor_definition(NESTED_WF), {"case": "a"})

    assert rows(run) == [
        ("fork1", "FORK", "COMPLETED"),
        ("t11", "integration_task_11", "SCHEDULED"),
        ("fork2", "FORK", "COMPLETED"),
        ("t12", "integration_task_12", "SCHEDULED"),
        ("t13", "integration_task_13", "SCHEDULED"),
        ("join2", "JOIN", "IN_PROGRESS"),
        ("join1", "JOIN", "IN_PROGRESS"),
    ]
    assert run.task("join2")["inputData"]["joinOn"] == ["t14", "t20"]
    assert run.task("join1")["inputData"]["joinOn"] == ["t11", "join2"]


def test_nested_forks_with_a_decision_complete_inner_join_then_outer_join() -> None:
    run = Run(conductor_definition(NESTED_WF), {"case": "a"})
    for ref in ("t11", "t12", "t13"):
        run.complete(ref)
    assert types(run)[7:] == [
        ("integration_task_14", "SCHEDULED"),
        ("DECISION", "COMPLETED"),
        ("integration_task_16", "SCHEDULED"),
    ]

    run.complete("t16")
    run.complete("t14")
    assert types(run)[-1] == ("integration_task_19", "SCHEDULED")
    run.complete("t19")
    assert types(run)[-1] == ("integration_task_20", "SCHEDULED")
    assert run.task("join2")["status"] == "IN_PROGRESS"

    run.complete("t20", {"done": 20})

    assert run.task("join2")["status"] == "COMPLETED"
    assert run.task("join1")["status"] == "COMPLETED"
    assert run.task("join1")["outputData"] == {"join2": {"t20": {"done": 20}}}
    assert types(run)[-1] == ("integration_task_15", "SCHEDULED")
    assert len(run.state.tasks) == 13
    run.complete("t15")
    assert run.status == "COMPLETED"


def test_an_empty_join_on_waits_for_the_last_task_of_every_branch() -> None:
    """Podium's choice: Conductor's docs say a JOIN with an empty `joinOn` after a static
    fork does not wait at all; Podium waits for the last task of each branch instead, so
    the tasks after the JOIN never run beside the branches."""
    definition = workflow(fork("f", [simple("a1"), simple("a2")], [simple("b")]), join("j"), simple("after"))
    run = Run(definition)
    assert run.task("j")["inputData"]["joinOn"] == ["a2", "b"]

    run.complete("b", {"b": 1})
    run.complete("a1")
    assert run.task("j")["status"] == "IN_PROGRESS"
    run.complete("a2", {"a": 2})

    assert run.task("j")["status"] == "COMPLETED"
    assert run.task("j")["outputData"] == {"a2": {"a": 2}, "b": {"b": 1}}
    assert run.task("after")["status"] == "SCHEDULED"


def test_a_branch_left_out_of_join_on_keeps_running_and_the_workflow_waits_for_it() -> None:
    """Conductor's "ignoring one fork": the JOIN and what follows it go on without the
    branch, which is not cancelled; the workflow completes once it ends too."""
    definition = workflow(
        fork("f", [simple("email")], [simple("sms")], [simple("http")]),
        join("j", "email", "sms"),
        simple("after"),
    )
    run = Run(definition)
    run.complete("email")
    run.complete("sms")
    assert run.task("j")["status"] == "COMPLETED"

    produced = run.complete("after", {"after": True})

    assert run.status == "RUNNING"
    assert run.task("http")["status"] == "SCHEDULED"
    assert of_type(produced, cmd.CancelTask) == []

    produced = run.complete("http", {"http": 200})

    assert run.status == "COMPLETED"
    assert of_type(produced, cmd.WorkflowEnded) == [cmd.WorkflowEnded("COMPLETED")]
    # Conductor's output without outputParameters: the output of the last task in the list.
    assert run.output == {"after": True}


def test_a_failure_in_an_unjoined_branch_still_fails_the_workflow() -> None:
    definition = workflow(fork("f", [simple("a")], [simple("loose")]), join("j", "a"), simple("after"))
    run = Run(definition)
    run.complete("a")
    run.complete("after")
    assert run.status == "RUNNING"

    run.fail("loose", terminal=True)

    assert run.status == "FAILED"


def test_an_optional_failed_branch_completes_the_join_with_errors() -> None:
    definition = workflow(
        fork("f", [simple("opt", optional=True)], [simple("req")]),
        join("j", "opt", "req"),
    )
    run = Run(definition, task_defs=without_retries(definition))
    run.fail("opt", "flaky")
    assert run.task("opt")["status"] == "COMPLETED_WITH_ERRORS"
    assert run.status == "RUNNING"

    run.complete("req", {"ok": 1})

    join_task = run.task("j")
    assert join_task["status"] == "COMPLETED_WITH_ERRORS"
    assert join_task["reasonForIncompletion"] == f"opt/{run.task('opt')['taskId']} completed with errors"
    assert join_task["outputData"] == {"req": {"ok": 1}}
    assert run.status == "COMPLETED"


def test_fork_tasks_in_a_branch_run_in_sequence() -> None:
    definition = workflow(fork("f", [simple("a1"), simple("a2"), simple("a3")]), join("j", "a3"))
    run = Run(definition)
    assert dispatched(run.commands) == ["a1"]

    assert dispatched(run.complete("a1")) == ["a2"]
    assert dispatched(run.complete("a2")) == ["a3"]
    run.complete("a3")
    assert run.status == "COMPLETED"


def test_a_fork_not_followed_by_a_join_fails() -> None:
    definition = workflow(fork("f", [simple("a")]), simple("not_a_join"))

    run = Run(definition)

    assert run.status == "FAILED"
    assert rows(run) == [("f", "FORK", "FAILED")]
    assert "not followed by a JOIN" in run.task("f")["reasonForIncompletion"]
