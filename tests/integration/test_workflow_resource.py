"""Conductor's WorkflowResource endpoints Podium added for the SDK's own suite, over real HTTP.

Each endpoint: its happy path, checked against what Conductor OSS answers
(rest/.../WorkflowResource.java, WorkflowBulkResource.java and the services behind them),
and each 4xx with its exact status and a message naming the problem.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
import requests

from tests.integration.client import PodiumClient, eventually

Json = dict[str, Any]


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10]


def assert_error(response: requests.Response, status: int, *fragments: str) -> Json:
    assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    body: Json = response.json()
    assert body["status"] == status
    for fragment in fragments:
        assert fragment in body["message"], f"{fragment!r} not in {body['message']!r}"
    return body


def simple(reference: str, name: str | None = None, **inputs: Any) -> Json:
    return {"name": name or reference, "taskReferenceName": reference, "type": "SIMPLE", "inputParameters": inputs}


def wait_task(reference: str) -> Json:
    return {"name": reference, "taskReferenceName": reference, "type": "WAIT"}


def set_variable(reference: str, **values: Any) -> Json:
    return {"name": reference, "taskReferenceName": reference, "type": "SET_VARIABLE", "inputParameters": values}


def definition(name: str, tasks: list[Json], **fields: Any) -> Json:
    return {"name": name, "version": 1, "tasks": tasks, "schemaVersion": 2, **fields}


def run_async(target: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Call `target` on a thread (an HTTP call that answers only later); its value lands in the dict."""
    box: dict[str, Any] = {}

    def call() -> None:
        box["value"] = target()

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, box


# -- error texts users match on -------------------------------------------------------------


def test_a_missing_workflow_answers_conductors_text_everywhere(client: PodiumClient) -> None:
    missing = str(uuid.uuid4())
    expected = f"Workflow with id: {missing} not found."
    for method, path in (
        ("GET", f"/workflow/{missing}"),
        ("GET", f"/workflow/{missing}/status"),
        ("GET", f"/workflow/{missing}/tasks"),
        ("PUT", f"/workflow/{missing}/pause"),
        ("DELETE", f"/workflow/{missing}"),
        ("DELETE", f"/workflow/{missing}/remove"),
        ("POST", f"/workflow/{missing}/retry"),
    ):
        body = assert_error(client.request(method, path), 404)
        assert body["message"] == expected, (method, path)


def test_a_removed_workflow_answers_not_found(client: PodiumClient, uid: str) -> None:
    name = f"wr_removed_{uid}"
    client.register(definition(name, [set_variable("mark", done=True)]))
    workflow_id = client.start(name)
    client.wait(workflow_id)
    client.ok("DELETE", f"/workflow/{workflow_id}/remove")
    body = assert_error(client.request("GET", f"/workflow/{workflow_id}"), 404)
    assert body["message"] == f"Workflow with id: {workflow_id} not found."


def test_a_missing_definition_answers_conductors_text(client: PodiumClient, uid: str) -> None:
    name = f"wr_nothing_{uid}"
    body = assert_error(client.request("POST", "/workflow", json={"name": name}), 404)
    assert body["message"] == f"No such workflow found by name: {name}, version: null"
    body = assert_error(client.request("POST", "/workflow", json={"name": name, "version": 3}), 404)
    assert body["message"] == f"No such workflow found by name: {name}, version: 3"
    body = assert_error(client.request("POST", f"/workflow/{name}", params={"version": 2}, json={}), 404)
    assert body["message"] == f"No such workflow found by name: {name}, version: 2"
    body = assert_error(client.request("GET", f"/metadata/workflow/{name}", params={"version": 1}), 404)
    assert body["message"] == f"No such workflow found by name: {name}, version: 1"


# -- GET /workflow/{workflowId}/status -------------------------------------------------------


def test_status_shows_output_and_variables_only_when_asked(client: PodiumClient, uid: str) -> None:
    name = f"wr_status_{uid}"
    client.register(definition(name, [set_variable("mark", seen=1)], outputParameters={"answer": 42}))
    workflow_id = client.start(name, correlationId=f"c-{uid}")
    client.wait(workflow_id)
    plain = client.ok("GET", f"/workflow/{workflow_id}/status")
    assert plain == {"workflowId": workflow_id, "correlationId": f"c-{uid}", "status": "COMPLETED"}
    full = client.ok(
        "GET", f"/workflow/{workflow_id}/status", params={"includeOutput": "true", "includeVariables": "true"}
    )
    assert full["output"] == {"answer": 42}
    assert full["variables"] == {"seen": 1}
    only_output = client.ok("GET", f"/workflow/{workflow_id}/status", params={"includeOutput": "true"})
    assert "variables" not in only_output and only_output["output"] == {"answer": 42}


def test_status_refuses_a_flag_that_is_not_a_boolean(client: PodiumClient) -> None:
    response = client.request("GET", f"/workflow/{uuid.uuid4()}/status", params={"includeOutput": "maybe"})
    assert_error(response, 400, "includeOutput")


# -- POST /workflow/{name}/correlated ----------------------------------------------------------


def test_correlated_batch_maps_each_correlation_id_to_its_workflows(client: PodiumClient, uid: str) -> None:
    name = f"wr_corr_{uid}"
    client.register(definition(name, [wait_task("hold")]))
    first = client.start(name, correlationId=f"a-{uid}")
    second = client.start(name, correlationId=f"a-{uid}")
    other = client.start(name, correlationId=f"b-{uid}")
    client.ok("DELETE", f"/workflow/{second}")
    ids = [f"a-{uid}", f"b-{uid}", f"none-{uid}"]

    running = client.ok("POST", f"/workflow/{name}/correlated", json=ids)
    assert set(running) == set(ids)
    assert [w["workflowId"] for w in running[f"a-{uid}"]] == [first]
    assert [w["workflowId"] for w in running[f"b-{uid}"]] == [other]
    assert running[f"none-{uid}"] == []
    assert "tasks" not in running[f"a-{uid}"][0] or running[f"a-{uid}"][0]["tasks"] == []

    closed = client.ok(
        "POST", f"/workflow/{name}/correlated", json=ids, params={"includeClosed": "true", "includeTasks": "true"}
    )
    assert {w["workflowId"] for w in closed[f"a-{uid}"]} == {first, second}
    assert all(w["tasks"] for w in closed[f"a-{uid}"])


def test_correlated_batch_refuses_a_body_that_is_not_a_list_of_ids(client: PodiumClient) -> None:
    assert_error(client.request("POST", "/workflow/x/correlated", json={"a": 1}), 400, "JSON array of correlation ids")
    assert_error(client.request("POST", "/workflow/x/correlated", json=[1, 2]), 400, "JSON array of correlation ids")
    assert_error(client.request("POST", "/workflow/x/correlated", data=b""), 400, "empty")
    response = client.request("POST", "/workflow/x/correlated", json=["a"], params={"includeClosed": "sure"})
    assert_error(response, 400, "includeClosed")


# -- POST /workflow/execute/{name}/{version} ---------------------------------------------------


def test_execute_answers_the_completed_workflow(client: PodiumClient, uid: str) -> None:
    name = f"wr_exec_done_{uid}"
    client.register(definition(name, [set_variable("mark", x=1)], outputParameters={"got": "${workflow.input.n}"}))
    run = client.ok("POST", f"/workflow/execute/{name}/1", json={"input": {"n": 7}}, params={"requestId": "r-1"})
    assert run["responseType"] == "TARGET_WORKFLOW"
    assert run["status"] == "COMPLETED" and run["targetWorkflowStatus"] == "COMPLETED"
    assert run["output"] == {"got": 7} and run["input"] == {"n": 7}
    assert run["requestId"] == "r-1"
    assert run["workflowId"] == run["targetWorkflowId"]


def test_execute_answers_when_the_workflow_blocks(client: PodiumClient, uid: str) -> None:
    name = f"wr_exec_wait_{uid}"
    client.register(definition(name, [set_variable("mark", x=1), wait_task("hold")]))
    run = client.ok("POST", f"/workflow/execute/{name}/0", json={}, params={"returnStrategy": "BLOCKING_TASK"})
    assert run["responseType"] == "BLOCKING_TASK"
    assert run["referenceTaskName"] == "hold" and run["taskType"] == "WAIT"
    assert run["targetWorkflowStatus"] == "RUNNING"
    assert "signalTimeout" not in run or run["signalTimeout"] is False
    client.ok("DELETE", f"/workflow/{run['targetWorkflowId']}")


def test_execute_answers_when_the_named_task_has_ended(client: PodiumClient, uid: str) -> None:
    name, first, second = f"wr_exec_ref_{uid}", f"wr_first_{uid}", f"wr_second_{uid}"
    client.register(definition(name, [simple("first", first), simple("second", second)]))
    thread, box = run_async(
        lambda: client.ok(
            "POST",
            f"/workflow/execute/{name}/1",
            json={},
            params={"waitUntilTaskRef": "first", "waitForSeconds": 60, "returnStrategy": "BLOCKING_TASK"},
        )
    )
    task = client.take(first)
    client.complete(task, {"done": 1})
    thread.join(90)
    run = box["value"]
    assert run["responseType"] == "BLOCKING_TASK"
    assert run["referenceTaskName"] == "first" and run["status"] == "COMPLETED"
    assert run["output"] == {"done": 1}
    workflow_id = run["targetWorkflowId"]
    assert client.workflow(workflow_id)["status"] == "RUNNING"
    client.ok("DELETE", f"/workflow/{workflow_id}")


def test_execute_answers_the_running_workflow_when_the_wait_is_over(client: PodiumClient, uid: str) -> None:
    name = f"wr_exec_slow_{uid}"
    client.register(definition(name, [simple("nobody", f"wr_nobody_{uid}")]))
    run = client.ok("POST", f"/workflow/execute/{name}/1", json={}, params={"waitForSeconds": 1})
    assert run["signalTimeout"] is True
    assert run["status"] == "RUNNING" and run["responseType"] == "TARGET_WORKFLOW"
    client.ok("DELETE", f"/workflow/{run['workflowId']}")


def test_execute_refuses_bad_parameters(client: PodiumClient, uid: str) -> None:
    name = f"wr_exec_bad_{uid}"
    client.register(definition(name, [set_variable("mark", x=1)]))
    path = f"/workflow/execute/{name}/1"
    assert_error(client.request("POST", path, json={}, params={"returnStrategy": "SOON"}), 400, "returnStrategy")
    assert_error(client.request("POST", path, json={}, params={"consistency": "EVENTUAL"}), 400, "consistency")
    assert_error(client.request("POST", path, json={}, params={"waitForSeconds": -1}), 400, "waitForSeconds")
    assert_error(client.request("POST", path, json={}, params={"waitForSeconds": "ten"}), 400, "waitForSeconds")
    assert_error(client.request("POST", f"/workflow/execute/{name}/one", json={}), 400, "Version")
    assert_error(client.request("POST", path, json=[1]), 400, "expected a JSON object")
    assert_error(client.request("POST", path, json={"priority": 500}), 400, "priority")
    missing = client.request("POST", f"/workflow/execute/wr_exec_none_{uid}/4", json={})
    assert assert_error(missing, 404)["message"] == f"No such workflow found by name: wr_exec_none_{uid}, version: 4"


# -- POST /workflow/test ---------------------------------------------------------------------


def test_a_mocked_run_completes_with_the_mocks_in_order(client: PodiumClient, uid: str) -> None:
    flaky = f"wr_flaky_{uid}"
    client.ok("POST", "/metadata/taskdefs", json=[{"name": flaky, "retryCount": 1, "retryDelaySeconds": 0}])
    workflow_def = definition(
        f"wr_test_{uid}",
        [simple("lookup", f"wr_lookup_{uid}", email="${workflow.input.email}"), simple("flaky", flaky)],
        outputParameters={"account": "${lookup.output.account}", "flaky": "${flaky.output.attempt}"},
    )
    request = {
        "name": workflow_def["name"],
        "workflowDef": workflow_def,
        "input": {"email": "a@b.c"},
        "taskRefToMockOutput": {
            "lookup": [{"status": "COMPLETED", "output": {"account": 12}}],
            "flaky": [{"status": "FAILED", "output": {"attempt": 1}}, {"output": {"attempt": 2}}],
        },
    }
    execution = client.ok("POST", "/workflow/test", json=request)
    assert execution["status"] == "COMPLETED"
    assert execution["output"] == {"account": 12, "flaky": 2}
    assert [(t["referenceTaskName"], t["status"]) for t in execution["tasks"]] == [
        ("lookup", "COMPLETED"),
        ("flaky", "FAILED"),
        ("flaky", "COMPLETED"),
    ]
    assert execution["tasks"][0]["inputData"]["email"] == "a@b.c"
    # The tasks were put in a domain of their own, so no worker of the type could take them.
    assert execution["taskToDomain"]["*"]


def test_a_mocked_run_drives_a_sub_workflow_with_its_own_mocks(client: PodiumClient, uid: str) -> None:
    child = definition(
        f"wr_test_child_{uid}", [simple("inner", f"wr_inner_{uid}")], outputParameters={"v": "${inner.output.v}"}
    )
    client.register(child)
    parent = definition(
        f"wr_test_parent_{uid}",
        [
            {
                "name": "sub",
                "taskReferenceName": "sub",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": child["name"], "version": 1},
            },
            simple("after", f"wr_after_{uid}", v="${sub.output.v}"),
        ],
    )
    request = {
        "name": parent["name"],
        "workflowDef": parent,
        "taskRefToMockOutput": {"after": [{"output": {"ok": True}}]},
        "subWorkflowTestRequest": {
            "sub": {"name": child["name"], "taskRefToMockOutput": {"inner": [{"output": {"v": 5}}]}}
        },
    }
    execution = client.ok("POST", "/workflow/test", json=request)
    assert execution["status"] == "COMPLETED"
    after = next(t for t in execution["tasks"] if t["referenceTaskName"] == "after")
    assert after["inputData"]["v"] == 5


def test_a_mocked_run_stops_at_a_task_without_mocks(client: PodiumClient, uid: str) -> None:
    workflow_def = definition(f"wr_test_stop_{uid}", [simple("one", f"wr_one_{uid}"), simple("two", f"wr_two_{uid}")])
    request = {
        "name": workflow_def["name"],
        "workflowDef": workflow_def,
        "taskRefToMockOutput": {"one": [{"output": {}}]},
    }
    execution = client.ok("POST", "/workflow/test", json=request)
    assert execution["status"] == "RUNNING"
    assert [(t["referenceTaskName"], t["status"]) for t in execution["tasks"]] == [
        ("one", "COMPLETED"),
        ("two", "SCHEDULED"),
    ]
    client.ok("DELETE", f"/workflow/{execution['workflowId']}")


def test_a_mocked_run_refuses_bad_requests(client: PodiumClient, uid: str) -> None:
    assert_error(client.request("POST", "/workflow/test", json=[1]), 400, "workflow test request")
    assert_error(client.request("POST", "/workflow/test", json={}), 400, "name or workflowDef")
    bad_status = {
        "name": "x",
        "workflowDef": definition("x", [simple("a")]),
        "taskRefToMockOutput": {"a": [{"status": "DONE"}]},
    }
    assert_error(client.request("POST", "/workflow/test", json=bad_status), 400, "taskRefToMockOutput")
    missing = client.request("POST", "/workflow/test", json={"name": f"wr_test_none_{uid}"})
    assert assert_error(missing, 404)["message"] == f"No such workflow found by name: wr_test_none_{uid}, version: null"


# -- GET /workflow/{workflowId}/tasks ----------------------------------------------------------


def test_tasks_are_paged_and_filtered_by_status(client: PodiumClient, uid: str) -> None:
    name = f"wr_tasks_{uid}"
    client.register(definition(name, [set_variable(f"s{i}", i=i) for i in range(4)] + [wait_task("hold")]))
    workflow_id = client.start(name)
    eventually(lambda: client.workflow(workflow_id)["tasks"], lambda tasks: len(tasks) == 5, "five tasks")
    page = client.ok("GET", f"/workflow/{workflow_id}/tasks", params={"start": 1, "count": 2})
    assert page["totalHits"] == 5
    assert [t["referenceTaskName"] for t in page["results"]] == ["s1", "s2"]
    default = client.ok("GET", f"/workflow/{workflow_id}/tasks")
    assert len(default["results"]) == 5
    waiting = client.ok("GET", f"/workflow/{workflow_id}/tasks", params={"status": "in_progress"})
    assert waiting["totalHits"] == 1 and waiting["results"][0]["referenceTaskName"] == "hold"
    both = client.ok(
        "GET", f"/workflow/{workflow_id}/tasks", params=[("status", "COMPLETED"), ("status", "IN_PROGRESS")]
    )
    assert both["totalHits"] == 5
    beyond = client.ok("GET", f"/workflow/{workflow_id}/tasks", params={"start": 10})
    assert beyond == {"totalHits": 5, "results": []}
    client.ok("DELETE", f"/workflow/{workflow_id}")


def test_tasks_refuse_bad_paging_and_statuses(client: PodiumClient) -> None:
    some = f"/workflow/{uuid.uuid4()}/tasks"
    assert_error(client.request("GET", some, params={"start": -1}), 400, "start")
    assert_error(client.request("GET", some, params={"count": "x"}), 400, "count")
    assert_error(client.request("GET", some, params={"status": "DONE"}), 400, "Unknown task status 'DONE'")


# -- GET /workflow/search-by-tasks[-v2] ------------------------------------------------------


def test_search_by_tasks_answers_the_workflows_of_the_tasks_found(client: PodiumClient, uid: str) -> None:
    name, task_type = f"wr_sbt_{uid}", f"wr_sbt_task_{uid}"
    client.register(definition(name, [simple("a", task_type), simple("b", task_type)]))
    first = client.start(name)
    second = client.start(name)
    for _ in range(4):
        client.complete(client.take(task_type))
    client.wait(first)
    client.wait(second)
    query = {"query": f"taskType = '{task_type}'"}
    found = eventually(
        lambda: client.ok("GET", "/workflow/search-by-tasks", params=query),
        lambda result: result["totalHits"] == 4,
        "four tasks indexed",
    )
    assert sorted(w["workflowId"] for w in found["results"]) == sorted([first, second])
    assert all(w["workflowType"] == name and isinstance(w["startTime"], str) for w in found["results"])
    full = client.ok("GET", "/workflow/search-by-tasks-v2", params=query)
    assert sorted(w["workflowId"] for w in full["results"]) == sorted([first, second])
    assert all(w["workflowDefinition"]["name"] == name for w in full["results"])
    page = client.ok("GET", "/workflow/search-by-tasks", params={**query, "size": 1})
    assert page["totalHits"] == 4 and len(page["results"]) == 1


def test_search_by_tasks_refuses_a_bad_query(client: PodiumClient) -> None:
    assert_error(client.request("GET", "/workflow/search-by-tasks", params={"query": "nope > "}), 400)
    assert_error(client.request("GET", "/workflow/search-by-tasks-v2", params={"size": 99999}), 400, "size")


# -- POST /workflow/bulk/search --------------------------------------------------------------


def test_bulk_search_answers_the_found_workflows_and_names_the_missing(client: PodiumClient, uid: str) -> None:
    name = f"wr_bulk_{uid}"
    client.register(definition(name, [set_variable("mark", x=1)]))
    first, second = client.start(name), client.start(name)
    missing = str(uuid.uuid4())
    client.wait(first)
    client.wait(second)
    result = client.ok("POST", "/workflow/bulk/search", json=[first, missing, second])
    assert [w["workflowId"] for w in result["bulkSuccessfulResults"]] == [first, second]
    assert all(w["tasks"] for w in result["bulkSuccessfulResults"])
    assert result["bulkErrorResults"] == {missing: f"Workflow with id: {missing} not found."}
    lean = client.ok("POST", "/workflow/bulk/search", json=[first], params={"includeTasks": "false"})
    assert lean["bulkSuccessfulResults"][0].get("tasks", []) == []


def test_bulk_search_refuses_a_body_that_is_not_a_list_of_ids(client: PodiumClient) -> None:
    assert_error(client.request("POST", "/workflow/bulk/search", json={"id": "x"}), 400, "JSON array of workflow ids")
    assert_error(client.request("POST", "/workflow/bulk/search", json=[]), 400, "WorkflowIds list cannot be null.")
    too_many = [str(i) for i in range(1001)]
    assert_error(client.request("POST", "/workflow/bulk/search", json=too_many), 400, "Cannot process more than 1000")


# -- GET /workflow/externalstoragelocation ---------------------------------------------------


def test_external_storage_location_answers_as_conductor_without_storage(client: PodiumClient) -> None:
    params = {"path": "wf/in/", "operation": "WRITE", "payloadType": "WORKFLOW_INPUT"}
    for path in ("/workflow/externalstoragelocation", "/workflow/external-storage-location"):
        location = client.ok("GET", path, params=params)
        assert set(location) == {"path"}
        assert location["path"].startswith("wf/in/") and location["path"].endswith(".json")


def test_external_storage_location_refuses_bad_parameters(client: PodiumClient) -> None:
    path = "/workflow/externalstoragelocation"
    response = client.request("GET", path, params={"path": "p", "operation": "DELETE", "payloadType": "TASK_INPUT"})
    assert assert_error(response, 400)["message"] == "Invalid input - Operation: DELETE, PayloadType: TASK_INPUT"
    assert_error(client.request("GET", path, params={"path": "p", "operation": "READ"}), 400, "payloadType")


def test_orkes_only_workflow_paths_answer_no_api(client: PodiumClient) -> None:
    some = str(uuid.uuid4())
    for method, path in (
        ("POST", f"/workflow/{some}/upgrade"),
        ("POST", f"/workflow/{some}/variables"),
        ("POST", f"/workflow/{some}/state"),
        ("POST", f"/workflow/{some}/jump/ref"),
        ("POST", "/workflow/execute/some_name"),
        ("POST", "/workflow/correlated/batch"),
        ("POST", f"/workflow/{some}/messages"),
    ):
        assert_error(client.request(method, path, json={}), 404, f"No API at {method} /api{path}")
