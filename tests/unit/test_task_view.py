"""`api_task`: the WorkflowTask attached to a task when it is read back through the API."""

from __future__ import annotations

from typing import Any

from actors.workflow.task_view import api_task, definition_index, definition_reference

Json = dict[str, Any]

DEFINITION: Json = {
    "name": "view",
    "tasks": [
        {"name": "first", "taskReferenceName": "first", "type": "SIMPLE"},
        {
            "name": "sw",
            "taskReferenceName": "sw",
            "type": "SWITCH",
            "evaluatorType": "value-param",
            "expression": "x",
            "decisionCases": {"a": [{"name": "in_case", "taskReferenceName": "in_case", "type": "SIMPLE"}]},
            "defaultCase": [{"name": "in_default", "taskReferenceName": "in_default", "type": "SIMPLE"}],
        },
        {
            "name": "fork",
            "taskReferenceName": "fork",
            "type": "FORK_JOIN",
            "forkTasks": [[{"name": "left", "taskReferenceName": "left", "type": "SIMPLE"}]],
        },
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["left"]},
        {
            "name": "loop",
            "taskReferenceName": "loop",
            "type": "DO_WHILE",
            "loopCondition": "false",
            "loopOver": [{"name": "body", "taskReferenceName": "body__x", "type": "SIMPLE"}],
        },
        {"name": "dyn", "taskReferenceName": "dyn", "type": "DYNAMIC", "dynamicTaskNameParam": "t"},
        {
            "name": "child",
            "taskReferenceName": "child",
            "type": "SUB_WORKFLOW",
            "subWorkflowParam": {
                "name": "inner",
                "workflowDefinition": {
                    "name": "inner",
                    "tasks": [{"name": "deep", "taskReferenceName": "deep", "type": "SIMPLE"}],
                },
            },
        },
    ],
}


def task(ref: str, **fields: Any) -> Json:
    return {"taskId": f"id-{ref}", "referenceTaskName": ref, "taskDefName": ref, "iteration": 0, **fields}


def test_index_reaches_every_nested_list_but_not_inline_sub_workflows() -> None:
    index = definition_index(DEFINITION)
    assert set(index) == {
        "first",
        "sw",
        "in_case",
        "in_default",
        "fork",
        "left",
        "join",
        "loop",
        "body__x",
        "dyn",
        "child",
    }
    assert definition_index(None) == {}


def test_a_top_level_task_gets_its_workflow_task_and_loses_internal_fields() -> None:
    rendered = api_task(task("first", _private=1), definition_index(DEFINITION))
    assert rendered["workflowTask"] == DEFINITION["tasks"][0]
    assert "_private" not in rendered


def test_switch_task_carries_its_cases_as_conductors_ui_reads_them() -> None:
    rendered = api_task(task("sw"), definition_index(DEFINITION))
    assert set(rendered["workflowTask"]["decisionCases"]) == {"a"}
    assert (
        api_task(task("in_default"), definition_index(DEFINITION))["workflowTask"]["taskReferenceName"] == "in_default"
    )


def test_loop_iterations_point_at_the_body_task_of_the_definition() -> None:
    index = definition_index(DEFINITION)
    # A body reference that itself contains `__` is found through the iteration number.
    rendered = api_task(task("body__x__3", iteration=3), index)
    assert rendered["workflowTask"]["taskReferenceName"] == "body__x"
    assert api_task(task("body__x__2", _baseRef="body__x"), index)["workflowTask"]["name"] == "body"


def test_definition_reference_of_loop_iterations() -> None:
    assert definition_reference(task("a__2", iteration=2)) == "a"
    assert definition_reference(task("a__b__2", iteration=2)) == "a__b"
    assert definition_reference(task("a__b__2", _baseRef="a__b")) == "a__b"
    assert definition_reference(task("plain")) == "plain"


def test_dynamic_task_is_named_after_the_task_it_resolved_to() -> None:
    rendered = api_task(task("dyn", taskDefName="resolved_worker"), definition_index(DEFINITION))
    assert rendered["workflowTask"]["type"] == "DYNAMIC"
    assert rendered["workflowTask"]["name"] == "resolved_worker"
    # The stored definition is shared by every render and must stay as it was.
    assert DEFINITION["tasks"][5]["name"] == "dyn"


def test_a_task_carrying_its_own_workflow_task_keeps_it() -> None:
    own = {"name": "forked", "taskReferenceName": "forked_1", "type": "SIMPLE"}
    rendered = api_task(task("forked_1", workflowTask=own), definition_index(DEFINITION))
    assert rendered["workflowTask"] is own


def test_unknown_reference_or_no_definition_renders_without_workflow_task() -> None:
    assert "workflowTask" not in api_task(task("nowhere"), definition_index(DEFINITION))
    assert "workflowTask" not in api_task(task("first"), None)


def test_rendering_does_not_change_the_stored_task() -> None:
    stored = task("first")
    api_task(stored, definition_index(DEFINITION))
    assert "workflowTask" not in stored
