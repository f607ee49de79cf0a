"""NOOP: completes at once and the workflow moves on."""

from __future__ import annotations

from tests.unit.machine_harness import Run
from tests.unit.operators.support import dispatched, rows, simple, workflow


def noop(ref: str) -> dict[str, str]:
    return {"name": ref, "taskReferenceName": ref, "type": "NOOP"}


def test_noop_completes_in_the_same_step_and_the_next_task_is_dispatched() -> None:
    run = Run(workflow(noop("n"), simple("after", inputParameters={"x": "${n.output}"})))

    assert rows(run) == [("n", "NOOP", "COMPLETED"), ("after", "after", "SCHEDULED")]
    assert run.task("n")["outputData"] == {}
    assert run.task("after")["inputData"] == {"x": {}}
    assert dispatched(run.commands) == ["after"]


def test_a_workflow_of_noops_completes_at_once() -> None:
    run = Run(workflow(noop("a"), noop("b")))

    assert run.status == "COMPLETED"
    assert [status for _, _, status in rows(run)] == ["COMPLETED", "COMPLETED"]
    assert run.output == {}


def test_noop_as_a_switch_case_placeholder() -> None:
    definition = workflow(
        {
            "name": "s",
            "taskReferenceName": "s",
            "type": "SWITCH",
            "evaluatorType": "value-param",
            "expression": "v",
            "inputParameters": {"v": "skip"},
            "decisionCases": {"skip": [noop("placeholder")]},
        },
        simple("after"),
    )

    run = Run(definition)

    assert rows(run) == [
        ("s", "SWITCH", "COMPLETED"),
        ("placeholder", "NOOP", "COMPLETED"),
        ("after", "after", "SCHEDULED"),
    ]
