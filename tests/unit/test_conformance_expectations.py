"""The conformance oracle's comparison helpers (tests/integration/conformance_expectations.py)."""

from __future__ import annotations

from typing import Any

from tests.conductor_corpus import load_workflow_defs
from tests.integration.conformance_expectations import (
    DETAILS,
    Detail,
    branch_taken,
    mismatches,
    observation,
    task_sequence,
)

Json = dict[str, Any]


def task(seq: int, ref: str, status: str = "COMPLETED", **fields: Any) -> Json:
    return {"seq": seq, "referenceTaskName": ref, "status": status, "taskType": "SIMPLE", **fields}


WORKFLOW: Json = {
    "status": "COMPLETED",
    "output": {"result": 3, "extra": True},
    "variables": {"count": 2},
    "tasks": [
        # Out of seq order on purpose: the helpers sort by seq.
        task(3, "after", outputData={"x": 1}),
        task(1, "pick", taskType="SWITCH", outputData={"evaluationResult": ["c"], "selectedCase": "c"}),
        task(2, "loop", taskType="DO_WHILE", outputData={"iteration": 2}),
        task(4, "decide", taskType="DECISION", outputData={"caseOutput": ["yes"]}),
        task(5, "after", "FAILED", outputData={"x": 2}),
    ],
}


def test_task_sequence_is_in_seq_order() -> None:
    assert task_sequence(WORKFLOW) == [
        ("pick", "COMPLETED"),
        ("loop", "COMPLETED"),
        ("after", "COMPLETED"),
        ("decide", "COMPLETED"),
        ("after", "FAILED"),
    ]


def test_branch_taken_reads_switch_and_decision_outputs() -> None:
    assert branch_taken(WORKFLOW["tasks"][1]) == "c"
    assert branch_taken(WORKFLOW["tasks"][3]) == "yes"
    assert branch_taken(WORKFLOW["tasks"][0]) is None


def test_a_run_matching_every_statement_has_no_mismatch() -> None:
    detail = Detail(
        source="unit",
        tasks=tuple(task_sequence(WORKFLOW)),
        branches={"pick": "c", "decide": "yes"},
        iterations={"loop": 2},
        output={"result": 3},
        task_outputs={"after": {"x": 2}},
        variables={"count": 2},
    )
    assert mismatches(detail, WORKFLOW) == []


def test_a_different_task_sequence_fails_with_a_diff() -> None:
    expected = (("pick", "COMPLETED"), ("loop", "COMPLETED"), ("after", "COMPLETED"))
    (problem,) = mismatches(Detail(source="unit", tasks=expected), WORKFLOW)
    assert problem.startswith("tasks differ:")
    assert "+decide COMPLETED" in problem
    assert "+after FAILED" in problem


def test_unordered_comparison_ignores_order_but_not_content() -> None:
    shuffled = tuple(reversed(task_sequence(WORKFLOW)))
    assert mismatches(Detail(source="unit", tasks=shuffled, ordered=False), WORKFLOW) == []
    (problem,) = mismatches(Detail(source="unit", tasks=shuffled[1:], ordered=False), WORKFLOW)
    assert problem.startswith("tasks (in any order) differ:")


def test_branch_iteration_output_and_variable_mismatches_are_each_named() -> None:
    detail = Detail(
        source="unit",
        branches={"pick": "d", "ghost": "a"},
        iterations={"loop": 3},
        output={"result": 4, "missing": 1},
        task_outputs={"after": {"x": 1}, "nowhere": {}},
        variables={"count": 1},
    )
    assert mismatches(detail, WORKFLOW) == [
        "branch of ghost: expected 'a', no such task",
        "branch of pick: expected 'd', took 'c'",
        "iterations of loop: expected 3, got 2",
        "output.missing: expected 1, absent (keys: ['extra', 'result'])",
        "output.result: expected 4, got 3",
        "variables.count: expected 1, got 2",
        # The latest attempt of a reference is the one compared.
        "after.output.x: expected 1, got 2",
        "output of nowhere: no such task",
    ]


def test_observation_shows_what_a_detail_compares() -> None:
    seen = observation(WORKFLOW)
    assert seen["tasks"][0] == "pick COMPLETED"
    assert seen["branches"] == {"pick": "c", "decide": "yes"}
    assert seen["iterations"] == {"loop": 2}
    assert seen["task_outputs"]["after"] == {"x": 2}


def test_every_detail_names_a_corpus_definition_and_its_source() -> None:
    keys = {key for key, _ in load_workflow_defs()}
    assert set(DETAILS) <= keys, sorted(set(DETAILS) - keys)
    for key, detail in DETAILS.items():
        assert detail.source.strip(), f"{key}: say which spec states it"
