"""Bad requests over raw HTTP: exact status, a JSON body whose message names the problem,
nothing half-written left behind, and never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.client import PodiumClient

WORKFLOW = "bad_input_workflow"
TASK = "bad_input_task"
TWO_MIB = 2 * 1024 * 1024


def assert_error(response: requests.Response, status: int, *fragments: str) -> dict[str, Any]:
    """The exact status, Conductor's JSON error shape, and a message naming the problem."""
    assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    assert response.headers["Content-Type"].startswith("application/json"), response.headers["Content-Type"]
    body = response.json()
    assert isinstance(body, dict), body
    assert body["status"] == status
    message = body["message"]
    assert isinstance(message, str) and message, body
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return body


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def simple_workflow(name: str) -> dict[str, Any]:
    return {"name": name, "version": 1, "tasks": [{"name": TASK, "taskReferenceName": "only", "type": "SIMPLE"}]}


@pytest.fixture(scope="module")
def registered(client: PodiumClient) -> None:
    client.register(simple_workflow(WORKFLOW), [{"name": TASK, "retryCount": 0}])


@pytest.fixture
def running(client: PodiumClient, registered: None) -> Iterator[dict[str, Any]]:
    """A RUNNING workflow whose single task nobody polls; terminated afterwards."""
    workflow_id = client.start(WORKFLOW, {"n": 1})
    yield client.wait(workflow_id, {"RUNNING"})
    client.ok("DELETE", f"/workflow/{workflow_id}")


def running_ids(client: PodiumClient, name: str = WORKFLOW) -> set[str]:
    return set(client.ok("GET", f"/workflow/running/{name}"))


def post_raw(client: PodiumClient, path: str, body: bytes) -> requests.Response:
    return client.request("POST", path, data=body, headers={"Content-Type": "application/json"})


def assert_no_workflow_def(client: PodiumClient, name: str) -> None:
    assert_error(client.request("GET", f"/metadata/workflow/{name}"), 404, name)


def assert_no_task_def(client: PodiumClient, name: str) -> None:
    assert_error(client.request("GET", f"/metadata/taskdefs/{name}"), 404, name)


# -- malformed JSON ------------------------------------------------------------------------


def test_malformed_json_start_workflow(client: PodiumClient, registered: None) -> None:
    before = running_ids(client)
    assert_error(post_raw(client, "/workflow", b'{"name": "' + WORKFLOW.encode() + b'", '), 400, "Malformed JSON")
    assert running_ids(client) == before


def test_malformed_json_start_by_name(client: PodiumClient, registered: None) -> None:
    before = running_ids(client)
    assert_error(post_raw(client, f"/workflow/{WORKFLOW}", b"{not json"), 400, "Malformed JSON")
    assert running_ids(client) == before


def test_malformed_json_workflow_def(client: PodiumClient) -> None:
    name = unique("malformed_def")
    body = b'{"name": "' + name.encode() + b'", "tasks": [}'
    assert_error(post_raw(client, "/metadata/workflow", body), 400, "Malformed JSON")
    assert_no_workflow_def(client, name)


def test_malformed_json_task_defs(client: PodiumClient) -> None:
    name = unique("malformed_taskdef")
    assert_error(post_raw(client, "/metadata/taskdefs", b'[{"name": "' + name.encode() + b'"'), 400, "Malformed JSON")
    assert_no_task_def(client, name)


def test_malformed_json_task_update(client: PodiumClient, running: dict[str, Any]) -> None:
    assert_error(post_raw(client, "/tasks", b'{"taskId": '), 400, "Malformed JSON")
    assert_error(post_raw(client, "/tasks/update-v2", b"}{"), 400, "Malformed JSON")
    assert client.workflow(running["workflowId"])["tasks"][0]["status"] == "SCHEDULED"


def test_empty_body_start_workflow(client: PodiumClient) -> None:
    assert_error(post_raw(client, "/workflow", b""), 400, "empty")


# -- wrong types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ({"input": [1, 2]}, ("input",)),
        ({"input": "text"}, ("input",)),
        ({"version": "two"}, ("version",)),
        ({"priority": 100}, ("priority", "99")),
        ({"priority": -1}, ("priority",)),
    ],
    ids=["input-list", "input-string", "version-string", "priority-100", "priority-negative"],
)
def test_start_request_with_wrong_types(
    client: PodiumClient, registered: None, extra: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    before = running_ids(client)
    response = client.request("POST", "/workflow", json={"name": WORKFLOW, **extra})
    assert_error(response, 400, *fragments)
    assert running_ids(client) == before


def test_start_request_not_an_object(client: PodiumClient, registered: None) -> None:
    before = running_ids(client)
    assert_error(client.request("POST", "/workflow", json=[WORKFLOW]), 400, "expected a JSON object")
    assert running_ids(client) == before


def test_start_by_name_with_wrong_types(client: PodiumClient, registered: None) -> None:
    before = running_ids(client)
    assert_error(client.request("POST", f"/workflow/{WORKFLOW}", json=[1, 2]), 400, "JSON object")
    assert_error(client.request("POST", f"/workflow/{WORKFLOW}", params={"priority": "100"}, json={}), 400, "priority")
    assert_error(client.request("POST", f"/workflow/{WORKFLOW}", params={"version": "two"}, json={}), 400, "version")
    assert running_ids(client) == before


def test_task_defs_not_a_list(client: PodiumClient) -> None:
    name = unique("not_a_list")
    assert_error(client.request("POST", "/metadata/taskdefs", json={"name": name}), 400, "JSON array")
    assert_no_task_def(client, name)


def test_task_defs_batch_with_one_invalid_stores_none(client: PodiumClient) -> None:
    good, bad = unique("good_taskdef"), unique("bad_taskdef")
    response = client.request("POST", "/metadata/taskdefs", json=[{"name": good}, {"name": bad, "retryCount": "many"}])
    assert_error(response, 400, "retryCount")
    assert_no_task_def(client, good)
    assert_no_task_def(client, bad)


def test_task_result_with_unknown_status(client: PodiumClient, running: dict[str, Any]) -> None:
    [task] = running["tasks"]
    response = client.request(
        "POST",
        "/tasks",
        json={"workflowInstanceId": running["workflowId"], "taskId": task["taskId"], "status": "DONE_ISH"},
    )
    assert_error(response, 400, "status")
    after = client.workflow(running["workflowId"])
    assert after["status"] == "RUNNING"
    assert after["tasks"][0]["status"] == "SCHEDULED"


def test_task_result_missing_ids(client: PodiumClient) -> None:
    assert_error(client.request("POST", "/tasks", json={"status": "COMPLETED"}), 400, "taskId", "workflowInstanceId")


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"count": "0"}, "count"),
        ({"count": "1001"}, "count"),
        ({"count": "many"}, "count"),
        ({"timeout": "-1"}, "timeout"),
    ],
    ids=["count-0", "count-1001", "count-text", "timeout-negative"],
)
def test_batch_poll_with_bad_parameters(
    client: PodiumClient, running: dict[str, Any], params: dict[str, str], fragment: str
) -> None:
    assert_error(client.request("GET", f"/tasks/poll/batch/{TASK}", params=params), 400, fragment)
    # The rejected poll handed nothing out: the task is still there for a proper one.
    polled = client.poll(TASK, count=10)
    assert running["tasks"][0]["taskId"] in [task["taskId"] for task in polled]


# -- unknown names and ids -----------------------------------------------------------------


def test_start_unknown_workflow_name(client: PodiumClient) -> None:
    name = unique("no_such_workflow")
    assert_error(client.request("POST", "/workflow", json={"name": name}), 404, name)
    assert_error(client.request("POST", f"/workflow/{name}", json={}), 404, name)
    assert_error(client.request("POST", "/workflow", json={"name": WORKFLOW, "version": 99}), 404, WORKFLOW, "99")
    assert client.ok("GET", f"/workflow/running/{name}") == []


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/workflow/{}"),
        ("GET", "/workflow/{}/status"),
        ("PUT", "/workflow/{}/pause"),
        ("PUT", "/workflow/{}/resume"),
        ("DELETE", "/workflow/{}"),
        ("DELETE", "/workflow/{}/remove"),
    ],
    ids=["get", "status", "pause", "resume", "terminate", "remove"],
)
def test_unknown_workflow_id(client: PodiumClient, method: str, template: str) -> None:
    workflow_id = str(uuid.uuid4())
    assert_error(client.request(method, template.format(workflow_id)), 404, workflow_id)
    # Asking about it did not bring a phantom execution into being.
    assert_error(client.request("GET", f"/workflow/{workflow_id}"), 404, workflow_id)


def test_unknown_task_id_lookup(client: PodiumClient) -> None:
    task_id = str(uuid.uuid4())
    assert_error(client.request("GET", f"/tasks/{task_id}"), 404, task_id)


def test_task_result_for_unknown_task_of_known_workflow(client: PodiumClient, running: dict[str, Any]) -> None:
    task_id = str(uuid.uuid4())
    result = {"workflowInstanceId": running["workflowId"], "taskId": task_id, "status": "COMPLETED"}
    assert_error(client.request("POST", "/tasks", json=result), 404, task_id)
    assert_error(client.request("POST", "/tasks/update-v2", json=result), 404, task_id)
    after = client.workflow(running["workflowId"])
    assert after["status"] == "RUNNING"
    assert [t["taskId"] for t in after["tasks"]] == [running["tasks"][0]["taskId"]]
    assert after["tasks"][0]["status"] == "SCHEDULED"


def test_task_result_for_unknown_workflow(client: PodiumClient) -> None:
    workflow_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    result = {"workflowInstanceId": workflow_id, "taskId": task_id, "status": "COMPLETED"}
    assert_error(client.request("POST", "/tasks", json=result), 404, workflow_id)
    assert_error(client.request("GET", f"/workflow/{workflow_id}"), 404, workflow_id)


# -- invalid definitions -------------------------------------------------------------------


def duplicate_refs(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "tasks": [
            {"name": TASK, "taskReferenceName": "twice", "type": "SIMPLE"},
            {"name": TASK, "taskReferenceName": "twice", "type": "SIMPLE"},
        ],
    }


def fork_without_branches(name: str) -> dict[str, Any]:
    # Conductor refuses an empty forkTasks; a fork with no JOIN after it registers there
    # (and here, with a warning), so it is not a bad input.
    return {
        "name": name,
        "tasks": [
            {"name": "fork", "taskReferenceName": "lonely_fork", "type": "FORK_JOIN", "forkTasks": []},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
        ],
    }


@pytest.mark.parametrize(
    ("build", "reference"),
    [(duplicate_refs, "twice"), (fork_without_branches, "lonely_fork")],
    ids=["duplicate-refs", "fork-without-branches"],
)
def test_invalid_workflow_definition(client: PodiumClient, build: Any, reference: str) -> None:
    name = unique("invalid_def")
    definition = build(name)

    body = assert_error(client.request("POST", "/metadata/workflow", json=definition), 400, reference)
    assert any(reference in problem["message"] for problem in body["validationErrors"])
    assert_no_workflow_def(client, name)

    # The bulk update validates every definition before it stores any.
    valid = simple_workflow(unique("valid_def"))
    assert_error(client.request("PUT", "/metadata/workflow", json=[valid, definition]), 400, reference)
    assert_no_workflow_def(client, valid["name"])
    assert_no_workflow_def(client, name)

    # An inline definition on start is checked the same way, and nothing starts.
    response = client.request("POST", "/workflow", json={"name": name, "workflowDef": definition})
    assert_error(response, 400, reference)
    assert client.ok("GET", f"/workflow/running/{name}") == []


def test_workflow_definition_with_wrong_types(client: PodiumClient) -> None:
    name = unique("typed_def")
    definition = {**simple_workflow(name), "tasks": {"not": "a list"}}
    assert_error(client.request("POST", "/metadata/workflow", json=definition), 400, "tasks")
    assert_no_workflow_def(client, name)


# -- oversized bodies ----------------------------------------------------------------------


def oversized_input() -> dict[str, Any]:
    return {"blob": "x" * TWO_MIB}


def test_oversized_start_is_rejected(client: PodiumClient, registered: None) -> None:
    before = running_ids(client)
    response = client.request("POST", "/workflow", json={"name": WORKFLOW, "input": oversized_input()})
    assert_error(response, 413, "too large", "1048576")
    response = client.request("POST", f"/workflow/{WORKFLOW}", json=oversized_input())
    assert_error(response, 413, "too large")
    assert running_ids(client) == before


def test_oversized_definition_is_rejected(client: PodiumClient) -> None:
    name = unique("huge_def")
    definition = {**simple_workflow(name), "description": "x" * TWO_MIB}
    assert_error(client.request("POST", "/metadata/workflow", json=definition), 413, "too large")
    assert_no_workflow_def(client, name)


def test_oversized_task_result_is_rejected(client: PodiumClient, running: dict[str, Any]) -> None:
    [task] = running["tasks"]
    result = {
        "workflowInstanceId": running["workflowId"],
        "taskId": task["taskId"],
        "status": "COMPLETED",
        "outputData": oversized_input(),
    }
    assert_error(client.request("POST", "/tasks", json=result), 413, "too large")
    after = client.workflow(running["workflowId"])
    assert after["status"] == "RUNNING"
    assert after["tasks"][0]["status"] == "SCHEDULED"


# -- unknown routes ------------------------------------------------------------------------


def test_unknown_api_path(client: PodiumClient) -> None:
    assert_error(client.request("GET", "/no/such/thing"), 404, "/api/no/such/thing")
    assert_error(client.request("POST", "/metadata/nothing", json={}), 404, "/api/metadata/nothing")


def test_wrong_method(client: PodiumClient) -> None:
    assert_error(client.request("PATCH", "/metadata/taskdefs"), 405, "PATCH", "/api/metadata/taskdefs")


@pytest.mark.parametrize("path", ["/events/deep_event", "/workflow", "/metadata/taskdefs"])
def test_json_nested_too_deep_to_store_is_a_400(client: PodiumClient, path: str) -> None:
    """Found by the fuzz test: parsed, but too deep to write back as JSON (a 500 before)."""
    depth = 300
    body = b'{"a":' * depth + b"1" + b"}" * depth
    response = client.request("POST", path, data=body, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "nested more than 254 levels deep")
