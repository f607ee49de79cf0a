"""SET_VARIABLE: merges its input into `workflow.variables`, readable as `${workflow.variables.x}`.

Behaviour follows Conductor's SetVariableTaskSpec on `simple_set_variable_workflow_integration_test.json`.
"""

from __future__ import annotations

from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, rows, simple, workflow

SET_VARIABLE_WF = "workflows/simple_set_variable_workflow_integration_test.json"
SET_THEN_WAIT_WF = "workflows/set_variable_workflow_integration_test.json"


def set_variable(ref: str, **values: object) -> dict[str, object]:
    return {"name": ref, "taskReferenceName": ref, "type": "SET_VARIABLE", "inputParameters": values}


def test_variables_are_set_and_readable_in_output_parameters() -> None:
    run = Run(conductor_definition(SET_VARIABLE_WF), {"var": "var_test_value"})

    assert run.status == "COMPLETED"
    assert rows(run) == [("set_variable_1", "SET_VARIABLE", "COMPLETED")]
    assert run.task("set_variable_1")["outputData"] == {}
    assert run.state.workflow["variables"] == {"var": "var_test_value"}
    assert run.output == {"variables": {"var": "var_test_value"}}


def test_later_tasks_read_variables_and_later_sets_overwrite_only_their_keys() -> None:
    definition = workflow(
        set_variable("first", a=1, b="${workflow.input.b}"),
        simple("reader", inputParameters={"a": "${workflow.variables.a}", "b": "${workflow.variables.b}"}),
        set_variable("second", a=2),
        simple("reader2", inputParameters={"vars": "${workflow.variables}"}),
        variables={"preset": True},
    )

    run = Run(definition, {"b": "bee"})

    assert run.task("reader")["inputData"] == {"a": 1, "b": "bee"}
    run.complete("reader")
    assert run.task("reader2")["inputData"]["vars"] == {"preset": True, "a": 2, "b": "bee"}


def test_definition_variables_are_the_starting_values() -> None:
    run = Run(workflow(simple("r", inputParameters={"v": "${workflow.variables.limit}"}), variables={"limit": 10}))

    assert run.task("r")["inputData"] == {"v": 10}


def test_variables_persist_while_the_workflow_waits() -> None:
    run = Run(conductor_definition(SET_THEN_WAIT_WF), {"var": "x"})
    assert run.state.workflow["variables"] == {}

    run.complete("simple")

    assert run.state.workflow["variables"] == {"var": "x"}
    assert rows(run)[-1] == ("wait0", "WAIT", "IN_PROGRESS")
    assert run.status == "RUNNING"


def test_set_variable_inside_a_fork_branch_is_seen_after_the_join() -> None:
    definition = workflow(
        {
            "name": "f",
            "taskReferenceName": "f",
            "type": "FORK_JOIN",
            "forkTasks": [[set_variable("sv", flag="on")], [simple("other")]],
        },
        {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["sv", "other"]},
        simple("after", inputParameters={"flag": "${workflow.variables.flag}"}),
    )
    run = Run(definition)

    run.complete("other")

    assert run.task("after")["inputData"] == {"flag": "on"}
