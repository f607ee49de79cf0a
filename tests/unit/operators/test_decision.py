"""DECISION: the older SWITCH, choosing by `caseValueParam` or a javascript `caseExpression`.

Behaviour follows Conductor's DecisionTaskSpec: output `caseOutput: [case]`, the case's
first task right after the DECISION, default case when nothing matches.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, dispatched, rows, simple, types, workflow

DECISION_WF = "workflows/simple_decision_task_integration_test.json"
CONDITIONAL_WF = "workflows/conditional_task_workflow_integration_test.json"
FORK_DECISION_WF = "workflows/decision_and_fork_join_integration_test.json"


def decision(ref: str, cases: dict[str, list[dict[str, Any]]], **extra: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "DECISION", "decisionCases": cases, **extra}


def test_case_value_param_picks_the_case_and_the_workflow_goes_on_after_it() -> None:
    run = Run(conductor_definition(DECISION_WF), {"param1": "p1", "param2": "p2", "case": "c"})

    assert types(run) == [("DECISION", "COMPLETED"), ("integration_task_1", "SCHEDULED")]
    assert run.task("decisionTask")["outputData"] == {"caseOutput": ["c"]}

    run.complete("t1")
    run.complete("t2")
    assert types(run)[-1] == ("integration_task_20", "SCHEDULED")
    run.complete("t20")

    assert run.status == "COMPLETED"
    assert [ref for ref, _, _ in rows(run)] == ["decisionTask", "t1", "t2", "t20"]


def test_default_case_and_a_decision_without_match_or_default() -> None:
    run = Run(conductor_definition(CONDITIONAL_WF), {"param1": "xxx", "param2": "two"})

    assert types(run) == [("DECISION", "COMPLETED"), ("integration_task_10", "SCHEDULED")]
    assert run.task("conditional")["outputData"]["caseOutput"] == ["xxx"]

    run.complete("t10")

    assert run.status == "COMPLETED"
    assert types(run)[-1] == ("DECISION", "COMPLETED")
    assert run.task("finalCase")["outputData"]["caseOutput"] == ["null"]


@pytest.mark.parametrize(
    ("case_value", "expected_task"), [("two", "integration_task_2"), ("one", "integration_task_1")]
)
def test_nested_decisions(case_value: str, expected_task: str) -> None:
    run = Run(conductor_definition(CONDITIONAL_WF), {"param1": "nested", "param2": case_value})

    assert types(run) == [("DECISION", "COMPLETED"), ("DECISION", "COMPLETED"), (expected_task, "SCHEDULED")]
    assert run.task("nestedCondition")["outputData"]["caseOutput"] == [case_value]

    run.complete_all_waiting()

    assert run.status == "COMPLETED"
    assert types(run)[2:] == [(expected_task, "COMPLETED"), ("DECISION", "COMPLETED")]


def test_case_three_then_notify() -> None:
    run = Run(conductor_definition(CONDITIONAL_WF), {"param1": "three", "param2": "two", "finalCase": "notify"})
    run.complete("t3")

    assert run.task("finalCase")["outputData"]["caseOutput"] == ["notify"]
    assert types(run)[-1] == ("integration_task_4", "SCHEDULED")
    run.complete("integration_task_4")
    assert run.status == "COMPLETED"


def test_case_expression_is_javascript_over_the_inputs() -> None:
    definition = workflow(
        decision(
            "d",
            {"adult": [simple("welcome")], "minor": [simple("reject")]},
            caseExpression="$.age >= 18 ? 'adult' : 'minor'",
            inputParameters={"age": "${workflow.input.age}"},
        )
    )

    assert dispatched(Run(definition, {"age": 30}).commands) == ["welcome"]
    minor = Run(definition, {"age": 12})
    assert dispatched(minor.commands) == ["reject"]
    assert minor.task("d")["outputData"] == {"caseOutput": ["minor"]}


def test_boolean_case_values_read_true_and_false() -> None:
    definition = workflow(
        decision(
            "d",
            {"true": [simple("yes")], "false": [simple("no")]},
            caseValueParam="flag",
            inputParameters={"flag": "${workflow.input.flag}"},
        )
    )

    assert dispatched(Run(definition, {"flag": True}).commands) == ["yes"]
    assert dispatched(Run(definition, {"flag": False}).commands) == ["no"]


def test_a_failing_case_expression_fails_the_workflow() -> None:
    definition = workflow(decision("d", {"x": [simple("x")]}, caseExpression="$.a.b.c"), simple("after"))

    run = Run(definition)

    assert run.status == "FAILED"
    assert rows(run) == [("d", "DECISION", "FAILED")]


def test_decision_inside_a_fork_and_the_join_waits_for_the_case() -> None:
    run = Run(conductor_definition(FORK_DECISION_WF), {"param1": "p1", "param2": "p2", "case": "c"})

    assert types(run) == [
        ("FORK", "COMPLETED"),
        ("DECISION", "COMPLETED"),
        ("integration_task_1", "SCHEDULED"),
        ("integration_task_10", "SCHEDULED"),
        ("JOIN", "IN_PROGRESS"),
    ]
    run.complete("t1")
    run.complete("t10")
    assert types(run)[4:] == [("JOIN", "IN_PROGRESS"), ("integration_task_2", "SCHEDULED")]
    run.complete("t2")
    assert types(run)[-1] == ("integration_task_20", "SCHEDULED")
    assert run.task("joinTask")["status"] == "IN_PROGRESS"

    run.complete("t20")

    assert run.task("joinTask")["status"] == "COMPLETED"
    assert run.status == "COMPLETED"
    assert len(run.state.tasks) == 7


def test_default_case_inside_a_fork() -> None:
    run = Run(conductor_definition(FORK_DECISION_WF), {"case": "other"})

    assert types(run)[1:3] == [("DECISION", "COMPLETED"), ("integration_task_5", "SCHEDULED")]
    run.complete("t5")
    assert types(run)[-1] == ("integration_task_20", "SCHEDULED")
    run.complete("t20")
    run.complete("t10")
    assert run.status == "COMPLETED"
