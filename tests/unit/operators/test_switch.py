"""SWITCH: picks a case by value-param or javascript, runs it, then moves past the switch.

Behaviour follows Conductor's SwitchTaskSpec: the SWITCH completes as soon as it has
chosen, its output is `evaluationResult: [case]`, the first task of the case follows it
directly in the task list, and with no match and no default the workflow goes on.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.workflow import commands as cmd
from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, dispatched, of_type, rows, simple, types, workflow

SWITCH_WF = "workflows/simple_switch_task_integration_test.json"
CONDITIONAL_WF = "workflows/conditional_switch_task_workflow_integration_test.json"
NO_DEFAULT_WF = "workflows/switch_with_no_default_case_integration_test.json"
FORK_SWITCH_WF = "workflows/switch_and_fork_join_integration_test.json"


def switch(ref: str, expression: str, cases: dict[str, list[dict[str, Any]]], **extra: Any) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "SWITCH",
        "evaluatorType": extra.pop("evaluatorType", "value-param"),
        "expression": expression,
        "decisionCases": cases,
        **extra,
    }


def test_chosen_case_runs_in_order_then_the_task_after_the_switch() -> None:
    run = Run(conductor_definition(SWITCH_WF), {"param1": "p1", "param2": "p2", "case": "c"})

    assert run.status == "RUNNING"
    assert types(run) == [("SWITCH", "COMPLETED"), ("integration_task_1", "SCHEDULED")]
    switch_task = run.task("switchTask")
    assert switch_task["outputData"]["evaluationResult"] == ["c"]
    assert switch_task["outputData"]["selectedCase"] == "c"
    assert switch_task["inputData"] == {"case": "c"}
    assert run.task("t1")["inputData"] == {"p1": "p1", "p2": "p2"}

    assert dispatched(run.complete("t1")) == ["t2"]
    assert dispatched(run.complete("t2")) == ["t20"]
    assert types(run)[-1] == ("integration_task_20", "SCHEDULED")

    run.complete("t20")
    assert run.status == "COMPLETED"
    assert [ref for ref, _, _ in rows(run)] == ["switchTask", "t1", "t2", "t20"]


def test_default_case_runs_when_no_case_matches() -> None:
    run = Run(conductor_definition(CONDITIONAL_WF), {"param1": "xxx", "param2": "two"})

    assert types(run) == [("SWITCH", "COMPLETED"), ("integration_task_10", "SCHEDULED")]
    assert run.task("conditional")["outputData"]["evaluationResult"] == ["xxx"]

    run.complete("t10")

    assert run.status == "COMPLETED"
    assert types(run) == [
        ("SWITCH", "COMPLETED"),
        ("integration_task_10", "COMPLETED"),
        ("SWITCH", "COMPLETED"),
    ]
    # The missing `finalCase` input evaluates to the string "null"; no case, no default.
    assert run.task("finalCase")["outputData"]["evaluationResult"] == ["null"]


@pytest.mark.parametrize(
    ("case_value", "expected_task"), [("two", "integration_task_2"), ("one", "integration_task_1")]
)
def test_nested_switch_runs_the_inner_case(case_value: str, expected_task: str) -> None:
    run = Run(conductor_definition(CONDITIONAL_WF), {"param1": "nested", "param2": case_value})

    assert types(run) == [("SWITCH", "COMPLETED"), ("SWITCH", "COMPLETED"), (expected_task, "SCHEDULED")]
    assert run.task("conditional")["outputData"]["evaluationResult"] == ["nested"]
    assert run.task("nestedCondition")["outputData"]["evaluationResult"] == [case_value]

    run.complete_all_waiting()

    assert run.status == "COMPLETED"
    assert types(run)[2:] == [(expected_task, "COMPLETED"), ("SWITCH", "COMPLETED")]
    assert run.task("finalCase")["outputData"]["evaluationResult"] == ["null"]


def test_case_three_then_the_second_switch_picks_notify() -> None:
    run = Run(conductor_definition(CONDITIONAL_WF), {"param1": "three", "param2": "two", "finalCase": "notify"})

    assert types(run) == [("SWITCH", "COMPLETED"), ("integration_task_3", "SCHEDULED")]
    # A literal without ${...} is passed as it is.
    assert run.task("t3")["inputData"] == {"tp3": "workflow.input.param2"}

    run.complete("t3")
    assert types(run)[2:] == [("SWITCH", "COMPLETED"), ("integration_task_4", "SCHEDULED")]
    assert run.task("finalCase")["outputData"]["evaluationResult"] == ["notify"]

    run.complete("integration_task_4")
    assert run.status == "COMPLETED"


def test_no_matching_case_and_no_default_moves_on() -> None:
    run = Run(conductor_definition(NO_DEFAULT_WF), {"param1": "p1", "param2": "p2"})

    assert types(run) == [("SWITCH", "COMPLETED"), ("integration_task_2", "SCHEDULED")]
    run.complete("t2")
    assert run.status == "COMPLETED"
    assert len(run.state.tasks) == 2


def test_an_explicitly_empty_case_does_not_fall_back_to_the_default() -> None:
    """Conductor uses the default case only when no case key matched: a matching key with
    an empty list runs nothing."""
    definition = workflow(
        switch("s", "v", {"skip": []}, inputParameters={"v": "${workflow.input.v}"}, defaultCase=[simple("d")]),
        simple("after"),
    )

    run = Run(definition, {"v": "skip"})

    assert [ref for ref, _, _ in rows(run)] == ["s", "after"]


def test_javascript_evaluator_chooses_by_script_result() -> None:
    definition = workflow(
        switch(
            "s",
            "$.size > 10 ? 'big' : 'small'",
            {"big": [simple("big_task")], "small": [simple("small_task")]},
            evaluatorType="javascript",
            inputParameters={"size": "${workflow.input.size}"},
        )
    )

    big = Run(definition, {"size": 50})
    small = Run(definition, {"size": 3})

    assert dispatched(big.commands) == ["big_task"]
    assert big.task("s")["outputData"]["evaluationResult"] == ["big"]
    assert dispatched(small.commands) == ["small_task"]


@pytest.mark.parametrize(
    ("value", "label"),
    [(True, "true"), (False, "false"), (1, "1"), (2.0, "2"), (2.5, "2.5"), (None, "null")],
)
def test_case_labels_are_the_values_string_form(value: Any, label: str) -> None:
    definition = workflow(switch("s", "v", {label: [simple("hit")]}, inputParameters={"v": "${workflow.input.v}"}))

    run = Run(definition, {"v": value})

    assert run.task("s")["outputData"]["evaluationResult"] == [label]
    assert dispatched(run.commands) == ["hit"]


def test_value_param_reaches_into_nested_inputs() -> None:
    definition = workflow(
        switch("s", "order.kind", {"express": [simple("fast")]}, inputParameters={"order": "${workflow.input.order}"})
    )

    run = Run(definition, {"order": {"kind": "express"}})

    assert dispatched(run.commands) == ["fast"]


def test_a_script_error_fails_the_switch_and_the_workflow() -> None:
    definition = workflow(
        switch("s", "$.missing.deeper", {"x": [simple("x")]}, evaluatorType="javascript"),
        simple("after"),
    )

    run = Run(definition)

    assert run.status == "FAILED"
    assert rows(run) == [("s", "SWITCH", "FAILED")]
    assert "TypeError" in run.task("s")["reasonForIncompletion"]
    assert run.task("s")["reasonForIncompletion"] in run.state.workflow["reasonForIncompletion"]
    assert dispatched(run.commands) == []


def test_a_failed_switch_is_not_retried_even_with_a_task_def() -> None:
    """Conductor never retries SWITCH, DECISION, FORK, JOIN or DO_WHILE tasks."""
    definition = workflow(switch("s", "$.x.y", {}, evaluatorType="javascript", name="switchy"))

    run = Run(definition, task_defs=[{"name": "switchy", "retryCount": 3, "retryDelaySeconds": 0}])

    assert run.status == "FAILED"
    assert len(run.state.tasks) == 1


def test_switch_in_a_fork_schedules_its_case_depth_first_and_the_join_waits_for_the_case() -> None:
    run = Run(conductor_definition(FORK_SWITCH_WF), {"param1": "p1", "param2": "p2", "case": "c"})

    # Conductor's order: the fork, the switch and its case's first task, the other branch, the join.
    assert types(run) == [
        ("FORK", "COMPLETED"),
        ("SWITCH", "COMPLETED"),
        ("integration_task_1", "SCHEDULED"),
        ("integration_task_10", "SCHEDULED"),
        ("JOIN", "IN_PROGRESS"),
    ]
    join = run.task("joinTask")
    assert join["inputData"]["joinOn"] == ["t20", "t10"]

    run.complete("t1")
    run.complete("t10", {"ten": 10})
    assert types(run)[-1] == ("integration_task_2", "SCHEDULED")
    assert join["status"] == "IN_PROGRESS"

    run.complete("t2")
    assert types(run)[-1] == ("integration_task_20", "SCHEDULED")
    assert join["status"] == "IN_PROGRESS"

    run.complete("t20", {"twenty": 20})
    assert join["status"] == "COMPLETED"
    assert join["outputData"] == {"t20": {"twenty": 20}, "t10": {"ten": 10}}
    assert run.status == "COMPLETED"
    assert len(run.state.tasks) == 7


def test_a_join_on_the_switch_itself_waits_for_its_whole_case() -> None:
    definition = workflow(
        {
            "name": "fork",
            "taskReferenceName": "fork",
            "type": "FORK_JOIN",
            "forkTasks": [
                [switch("s", "v", {"a": [simple("a1"), simple("a2")]}, inputParameters={"v": "a"})],
                [simple("other")],
            ],
        },
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["s", "other"]},
    )
    run = Run(definition)

    run.complete("other")
    run.complete("a1")
    assert run.task("join")["status"] == "IN_PROGRESS"

    run.complete("a2")
    assert run.task("join")["status"] == "COMPLETED"
    assert run.task("join")["outputData"]["s"] == {"evaluationResult": ["a"], "selectedCase": "a"}
    assert run.status == "COMPLETED"


def test_a_switch_ending_the_workflow_completes_it_when_its_case_ends() -> None:
    definition = workflow(switch("s", "v", {"a": [simple("only")]}, inputParameters={"v": "a"}))
    run = Run(definition)
    assert run.status == "RUNNING"

    produced = run.complete("only", {"r": 1})

    assert run.status == "COMPLETED"
    assert of_type(produced, cmd.WorkflowEnded) == [cmd.WorkflowEnded("COMPLETED")]
    assert run.output == {"r": 1}
