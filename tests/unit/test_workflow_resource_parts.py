"""The pure parts behind Conductor's WorkflowResource endpoints: the mocked-run planner,
the paged task list, the status summary and the not-found texts."""

from __future__ import annotations

from typing import Any

from gateway.api.workflows import task_page, workflow_status
from gateway.errors import workflow_def_not_found, workflow_not_found
from gateway.mock_run import WorkflowTestRequest, plan, start_request_for

Json = dict[str, Any]


def task(reference: str, status: str = "SCHEDULED", task_type: str = "SIMPLE", **fields: Any) -> Json:
    return {
        "referenceTaskName": reference,
        "status": status,
        "taskType": task_type,
        "taskId": f"id-{reference}",
        "workflowInstanceId": "wf",
        **fields,
    }


def request(mocks: dict[str, list[Json]], **fields: Any) -> WorkflowTestRequest:
    return WorkflowTestRequest.model_validate({"name": "w", "taskRefToMockOutput": mocks, **fields})


def test_plan_applies_the_next_mock_of_each_unfinished_task_in_order() -> None:
    mocks = request({"a": [{"status": "FAILED", "output": {"n": 1}}, {"output": {"n": 2}}], "b": [{"output": {}}]})
    step = plan({"tasks": [task("a"), task("b", "IN_PROGRESS"), task("done", "COMPLETED")]}, mocks, set())
    assert [(r.task_id, r.status.value, r.output_data) for r in step.results] == [
        ("id-a", "FAILED", {"n": 1}),
        ("id-b", "COMPLETED", {}),
    ]
    assert [m.output for m in mocks.task_ref_to_mock_output["a"]] == [{"n": 2}]
    assert mocks.task_ref_to_mock_output["b"] == []


def test_plan_stops_at_an_unfinished_task_without_mocks() -> None:
    mocks = request({"a": [{"output": {}}]})
    step = plan({"tasks": [task("a"), task("b")]}, mocks, set())
    assert step.missing == ["b"] and step.results == []
    assert len(mocks.task_ref_to_mock_output["a"]) == 1


def test_plan_gives_operators_no_mocks_and_drops_spent_lists() -> None:
    mocks = request({"loop": [{"output": {"x": 1}}], "spent": []})
    workflow = {"tasks": [task("loop", "IN_PROGRESS", "DO_WHILE"), task("spent", "SCHEDULED")]}
    step = plan(workflow, mocks, set())
    assert step.results == []
    assert mocks.task_ref_to_mock_output == {}


def test_plan_hands_a_running_child_its_test_request_once() -> None:
    mocks = request({}, subWorkflowTestRequest={"sub": {"name": "child", "taskRefToMockOutput": {"x": [{}]}}})
    workflow = {"tasks": [task("sub", "IN_PROGRESS", "SUB_WORKFLOW", subWorkflowId="child-1")]}
    started: set[str] = set()
    first = plan(workflow, mocks, started)
    assert [(child_id, r.name) for child_id, r in first.children] == [("child-1", "child")]
    assert plan(workflow, mocks, started).children == []


def test_the_start_request_puts_every_task_type_in_a_domain_of_its_own() -> None:
    test_request = request({"a": [{}]}, taskToDomain={"other": "d"}, input={"k": 1})
    start = start_request_for(test_request)
    assert start.task_to_domain["other"] == "d"
    assert (
        start.task_to_domain["*"] and start.task_to_domain["*"] != start_request_for(test_request).task_to_domain["*"]
    )
    assert start.input == {"k": 1} and start.name == "w"
    assert "taskRefToMockOutput" not in start.to_wire()


def test_task_page_counts_the_matching_tasks_and_slices_them() -> None:
    tasks = [task(f"t{i}", "COMPLETED" if i % 2 else "SCHEDULED") for i in range(5)]
    assert task_page(tasks, 1, 2, set()) == {"totalHits": 5, "results": tasks[1:3]}
    completed = task_page(tasks, 0, 15, {"COMPLETED"})
    assert completed["totalHits"] == 2 and [t["referenceTaskName"] for t in completed["results"]] == ["t1", "t3"]
    assert task_page(tasks, 9, 3, set()) == {"totalHits": 5, "results": []}


def test_workflow_status_shows_output_and_variables_only_when_asked() -> None:
    workflow = {"workflowId": "w", "correlationId": "", "status": "RUNNING", "output": {"o": 1}, "variables": {"v": 2}}
    assert workflow_status(workflow, False, False) == {"workflowId": "w", "status": "RUNNING"}
    assert workflow_status(workflow, True, True) == {
        "workflowId": "w",
        "output": {"o": 1},
        "variables": {"v": 2},
        "status": "RUNNING",
    }


def test_not_found_texts_are_conductors() -> None:
    assert workflow_not_found("abc").message == "Workflow with id: abc not found."
    assert workflow_not_found("abc").status == 404
    assert workflow_def_not_found("flow", None).message == "No such workflow found by name: flow, version: null"
    assert workflow_def_not_found("flow", 3).message == "No such workflow found by name: flow, version: 3"
