"""EXCLUSIVE_JOIN: joins whichever branch of a DECISION or SWITCH ran.

Behaviour follows Conductor's ExclusiveJoinSpec (test-harness) on
`exclusive_join_integration_test.json`, and ExclusiveJoin / ExclusiveJoinTaskMapper: the
join completes with the output of the first `joinOn` task that ran, else of the first
`defaultExclusiveJoinTask` that ran; it fails when that task failed, a permissive one
only once every scheduled `joinOn` task is done. Podium's choices are marked as such.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.workflow import events as ev
from actors.workflow.definition_checks import validate_workflow_def
from definitions.models import WorkflowDef
from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, rows, simple, types, without_retries, workflow

EXCLUSIVE_JOIN_WF = "workflows/exclusive_join_integration_test.json"


def complete_as_the_spec_does(run: Run, reference: str) -> None:
    """The spec's workers answer with their own reference name."""
    run.complete(reference, {"taskReferenceName": reference})


def exclusive_join(
    ref: str = "ej", join_on: list[str] | None = None, defaults: list[str] | None = None
) -> dict[str, Any]:
    task: dict[str, Any] = {"name": "exclusive_join", "taskReferenceName": ref, "type": "EXCLUSIVE_JOIN"}
    if join_on is not None:
        task["joinOn"] = join_on
    if defaults is not None:
        task["defaultExclusiveJoinTask"] = defaults
    return task


def switch(ref: str, cases: dict[str, list[dict[str, Any]]], **extra: Any) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "SWITCH",
        "evaluatorType": "value-param",
        "expression": "which",
        "inputParameters": {"which": "${workflow.input.which}"},
        "decisionCases": cases,
        **extra,
    }


# -- ExclusiveJoinSpec, case by case --------------------------------------------------------


def test_the_default_decision_is_run() -> None:
    """ "Test that the default decision is run": no case matches, so neither joinOn task
    ran; the join takes the first default that ran (task1), and the workflow completes."""
    run = Run(conductor_definition(EXCLUSIVE_JOIN_WF), {"decision_1": "null"})
    assert types(run) == [("integration_task_1", "SCHEDULED")]

    complete_as_the_spec_does(run, "task1")

    assert run.status == "COMPLETED"
    assert types(run) == [
        ("integration_task_1", "COMPLETED"),
        ("DECISION", "COMPLETED"),
        ("EXCLUSIVE_JOIN", "COMPLETED"),
    ]
    assert run.task("exclusiveJoin")["outputData"] == {"taskReferenceName": "task1"}


def test_one_decision_true_and_the_other_null() -> None:
    """ "Test when the one decision is true and the other is decision null": task2 runs,
    decision2 matches nothing, and the join falls back to the default task2."""
    run = Run(conductor_definition(EXCLUSIVE_JOIN_WF), {"decision_1": "true", "decision_2": "null"})
    complete_as_the_spec_does(run, "task1")
    assert run.status == "RUNNING"
    assert types(run)[1:] == [("DECISION", "COMPLETED"), ("integration_task_2", "SCHEDULED")]

    complete_as_the_spec_does(run, "task2")

    assert run.status == "COMPLETED"
    assert types(run) == [
        ("integration_task_1", "COMPLETED"),
        ("DECISION", "COMPLETED"),
        ("integration_task_2", "COMPLETED"),
        ("DECISION", "COMPLETED"),
        ("EXCLUSIVE_JOIN", "COMPLETED"),
    ]
    assert run.task("exclusiveJoin")["outputData"] == {"taskReferenceName": "task2"}


def test_both_decisions_true() -> None:
    """ "Test when both the decisions, decision_1 and decision_2 are true": task3 is the
    first of joinOn that ran, and the join completes with its output."""
    run = Run(conductor_definition(EXCLUSIVE_JOIN_WF), {"decision_1": "true", "decision_2": "true"})
    complete_as_the_spec_does(run, "task1")
    complete_as_the_spec_does(run, "task2")
    assert run.status == "RUNNING"
    assert types(run)[3:] == [("DECISION", "COMPLETED"), ("integration_task_3", "SCHEDULED")]

    complete_as_the_spec_does(run, "task3")

    assert run.status == "COMPLETED"
    assert [t for t, _ in types(run)] == [
        "integration_task_1",
        "DECISION",
        "integration_task_2",
        "DECISION",
        "integration_task_3",
        "EXCLUSIVE_JOIN",
    ]
    assert all(status == "COMPLETED" for _, status in types(run))
    assert run.task("exclusiveJoin")["outputData"] == {"taskReferenceName": "task3"}


def test_decision_1_false_and_decision_3_default() -> None:
    """ "Test when decision_1 is false and decision_3 is default": task4 ran, nothing of
    joinOn did, so the default task4 is joined."""
    run = Run(conductor_definition(EXCLUSIVE_JOIN_WF), {"decision_1": "false", "decision_3": "null"})
    complete_as_the_spec_does(run, "task1")
    assert types(run)[2] == ("integration_task_4", "SCHEDULED")

    complete_as_the_spec_does(run, "task4")

    assert run.status == "COMPLETED"
    assert types(run)[3:] == [("DECISION", "COMPLETED"), ("EXCLUSIVE_JOIN", "COMPLETED")]
    assert run.task("exclusiveJoin")["outputData"] == {"taskReferenceName": "task4"}


def test_decision_1_false_and_decision_3_true() -> None:
    """ "Test when decision_1 is false and decision_3 is true": task5, the second of joinOn,
    is the one that ran."""
    run = Run(conductor_definition(EXCLUSIVE_JOIN_WF), {"decision_1": "false", "decision_3": "true"})
    complete_as_the_spec_does(run, "task1")
    complete_as_the_spec_does(run, "task4")
    assert types(run)[4] == ("integration_task_5", "SCHEDULED")

    complete_as_the_spec_does(run, "task5")

    assert run.status == "COMPLETED"
    assert types(run)[4:] == [("integration_task_5", "COMPLETED"), ("EXCLUSIVE_JOIN", "COMPLETED")]
    assert run.task("exclusiveJoin")["outputData"] == {"taskReferenceName": "task5"}


def test_the_join_task_is_recorded_as_conductor_maps_it() -> None:
    """ExclusiveJoinTaskMapper: taskType and taskDefName EXCLUSIVE_JOIN, input
    `{joinOn, defaultExclusiveJoinTask}`, started when scheduled."""
    run = Run(conductor_definition(EXCLUSIVE_JOIN_WF), {"decision_1": "null"})
    run.now += 5
    complete_as_the_spec_does(run, "task1")
    join = run.task("exclusiveJoin")
    assert join["taskType"] == join["taskDefName"] == "EXCLUSIVE_JOIN"
    assert join["inputData"] == {"joinOn": ["task3", "task5"], "defaultExclusiveJoinTask": ["task2", "task4", "task1"]}
    assert join["startTime"] == join["endTime"] == run.now


def test_the_workflow_goes_on_after_the_join_with_its_output() -> None:
    """What follows the join reads the joined branch's output through it."""
    definition = workflow(
        switch("sw", {"a": [simple("a1")], "b": [simple("b1")]}),
        exclusive_join(join_on=["a1", "b1"]),
        simple("after", inputParameters={"got": "${ej.output.value}"}),
    )
    run = Run(definition, {"which": "b"})
    run.complete("b1", {"value": "from b"})
    assert run.task("after")["inputData"] == {"got": "from b"}
    run.complete("after")
    assert run.status == "COMPLETED"


# -- failures -----------------------------------------------------------------------------


def test_a_failed_permissive_branch_fails_the_join_and_the_workflow() -> None:
    """ExclusiveJoin: an unsuccessful joined task fails the join with its reason; a
    permissive one does once every scheduled joinOn task is terminal (here: at once)."""
    definition = workflow(
        switch("sw", {"a": [simple("a1", permissive=True)], "b": [simple("b1")]}),
        exclusive_join(join_on=["a1", "b1"]),
        simple("after"),
    )
    run = Run(definition, {"which": "a"}, task_defs=without_retries(definition))
    run.fail("a1", "a1 broke")

    assert rows(run) == [
        ("sw", "SWITCH", "COMPLETED"),
        ("a1", "a1", "FAILED"),
        ("ej", "EXCLUSIVE_JOIN", "FAILED"),
    ]
    assert run.task("ej")["reasonForIncompletion"] == "a1 broke"
    assert run.status == "FAILED"
    assert "a1 broke" in run.state.workflow["reasonForIncompletion"]


def test_a_failed_permissive_task_with_another_join_on_task_running_completes_the_join() -> None:
    """ExclusiveJoin: a failed permissive joinOn task counts as a failure only once every
    joinOn task is terminal; until then the join is found and COMPLETES with that task's
    output. The permissive failure still fails the workflow in the end."""
    fork = {
        "name": "fork",
        "taskReferenceName": "fork",
        "type": "FORK_JOIN",
        "forkTasks": [[simple("p", permissive=True)], [simple("q")], [exclusive_join(join_on=["p", "q"])]],
    }
    definition = workflow(fork, {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["p", "q"]})
    run = Run(definition, task_defs=without_retries(definition))
    run.send(ev.TaskUpdate(run.task("p")["taskId"], "FAILED", {"partial": True}, "p broke"))

    assert run.task("ej")["status"] == "COMPLETED"
    assert run.task("ej")["outputData"] == {"partial": True}
    run.complete("q")
    assert run.status == "FAILED"


def test_a_failed_non_permissive_branch_fails_the_workflow_before_the_join() -> None:
    """As in Conductor's decider: an ordinary task that fails (retries spent) fails the
    workflow at once, so the join is never scheduled."""
    definition = workflow(switch("sw", {"a": [simple("a1")]}), exclusive_join(join_on=["a1"]))
    run = Run(definition, {"which": "a"}, task_defs=without_retries(definition))
    run.fail("a1")
    assert run.status == "FAILED"
    assert "ej" not in run.state.by_ref


def test_an_optional_failed_branch_completes_the_join() -> None:
    """An optional task that failed ends COMPLETED_WITH_ERRORS, a successful status for
    ExclusiveJoin: the join COMPLETES (not COMPLETED_WITH_ERRORS) with its output."""
    definition = workflow(switch("sw", {"a": [simple("a1", optional=True)]}), exclusive_join(join_on=["a1"]))
    run = Run(definition, {"which": "a"}, task_defs=without_retries(definition))
    run.send(ev.TaskUpdate(run.task("a1")["taskId"], "FAILED", {"partial": 1}, "soft"))

    assert rows(run)[1:] == [("a1", "a1", "COMPLETED_WITH_ERRORS"), ("ej", "EXCLUSIVE_JOIN", "COMPLETED")]
    assert run.task("ej")["outputData"] == {"partial": 1}
    assert run.status == "COMPLETED"


def test_a_failed_permissive_default_task_fails_the_join() -> None:
    """ExclusiveJoin's default path: an unsuccessful default task fails the join."""
    definition = workflow(
        simple("first", permissive=True),
        switch("sw", {"a": [simple("a1")]}),
        exclusive_join(join_on=["a1"], defaults=["first"]),
    )
    run = Run(definition, {"which": "none"}, task_defs=without_retries(definition))
    run.fail("first", "first broke")
    assert run.task("ej")["status"] == "FAILED"
    assert run.task("ej")["reasonForIncompletion"] == "first broke"
    assert run.status == "FAILED"


def test_an_optional_failed_join_lets_the_workflow_go_on() -> None:
    """The join's own failure is an ordinary task failure: optional on the join makes it
    COMPLETED_WITH_ERRORS."""
    join = {**exclusive_join(join_on=["a1"]), "optional": True}
    definition = workflow(switch("sw", {"a": [simple("a1", permissive=True)]}), join, simple("after"))
    run = Run(definition, {"which": "a"}, task_defs=without_retries(definition))
    run.fail("a1")
    assert rows(run)[2:] == [("ej", "EXCLUSIVE_JOIN", "COMPLETED_WITH_ERRORS"), ("after", "after", "SCHEDULED")]


def test_nothing_to_join_fails_the_join() -> None:
    """Podium's choice: when no joinOn or default task was scheduled and nothing else can
    still run, the join fails with a reason. Conductor leaves it IN_PROGRESS, and the
    workflow RUNNING, for ever."""
    definition = workflow(switch("sw", {"a": [simple("a1")]}), exclusive_join(join_on=["a1"]))
    run = Run(definition, {"which": "none"})

    assert rows(run) == [("sw", "SWITCH", "COMPLETED"), ("ej", "EXCLUSIVE_JOIN", "FAILED")]
    assert run.task("ej")["reasonForIncompletion"] == (
        "None of the tasks in joinOn ['a1'] or defaultExclusiveJoinTask [] was scheduled: there is no branch to join"
    )
    assert run.status == "FAILED"


# -- waiting --------------------------------------------------------------------------------


def test_it_waits_for_a_joined_task_still_running() -> None:
    """ExclusiveJoin is evaluated again on every decide until the task it found is
    terminal. Here the join sits in one fork branch and its joinOn task in the other."""
    fork = {
        "name": "fork",
        "taskReferenceName": "fork",
        "type": "FORK_JOIN",
        "forkTasks": [[simple("work")], [exclusive_join(join_on=["work"])]],
    }
    definition = workflow(fork, {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["work", "ej"]})
    run = Run(definition)

    assert run.task("ej")["status"] == "IN_PROGRESS"
    run.complete("work", {"done": True})

    assert run.task("ej")["status"] == "COMPLETED"
    assert run.task("ej")["outputData"] == {"done": True}
    assert run.status == "COMPLETED"
    assert run.task("join")["outputData"] == {"work": {"done": True}, "ej": {"done": True}}


def test_it_waits_for_a_task_that_will_still_run() -> None:
    """With no candidate scheduled yet but other work still running, the join waits."""
    fork = {
        "name": "fork",
        "taskReferenceName": "fork",
        "type": "FORK_JOIN",
        "forkTasks": [[simple("before"), simple("work")], [exclusive_join(join_on=["work"])]],
    }
    definition = workflow(fork, {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["work", "ej"]})
    run = Run(definition)
    run.complete("before")
    assert run.task("ej")["status"] == "IN_PROGRESS"
    run.complete("work", {"n": 1})
    assert run.task("ej")["status"] == "COMPLETED"
    assert run.status == "COMPLETED"


def test_a_skipped_join_on_task_is_passed_over() -> None:
    """ExclusiveJoin: a joinOn task that is SKIPPED counts as not scheduled. task3 is
    skipped through the API before decision2 reaches it, so the join falls back to the
    default task2."""
    run = Run(conductor_definition(EXCLUSIVE_JOIN_WF), {"decision_1": "true", "decision_2": "true"})
    run.send(ev.SkipTask(reference_name="task3", task_output={"skipped": True}))
    complete_as_the_spec_does(run, "task1")
    complete_as_the_spec_does(run, "task2")

    assert run.task("task3")["status"] == "SKIPPED"
    assert run.status == "COMPLETED"
    assert run.task("exclusiveJoin")["outputData"] == {"taskReferenceName": "task2"}


def test_inside_a_loop_it_joins_the_iterations_tasks() -> None:
    """ExclusiveJoin in a DO_WHILE joins on `ref__<iteration>`: each iteration joins the
    branch that iteration ran."""
    body = [
        switch("sw", {"a": [simple("a1")], "b": [simple("b1")]}, inputParameters={"which": "${workflow.input.which}"}),
        exclusive_join(join_on=["a1", "b1"]),
    ]
    loop = {
        "name": "loop",
        "taskReferenceName": "loop",
        "type": "DO_WHILE",
        "loopCondition": "$.loop['iteration'] < 2",
        "loopOver": body,
    }
    run = Run(workflow(loop), {"which": "a"})
    run.complete("a1__1", {"i": 1})
    assert run.task("ej__1")["outputData"] == {"i": 1}
    run.complete("a1__2", {"i": 2})
    assert run.task("ej__2")["outputData"] == {"i": 2}
    assert run.status == "COMPLETED"


def test_retrying_the_workflow_joins_the_retried_branch_once() -> None:
    """WorkflowExecutor.retry reopens an EXCLUSIVE_JOIN that failed on a permissive task.
    Podium's reading: the failed join gets a new attempt that waits; when the retried
    branch reaches the join again, the attempt made there replaces it (the waiting one
    ends CANCELED, marked retried), and what follows the join runs once."""
    definition = workflow(
        switch("sw", {"a": [simple("a1", permissive=True)]}),
        exclusive_join(join_on=["a1"]),
        simple("after"),
    )
    run = Run(definition, {"which": "a"}, task_defs=without_retries(definition))
    run.fail("a1")
    assert run.status == "FAILED"

    run.send(ev.Retry())
    assert run.status == "RUNNING"
    run.complete("a1", {"second": True})

    joins = [t for t in run.state.tasks if t["referenceTaskName"] == "ej"]
    assert [(t["status"], t["retried"]) for t in joins] == [("FAILED", True), ("CANCELED", True), ("COMPLETED", False)]
    assert run.task("ej")["outputData"] == {"second": True}
    assert [t["referenceTaskName"] for t in run.state.tasks].count("after") == 1
    run.complete("after")
    assert run.status == "COMPLETED"


def test_a_join_on_a_switch_waits_for_its_case() -> None:
    """A joinOn naming a SWITCH waits until the case it chose has run (the SWITCH's
    branch is done), and takes the SWITCH's output."""
    inner = switch("inner", {"x": [simple("x1")]})
    definition = workflow(
        switch("outer", {"a": [inner]}, inputParameters={"which": "a"}),
        exclusive_join(join_on=["inner"]),
    )
    run = Run(definition, {"which": "x"})
    assert "ej" not in run.state.by_ref
    run.complete("x1")
    assert run.task("ej")["outputData"] == run.task("inner")["outputData"]
    assert run.status == "COMPLETED"


# -- registration -----------------------------------------------------------------------------


def errors(*tasks: dict[str, Any]) -> list[str]:
    return validate_workflow_def(WorkflowDef.model_validate(workflow(*tasks)))


def test_the_shared_definition_registers() -> None:
    assert validate_workflow_def(WorkflowDef.model_validate(conductor_definition(EXCLUSIVE_JOIN_WF))) == []


@pytest.mark.parametrize(
    ("join", "expected"),
    [
        (
            exclusive_join(),
            ["task 'ej' (EXCLUSIVE_JOIN): joinOn is empty; list the tasks it joins (or give defaultExclusiveJoinTask)"],
        ),
        (exclusive_join(join_on=["a1", "nope"]), ["task 'ej' (EXCLUSIVE_JOIN): joinOn names unknown task 'nope'"]),
        (
            exclusive_join(join_on=["a1"], defaults=["gone"]),
            ["task 'ej' (EXCLUSIVE_JOIN): defaultExclusiveJoinTask names unknown task 'gone'"],
        ),
        (exclusive_join(join_on=[], defaults=["a1"]), []),
    ],
    ids=["nothing-to-join", "unknown-join-on", "unknown-default", "defaults-only"],
)
def test_registration_checks_what_it_joins(join: dict[str, Any], expected: list[str]) -> None:
    """Podium's checks at registration: an EXCLUSIVE_JOIN needs joinOn (Conductor accepts
    an empty joinOn, which then joins only a default, so defaults alone are accepted), and
    the references must exist, as for JOIN."""
    assert errors(switch("sw", {"a": [simple("a1")]}), join) == expected
