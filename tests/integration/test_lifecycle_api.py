"""The lifecycle API over real HTTP: restart, retry, rerun, skip, reset callbacks, decide,
terminate-remove, the bulk endpoints and task signals.

Error paths check the exact status and a message naming the problem; happy paths check
Conductor's semantics (WorkflowExecutorOps in conductor-oss/conductor): restart keeps the
id and starts over, retry adds a new attempt of the failed task linked to the old one,
rerun drops what followed the task and schedules it again, skip records a SKIPPED task
the workflow then moves past.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.client import PodiumClient, eventually

Json = dict[str, Any]


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10]


def missing_id() -> str:
    return str(uuid.uuid4())


def assert_error(response: requests.Response, status: int, *fragments: str) -> Json:
    """The exact status, Conductor's JSON error shape, and a message naming the problem."""
    assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    assert response.headers["Content-Type"].startswith("application/json"), response.headers["Content-Type"]
    body: Json = response.json()
    assert body["status"] == status
    for fragment in fragments:
        assert fragment in body["message"], f"{fragment!r} not in {body['message']!r}"
    return body






def refs(workflow: Json) -> list[str]:
    return [task["referenceTaskName"] for task in workflow["tasks"]]


def tasks_of(workflow: Json, reference: str) -> list[Json]:
    return [task for task in workflow["tasks"] if task["referenceTaskName"] == reference]


def task_of(workflow: Json, reference: str) -> Json:
    [task] = tasks_of(workflow, reference)
    return task


def has_task(client: PodiumClient, workflow_id: str, reference: str, status: str) -> Json:
    return eventually(
        lambda: client.workflow(workflow_id),
        lambda w: any(t["status"] == status for t in tasks_of(w, reference)),
        f"task '{reference}' of {workflow_id} to be {status}",
    )


def bulk(client: PodiumClient, method: str, operation: str, ids: list[str], **params: Any) -> Json:
    response = client.request(method, f"/workflow/bulk/{operation}", json=ids, params=params)
    assert response.status_code == 200, f"{response.status_code}: {response.text[:500]}"
    body: Json = response.json()
    return body


# -- workflows ----------------------------------------------------------------------------


class ThreeSteps:
    """`a -> b -> c`, each a SIMPLE task of its own external type (retryCount 0)."""

    def __init__(self, client: PodiumClient, uid: str, version: int = 1) -> None:
        self.client = client
        self.name = f"lifecycle_{uid}"
        self.types = {ref: f"lc_{ref}_{uid}" for ref in ("a", "b", "c")}
        client.register(
            {
                "name": self.name,
                "version": version,
                "tasks": [
                    {
                        "name": self.types["a"],
                        "taskReferenceName": "a",
                        "inputParameters": {"n": "${workflow.input.n}"},
                    },
                    {"name": self.types["b"], "taskReferenceName": "b", "inputParameters": {"prev": "${a.output.v}"}},
                    {"name": self.types["c"], "taskReferenceName": "c", "inputParameters": {"prev": "${b.output.v}"}},
                ],
                "outputParameters": {"result": "${c.output.v}"},
            },
            [{"name": task_type, "retryCount": 0} for task_type in self.types.values()],
        )

    def start(self, n: int = 1) -> str:
        return self.client.start(self.name, {"n": n})

    def complete(self, reference: str, output: Json | None = None, status: str = "COMPLETED") -> Json:
        task = self.client.take(self.types[reference])
        self.client.complete(task, output if output is not None else {"v": reference}, status)
        return task

    def finish(self, workflow_id: str) -> Json:
        return self.client.run_workers(list(self.types.values()), workflow_id, {"v": "done"})


@pytest.fixture
def steps(client: PodiumClient, uid: str) -> ThreeSteps:
    return ThreeSteps(client, uid)


@pytest.fixture
def running(client: PodiumClient, steps: ThreeSteps) -> Iterator[str]:
    """A RUNNING workflow whose first task nobody polls; removed afterwards."""
    workflow_id = steps.start()
    yield workflow_id
    client.request("DELETE", f"/workflow/{workflow_id}/remove")


@pytest.fixture
def terminated(client: PodiumClient, steps: ThreeSteps) -> Iterator[str]:
    workflow_id = steps.start()
    client.ok("DELETE", f"/workflow/{workflow_id}", params={"reason": "set up by the test"})
    client.wait(workflow_id)
    yield workflow_id
    client.request("DELETE", f"/workflow/{workflow_id}/remove")


def register_waits(client: PodiumClient, uid: str, count: int, then: list[Json] | None = None) -> str:
    """A workflow of `count` WAIT tasks without a duration (w1, w2, ...), then `then`."""
    name = f"waits_{uid}"
    waits = [{"name": "wait", "taskReferenceName": f"w{i}", "type": "WAIT"} for i in range(1, count + 1)]
    client.register({"name": name, "tasks": waits + (then or [])})
    return name


# -- routing -------------------------------------------------------------------------------


def test_bulk_paths_are_not_taken_for_a_workflow_id(client: PodiumClient) -> None:
    unknown = missing_id()
    for method, operation in (
        ("PUT", "pause"),
        ("PUT", "resume"),
        ("POST", "restart"),
        ("POST", "retry"),
        ("POST", "terminate"),
        ("DELETE", "remove"),
        ("DELETE", "terminate-remove"),
    ):
        body = bulk(client, method, operation, [unknown])
        assert body["bulkSuccessfulResults"] == [], operation
        assert set(body["bulkErrorResults"]) == {unknown}, operation
        assert unknown in body["bulkErrorResults"][unknown], operation


def test_decide_path_is_not_taken_for_a_workflow_id(client: PodiumClient) -> None:
    unknown = missing_id()
    # Were `/workflow/{workflowId}/...` to take it, this would name "decide", not the id.
    assert_error(client.request("PUT", f"/workflow/decide/{unknown}"), 404, unknown)


def test_wrong_method_on_a_bulk_path_is_405(client: PodiumClient) -> None:
    assert_error(client.request("GET", "/workflow/bulk/pause"), 405, "GET")


# -- unknown ids, bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/workflow/{id}/restart", None),
        ("POST", "/workflow/{id}/restart?useLatestDefinitions=true", None),
        ("POST", "/workflow/{id}/retry", None),
        ("POST", "/workflow/{id}/rerun", {}),
        ("PUT", "/workflow/{id}/skiptask/some_ref", None),
        ("POST", "/workflow/{id}/resetcallbacks", None),
        ("PUT", "/workflow/decide/{id}", None),
        ("DELETE", "/workflow/{id}/terminate-remove", None),
        ("POST", "/tasks/{id}/COMPLETED/signal", {}),
        ("POST", "/tasks/{id}/COMPLETED/signal/sync", {}),
    ],
)
def test_unknown_workflow_is_404(client: PodiumClient, method: str, path: str, body: Json | None) -> None:
    unknown = missing_id()
    assert_error(client.request(method, path.format(id=unknown), json=body), 404, unknown)


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/workflow/{id}/restart?useLatestDefinitions=maybe", "useLatestDefinitions"),
        ("/workflow/{id}/retry?resumeSubworkflowTasks=2", "resumeSubworkflowTasks"),
    ],
)
def test_bad_boolean_parameter_is_400(client: PodiumClient, running: str, path: str, parameter: str) -> None:
    assert_error(client.request("POST", path.format(id=running)), 400, parameter)


def test_restart_with_latest_definitions_needs_a_definition(
    client: PodiumClient, steps: ThreeSteps, terminated: str
) -> None:
    client.ok("DELETE", f"/metadata/workflow/{steps.name}/1")
    response = client.request("POST", f"/workflow/{terminated}/restart", params={"useLatestDefinitions": "true"})
    assert_error(response, 404, steps.name, terminated)


def test_restart_of_a_running_workflow_is_409(client: PodiumClient, running: str) -> None:
    assert_error(client.request("POST", f"/workflow/{running}/restart"), 409, running, "RUNNING")
    assert client.workflow(running)["status"] == "RUNNING"


def test_retry_of_a_running_workflow_is_409(client: PodiumClient, running: str) -> None:
    assert_error(client.request("POST", f"/workflow/{running}/retry"), 409, running, "RUNNING")


def test_rerun_of_a_running_workflow_is_409(client: PodiumClient, running: str) -> None:
    assert_error(client.request("POST", f"/workflow/{running}/rerun", json={}), 409, running, "RUNNING")


def test_skip_in_an_ended_workflow_is_409(client: PodiumClient, terminated: str) -> None:
    assert_error(client.request("PUT", f"/workflow/{terminated}/skiptask/c"), 409, terminated)


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (b'{"reRunFromTaskId": ', ("Malformed JSON",)),
        (b"", ("empty",)),
        (b"[]", ("JSON object", "list")),
        (b'{"workflowInput": "not an object"}', ("workflowInput",)),
        (b'{"taskInput": [1, 2]}', ("taskInput",)),
        (b'{"reRunFromTaskId": 42}', ("reRunFromTaskId",)),
    ],
)
def test_rerun_with_a_bad_body_is_400(client: PodiumClient, running: str, body: bytes, fragments: tuple[str]) -> None:
    response = client.request(
        "POST", f"/workflow/{running}/rerun", data=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, *fragments)


def test_rerun_from_an_unknown_task_is_404(client: PodiumClient, terminated: str) -> None:
    task_id = missing_id()
    response = client.request("POST", f"/workflow/{terminated}/rerun", json={"reRunFromTaskId": task_id})
    assert_error(response, 404, task_id)


def test_rerun_from_a_task_of_another_workflow_is_400(
    client: PodiumClient, steps: ThreeSteps, running: str, terminated: str
) -> None:
    other_task = task_of(client.workflow(running), "a")["taskId"]
    response = client.request("POST", f"/workflow/{terminated}/rerun", json={"reRunFromTaskId": other_task})
    assert_error(response, 400, other_task, terminated, "does not belong")


@pytest.mark.parametrize(
    ("body", "query", "fragment"),
    [
        (b'{"taskInput": ', None, "Malformed JSON"),
        (b"[1]", None, "JSON object"),
        (b'{"taskOutput": "done"}', None, "taskOutput"),
        (None, "{not json", "skipTaskRequest"),
        (None, "[1, 2]", "skipTaskRequest"),
    ],
)
def test_skip_with_a_bad_request_is_400(
    client: PodiumClient, running: str, body: bytes | None, query: str | None, fragment: str
) -> None:
    params = {"skipTaskRequest": query} if query is not None else {}
    response = client.request(
        "PUT",
        f"/workflow/{running}/skiptask/c",
        data=body,
        params=params,
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, fragment)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[", "Malformed JSON"),
        (b"", "empty"),
        (b'{"ids": []}', "JSON array"),
        (b'"just-one-id"', "JSON array"),
        (b"[1, 2]", "JSON array"),
        (b"[]", "cannot be null"),
    ],
)
def test_bulk_with_a_bad_body_is_400(client: PodiumClient, body: bytes, fragment: str) -> None:
    response = client.request("PUT", "/workflow/bulk/pause", data=body, headers={"Content-Type": "application/json"})
    assert_error(response, 400, fragment)


def test_bulk_with_more_than_1000_ids_is_400(client: PodiumClient) -> None:
    ids = [missing_id() for _ in range(1001)]
    for method, operation in (("PUT", "pause"), ("POST", "terminate"), ("DELETE", "remove")):
        response = client.request(method, f"/workflow/bulk/{operation}", json=ids)
        assert_error(response, 400, "Cannot process more than 1000 workflows. Please use multiple requests.")


def test_bulk_with_exactly_1000_ids_is_processed(client: PodiumClient) -> None:
    ids = [missing_id() for _ in range(1000)]
    body = bulk(client, "PUT", "resume", ids)
    assert body["bulkSuccessfulResults"] == []
    assert set(body["bulkErrorResults"]) == set(ids)


@pytest.mark.parametrize("status", ["SCHEDULED", "IN_PROGRESS", "BOGUS"])
def test_signal_with_a_non_terminal_or_unknown_status_is_400(client: PodiumClient, running: str, status: str) -> None:
    for path in ("signal", "signal/sync"):
        assert_error(client.request("POST", f"/tasks/{running}/{status}/{path}", json={}), 400, status)


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"returnStrategy": "EVERYTHING"}, "returnStrategy"),
        ({"timeoutMillis": "soon"}, "timeoutMillis"),
        ({"timeoutMillis": "-1"}, "timeoutMillis"),
    ],
)
def test_sync_signal_with_a_bad_parameter_is_400(
    client: PodiumClient, running: str, query: dict[str, str], fragment: str
) -> None:
    response = client.request("POST", f"/tasks/{running}/COMPLETED/signal/sync", json={}, params=query)
    assert_error(response, 400, fragment)


@pytest.mark.parametrize(("body", "fragment"), [(b"{", "Malformed JSON"), (b"[1]", "JSON object")])
def test_signal_with_a_bad_body_is_400(client: PodiumClient, running: str, body: bytes, fragment: str) -> None:
    response = client.request(
        "POST", f"/tasks/{running}/COMPLETED/signal", data=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, fragment)


def test_a_sync_signal_without_a_blocked_task_is_404_and_an_async_one_does_nothing(
    client: PodiumClient, running: str
) -> None:
    # Its only task is a SIMPLE one, waiting for a worker: nothing to signal.
    response = client.request("POST", f"/tasks/{running}/COMPLETED/signal/sync", json={"x": 1})
    assert_error(response, 404, f"Found no blocked task in workflow {running} to signal")
    # Conductor's asynchronous signal answers 200 and changes nothing.
    response = client.request("POST", f"/tasks/{running}/COMPLETED/signal", json={"x": 1})
    assert response.status_code == 200, response.text
    assert task_of(client.workflow(running), "a")["status"] == "SCHEDULED"


# -- restart --------------------------------------------------------------------------------


def test_restart_runs_a_terminated_workflow_again(client: PodiumClient, steps: ThreeSteps) -> None:
    workflow_id = steps.start(n=5)
    steps.complete("a", {"v": 1})
    has_task(client, workflow_id, "b", "SCHEDULED")
    client.ok("DELETE", f"/workflow/{workflow_id}", params={"reason": "stopped"})
    ended = client.wait(workflow_id)
    assert ended["status"] == "TERMINATED"
    old_task_ids = {task["taskId"] for task in ended["tasks"]}

    response = client.request("POST", f"/workflow/{workflow_id}/restart")
    assert response.status_code == 204, response.text
    assert response.content == b""

    restarted = client.workflow(workflow_id)
    assert restarted["workflowId"] == workflow_id
    assert restarted["status"] == "RUNNING"
    assert restarted["input"] == {"n": 5}
    assert not restarted.get("reasonForIncompletion")
    assert restarted["endTime"] == 0
    assert refs(restarted) == ["a"]
    first = restarted["tasks"][0]
    assert first["status"] == "SCHEDULED"
    assert first["taskId"] not in old_task_ids
    assert first["inputData"] == {"n": 5}

    finished = steps.finish(workflow_id)
    assert finished["status"] == "COMPLETED"
    assert refs(finished) == ["a", "b", "c"]
    assert finished["output"] == {"result": "done"}


def test_restart_with_the_latest_definition(client: PodiumClient, steps: ThreeSteps, uid: str) -> None:
    workflow_id = steps.start()
    client.ok("DELETE", f"/workflow/{workflow_id}")
    client.wait(workflow_id)
    # Version 2 runs `c` alone.
    latest = client.ok("GET", f"/metadata/workflow/{steps.name}", params={"version": 1})
    latest["version"] = 2
    latest["tasks"] = [{**latest["tasks"][2], "inputParameters": {"prev": "v2"}}]
    client.ok("POST", "/metadata/workflow", json=latest)

    response = client.request("POST", f"/workflow/{workflow_id}/restart", params={"useLatestDefinitions": "true"})
    assert response.status_code == 204, response.text
    restarted = client.workflow(workflow_id)
    assert restarted["status"] == "RUNNING"
    assert restarted["workflowVersion"] == 2
    assert restarted["workflowDefinition"]["version"] == 2
    assert refs(restarted) == ["c"]
    assert restarted["tasks"][0]["inputData"] == {"prev": "v2"}
    assert steps.finish(workflow_id)["status"] == "COMPLETED"


# -- retry -----------------------------------------------------------------------------------


def test_retry_reschedules_the_failed_task(client: PodiumClient, steps: ThreeSteps) -> None:
    workflow_id = steps.start()
    first = steps.complete("a", {"v": 1})
    failed_task = steps.complete("b", {"partial": True}, status="FAILED")
    failed = client.wait(workflow_id)
    assert failed["status"] == "FAILED"

    response = client.request("POST", f"/workflow/{workflow_id}/retry")
    assert response.status_code == 204, response.text

    retried = client.workflow(workflow_id)
    assert retried["status"] == "RUNNING"
    assert [t["taskId"] for t in tasks_of(retried, "a")] == [first["taskId"]]
    old, new = tasks_of(retried, "b")
    assert old["taskId"] == failed_task["taskId"]
    assert old["status"] == "FAILED"
    assert new["status"] == "SCHEDULED"
    assert new["retryCount"] == old["retryCount"] + 1
    assert new["retriedTaskId"] == old["taskId"]
    assert new["inputData"] == {"prev": 1}

    finished = steps.finish(workflow_id)
    assert finished["status"] == "COMPLETED"
    assert finished["output"] == {"result": "done"}


def test_retry_of_a_completed_workflow_is_409(client: PodiumClient, steps: ThreeSteps) -> None:
    workflow_id = steps.start()
    assert steps.finish(workflow_id)["status"] == "COMPLETED"
    assert_error(client.request("POST", f"/workflow/{workflow_id}/retry"), 409)


# -- rerun -----------------------------------------------------------------------------------


def test_rerun_from_a_task_with_new_input(client: PodiumClient, steps: ThreeSteps) -> None:
    workflow_id = steps.start()
    assert steps.finish(workflow_id)["status"] == "COMPLETED"
    done = client.workflow(workflow_id)
    first, second = task_of(done, "a"), task_of(done, "b")

    response = client.request(
        "POST",
        f"/workflow/{workflow_id}/rerun",
        json={"reRunFromWorkflowId": workflow_id, "reRunFromTaskId": second["taskId"], "taskInput": {"prev": 42}},
    )
    assert response.status_code == 200, response.text
    assert response.text == workflow_id

    rerun = client.workflow(workflow_id)
    assert rerun["status"] == "RUNNING"
    assert refs(rerun) == ["a", "b"]
    assert task_of(rerun, "a")["taskId"] == first["taskId"]
    assert task_of(rerun, "a")["status"] == "COMPLETED"
    again = task_of(rerun, "b")
    assert again["status"] == "SCHEDULED"
    assert again["inputData"]["prev"] == 42

    polled = client.take(steps.types["b"])
    assert polled["inputData"]["prev"] == 42
    client.complete(polled, {"v": "second time"})
    finished = steps.finish(workflow_id)
    assert finished["status"] == "COMPLETED"
    assert task_of(finished, "c")["inputData"] == {"prev": "second time"}


def test_rerun_of_the_whole_workflow_with_new_input(client: PodiumClient, steps: ThreeSteps) -> None:
    workflow_id = steps.start(n=1)
    assert steps.finish(workflow_id)["status"] == "COMPLETED"

    response = client.request(
        "POST", f"/workflow/{workflow_id}/rerun", json={"workflowInput": {"n": 2}, "correlationId": "again"}
    )
    assert response.status_code == 200, response.text
    rerun = client.workflow(workflow_id)
    assert rerun["status"] == "RUNNING"
    assert rerun["input"] == {"n": 2}
    assert rerun["correlationId"] == "again"
    assert refs(rerun) == ["a"]
    assert rerun["tasks"][0]["inputData"] == {"n": 2}
    assert steps.finish(workflow_id)["status"] == "COMPLETED"


def sub_workflow_parent(client: PodiumClient, steps: ThreeSteps, uid: str) -> str:
    """A parent whose only task is a SUB_WORKFLOW running `steps`' workflow."""
    name = f"lc_parent_{uid}"
    client.register(
        {
            "name": name,
            "tasks": [
                {
                    "name": "child",
                    "taskReferenceName": "child",
                    "type": "SUB_WORKFLOW",
                    "subWorkflowParam": {"name": steps.name, "version": 1},
                    "inputParameters": {"n": 1},
                }
            ],
            "outputParameters": {"result": "${child.output.result}"},
        }
    )
    return name


def child_of(client: PodiumClient, parent_id: str) -> str:
    """The id of the parent's sub-workflow, once that exists (a message starts it)."""
    parent = eventually(
        lambda: client.workflow(parent_id),
        lambda w: bool(w["tasks"]) and bool(w["tasks"][0].get("subWorkflowId")),
        "the sub-workflow task to name its child",
    )
    child_id = str(parent["tasks"][0]["subWorkflowId"])
    eventually(
        lambda: {"status": client.request("GET", f"/workflow/{child_id}").status_code},
        lambda found: found["status"] == 200,
        f"sub-workflow {child_id} to exist",
    )
    return child_id


def test_rerun_from_a_task_of_a_sub_workflow(client: PodiumClient, steps: ThreeSteps, uid: str) -> None:
    parent_id = client.start(sub_workflow_parent(client, steps, uid))
    child_id = child_of(client, parent_id)
    has_task(client, child_id, "a", "SCHEDULED")
    child_task = task_of(client.workflow(child_id), "a")["taskId"]

    # The parent has not ended: as in Conductor, no rerun.
    response = client.request("POST", f"/workflow/{parent_id}/rerun", json={"reRunFromTaskId": child_task})
    assert_error(response, 409, parent_id)

    assert steps.finish(child_id)["status"] == "COMPLETED"
    assert client.wait(parent_id)["status"] == "COMPLETED"

    response = client.request(
        "POST", f"/workflow/{parent_id}/rerun", json={"reRunFromTaskId": child_task, "taskInput": {"n": 9}}
    )
    assert response.status_code == 200, response.text
    assert response.text == parent_id
    child = client.workflow(child_id)
    assert child["status"] == "RUNNING"
    assert refs(child) == ["a"]
    assert child["tasks"][0]["inputData"]["n"] == 9
    assert client.wait(parent_id, {"RUNNING"})["status"] == "RUNNING"

    assert steps.finish(child_id)["status"] == "COMPLETED"
    finished = client.wait(parent_id)
    assert finished["status"] == "COMPLETED"
    assert finished["output"] == {"result": "done"}


# -- skip -------------------------------------------------------------------------------------


def test_skip_a_task_not_reached_yet(client: PodiumClient, steps: ThreeSteps) -> None:
    workflow_id = steps.start()
    response = client.request(
        "PUT",
        f"/workflow/{workflow_id}/skiptask/b",
        json={"taskInput": {"why": "not needed"}, "taskOutput": {"v": "skipped"}},
    )
    assert response.status_code == 200, response.text

    skipped = task_of(client.workflow(workflow_id), "b")
    assert skipped["status"] == "SKIPPED"
    assert skipped["inputData"] == {"why": "not needed"}
    assert skipped["outputData"] == {"v": "skipped"}

    steps.complete("a", {"v": 1})
    last = client.take(steps.types["c"])
    assert last["inputData"] == {"prev": "skipped"}
    client.complete(last, {"v": "end"})
    finished = client.wait(workflow_id)
    assert finished["status"] == "COMPLETED"
    assert refs(finished) == ["a", "b", "c"]
    assert task_of(finished, "b")["status"] == "SKIPPED"


def test_skip_of_a_task_already_reached_is_409(client: PodiumClient, running: str) -> None:
    assert_error(client.request("PUT", f"/workflow/{running}/skiptask/a"), 409)
    assert [t["status"] for t in client.workflow(running)["tasks"]] == ["SCHEDULED"]


def test_skip_of_an_unknown_reference_is_400(client: PodiumClient, running: str) -> None:
    assert_error(client.request("PUT", f"/workflow/{running}/skiptask/no_such_ref"), 400, "no_such_ref")


# -- reset callbacks, decide, terminate-remove -----------------------------------------------


def test_reset_callbacks_and_decide_on_a_running_workflow(client: PodiumClient, running: str) -> None:
    response = client.request("POST", f"/workflow/{running}/resetcallbacks")
    assert response.status_code == 204, response.text
    assert client.ok("PUT", f"/workflow/decide/{running}") == {}
    assert client.workflow(running)["status"] == "RUNNING"


def test_reset_callbacks_makes_a_delayed_task_visible(client: PodiumClient, steps: ThreeSteps) -> None:
    workflow_id = steps.start()
    task = client.take(steps.types["a"])
    client.ok(
        "POST",
        "/tasks",
        json={
            "workflowInstanceId": workflow_id,
            "taskId": task["taskId"],
            "status": "IN_PROGRESS",
            "callbackAfterSeconds": 3600,
        },
    )
    assert client.poll(steps.types["a"]) == []

    response = client.request("POST", f"/workflow/{workflow_id}/resetcallbacks")
    assert response.status_code == 204, response.text
    again = client.take(steps.types["a"])
    assert again["taskId"] == task["taskId"]
    client.request("DELETE", f"/workflow/{workflow_id}/remove")


def test_reset_callbacks_of_an_ended_workflow_is_409(client: PodiumClient, terminated: str) -> None:
    assert_error(client.request("POST", f"/workflow/{terminated}/resetcallbacks"), 409, "TERMINATED")


@pytest.mark.parametrize("ended", [False, True])
def test_terminate_remove(client: PodiumClient, steps: ThreeSteps, ended: bool) -> None:
    workflow_id = steps.start()
    if ended:
        client.ok("DELETE", f"/workflow/{workflow_id}")
        client.wait(workflow_id)
    assert client.ok("DELETE", f"/workflow/{workflow_id}/terminate-remove", params={"reason": "gone"}) == {}
    assert_error(client.request("GET", f"/workflow/{workflow_id}"), 404, workflow_id)
    assert workflow_id not in client.ok("GET", f"/workflow/running/{steps.name}")
    assert client.poll(steps.types["a"]) == []


# -- bulk ---------------------------------------------------------------------------------------


def test_bulk_pause_resume_terminate_remove(client: PodiumClient, steps: ThreeSteps) -> None:
    ids = [steps.start(), steps.start()]
    unknown = missing_id()

    paused = bulk(client, "PUT", "pause", [*ids, unknown])
    assert paused["bulkSuccessfulResults"] == ids
    single = client.request("PUT", f"/workflow/{unknown}/pause").json()["message"]
    assert paused["bulkErrorResults"] == {unknown: single}
    assert {client.workflow(i)["status"] for i in ids} == {"PAUSED"}

    # A second pause fails per workflow, with the single endpoint's message.
    again = bulk(client, "PUT", "pause", ids[:1])
    assert again["bulkSuccessfulResults"] == []
    assert again["bulkErrorResults"] == {ids[0]: client.request("PUT", f"/workflow/{ids[0]}/pause").json()["message"]}

    resumed = bulk(client, "PUT", "resume", ids)
    assert resumed["bulkSuccessfulResults"] == ids
    assert resumed["bulkErrorResults"] == {}
    assert {client.workflow(i)["status"] for i in ids} == {"RUNNING"}

    terminated = bulk(client, "POST", "terminate", [*ids, unknown], reason="bulk stop", triggerFailureWorkflow="false")
    assert terminated["bulkSuccessfulResults"] == ids
    assert set(terminated["bulkErrorResults"]) == {unknown}
    for workflow_id in ids:
        workflow = client.wait(workflow_id)
        assert workflow["status"] == "TERMINATED"
        assert workflow["reasonForIncompletion"] == "bulk stop"

    removed = bulk(client, "DELETE", "remove", [*ids, unknown])
    assert removed["bulkSuccessfulResults"] == ids
    assert set(removed["bulkErrorResults"]) == {unknown}
    for workflow_id in ids:
        assert client.request("GET", f"/workflow/{workflow_id}").status_code == 404


def test_bulk_terminate_remove(client: PodiumClient, steps: ThreeSteps) -> None:
    ids = [steps.start(), steps.start()]
    body = bulk(client, "DELETE", "terminate-remove", ids, reason="cleanup")
    assert body == {"bulkSuccessfulResults": ids, "bulkErrorResults": {}, "message": "Bulk Request has been processed."}
    for workflow_id in ids:
        assert client.request("GET", f"/workflow/{workflow_id}").status_code == 404


def test_bulk_restart_and_retry(client: PodiumClient, steps: ThreeSteps) -> None:
    failed_id = steps.start()
    steps.complete("a", {"v": 1}, status="FAILED")
    assert client.wait(failed_id)["status"] == "FAILED"
    terminated_id = steps.start()
    client.ok("DELETE", f"/workflow/{terminated_id}")
    client.wait(terminated_id)
    running_id = steps.start()

    retried = bulk(client, "POST", "retry", [failed_id, running_id])
    assert retried["bulkSuccessfulResults"] == [failed_id]
    assert set(retried["bulkErrorResults"]) == {running_id}
    assert client.workflow(failed_id)["status"] == "RUNNING"

    restarted = bulk(client, "POST", "restart", [terminated_id, running_id], useLatestDefinitions="false")
    assert restarted["bulkSuccessfulResults"] == [terminated_id]
    single = client.request("POST", f"/workflow/{running_id}/restart").json()["message"]
    assert restarted["bulkErrorResults"] == {running_id: single}
    assert refs(client.workflow(terminated_id)) == ["a"]

    bulk(client, "DELETE", "terminate-remove", [failed_id, terminated_id, running_id])


# -- signals and completing WAIT by reference ----------------------------------------------


def test_signal_completes_the_waiting_task(client: PodiumClient, uid: str) -> None:
    workflow_id = client.start(register_waits(client, uid, 1))
    has_task(client, workflow_id, "w1", "IN_PROGRESS")

    response = client.request("POST", f"/tasks/{workflow_id}/COMPLETED/signal", json={"approved": True})
    assert response.status_code == 200, response.text

    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert task_of(workflow, "w1")["outputData"] == {"approved": True}


def test_signal_with_failed_fails_the_workflow(client: PodiumClient, uid: str) -> None:
    workflow_id = client.start(register_waits(client, uid, 1))
    has_task(client, workflow_id, "w1", "IN_PROGRESS")
    assert client.request("POST", f"/tasks/{workflow_id}/failed/signal", json={}).status_code == 200
    workflow = client.wait(workflow_id)
    assert workflow["status"] == "FAILED"
    assert task_of(workflow, "w1")["status"] == "FAILED"


def test_sync_signal_answers_once_the_workflow_blocks_again(client: PodiumClient, uid: str) -> None:
    workflow_id = client.start(register_waits(client, uid, 3), correlationId=f"sig-{uid}")
    has_task(client, workflow_id, "w1", "IN_PROGRESS")

    response = client.request("POST", f"/tasks/{workflow_id}/COMPLETED/signal/sync", json={"step": 1})
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["responseType"] == "TARGET_WORKFLOW"
    assert run["targetWorkflowId"] == run["workflowId"] == workflow_id
    assert run["targetWorkflowStatus"] == run["status"] == "RUNNING"
    assert run["correlationId"] == f"sig-{uid}"
    assert run["signalTimeout"] is False
    assert run["requestId"]
    assert [(t["referenceTaskName"], t["status"]) for t in run["tasks"]] == [
        ("w1", "COMPLETED"),
        ("w2", "IN_PROGRESS"),
    ]

    response = client.request(
        "POST",
        f"/tasks/{workflow_id}/COMPLETED/signal/sync",
        json={"step": 2},
        params={"returnStrategy": "BLOCKING_TASK"},
    )
    task_run = response.json()
    assert task_run["responseType"] == "BLOCKING_TASK"
    assert task_run["targetWorkflowId"] == task_run["workflowId"] == workflow_id
    assert (task_run["referenceTaskName"], task_run["taskType"], task_run["status"]) == ("w3", "WAIT", "IN_PROGRESS")
    assert task_run["signalTimeout"] is False

    response = client.request(
        "POST",
        f"/tasks/{workflow_id}/COMPLETED/signal/sync",
        json={"step": 3},
        params={"returnStrategy": "BLOCKING_WORKFLOW"},
    )
    final = response.json()
    assert final["responseType"] == "BLOCKING_WORKFLOW"
    assert final["status"] == final["targetWorkflowStatus"] == "COMPLETED"
    assert [t["outputData"] for t in final["tasks"]] == [{"step": 1}, {"step": 2}, {"step": 3}]


def test_sync_signal_gives_up_after_timeout_millis(client: PodiumClient, uid: str) -> None:
    # After the WAIT comes a SIMPLE task nobody polls: the workflow neither ends nor blocks.
    nobody = f"lc_nobody_{uid}"
    then = [{"name": nobody, "taskReferenceName": "work", "type": "SIMPLE"}]
    workflow_id = client.start(register_waits(client, uid, 1, then))
    has_task(client, workflow_id, "w1", "IN_PROGRESS")

    started = time.monotonic()
    response = client.request(
        "POST", f"/tasks/{workflow_id}/COMPLETED/signal/sync", json={}, params={"timeoutMillis": 300}
    )
    assert time.monotonic() - started >= 0.3
    run = response.json()
    assert run["signalTimeout"] is True
    assert run["status"] == "RUNNING"
    assert refs(run) == ["w1", "work"]
    client.request("DELETE", f"/workflow/{workflow_id}/remove")


def test_signal_reaches_a_wait_in_a_sub_workflow(client: PodiumClient, uid: str) -> None:
    child = register_waits(client, f"child_{uid}", 2)
    parent = f"signal_parent_{uid}"
    client.register(
        {
            "name": parent,
            "tasks": [
                {
                    "name": "child",
                    "taskReferenceName": "child",
                    "type": "SUB_WORKFLOW",
                    "subWorkflowParam": {"name": child},
                }
            ],
        }
    )
    parent_id = client.start(parent)
    child_id = child_of(client, parent_id)
    has_task(client, child_id, "w1", "IN_PROGRESS")

    response = client.request(
        "POST",
        f"/tasks/{parent_id}/COMPLETED/signal/sync",
        json={"from": "parent"},
        params={"returnStrategy": "BLOCKING_WORKFLOW"},
    )
    run = response.json()
    assert run["responseType"] == "BLOCKING_WORKFLOW"
    assert run["targetWorkflowId"] == parent_id
    assert run["workflowId"] == child_id
    assert [(t["referenceTaskName"], t["status"]) for t in run["tasks"]] == [("w1", "COMPLETED"), ("w2", "IN_PROGRESS")]
    assert task_of(client.workflow(child_id), "w1")["outputData"] == {"from": "parent"}

    assert client.request("POST", f"/tasks/{parent_id}/COMPLETED/signal", json={}).status_code == 200
    assert client.wait(parent_id)["status"] == "COMPLETED"


def test_update_by_reference_completes_a_wait(client: PodiumClient, uid: str) -> None:
    workflow_id = client.start(register_waits(client, uid, 1))
    waiting = has_task(client, workflow_id, "w1", "IN_PROGRESS")
    task_id = client.ok("POST", f"/tasks/{workflow_id}/w1/COMPLETED", json={"ok": 1})
    assert task_id == task_of(waiting, "w1")["taskId"]
    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert task_of(workflow, "w1")["outputData"] == {"ok": 1}


def test_terminate_can_trigger_the_failure_workflow(client: PodiumClient, uid: str) -> None:
    handler = f"lc_on_failure_{uid}"
    client.register({"name": handler, "tasks": [{"name": "noop", "taskReferenceName": "noop", "type": "NOOP"}]})
    name = register_waits(client, uid, 1)
    definition = client.ok("GET", f"/metadata/workflow/{name}")
    changed = {**definition, "failureWorkflow": handler}
    client.ok("POST", "/metadata/workflow", json=changed, params={"overwrite": "true"})
    plain, triggering, bulk_triggering = (client.start(name) for _ in range(3))

    client.ok("DELETE", f"/workflow/{plain}", params={"reason": "quiet"})
    client.ok("DELETE", f"/workflow/{triggering}", params={"reason": "loud", "triggerFailureWorkflow": "true"})
    body = bulk(client, "POST", "terminate", [bulk_triggering], reason="loud", triggerFailureWorkflow="true")
    assert body["bulkSuccessfulResults"] == [bulk_triggering]

    assert "conductor.failure_workflow" not in client.wait(plain)["output"]
    for workflow_id in (triggering, bulk_triggering):
        failure_id = client.wait(workflow_id)["output"]["conductor.failure_workflow"]
        failure = eventually(
            lambda failure_id=failure_id: client.request("GET", f"/workflow/{failure_id}").json(),
            lambda w: w.get("status") == "COMPLETED",
            f"failure workflow {failure_id} to complete",
        )
        assert failure["workflowName"] == handler
        assert failure["input"]["workflowId"] == workflow_id
        assert failure["input"]["reason"] == "loud"
    assert_error(client.request("DELETE", f"/workflow/{plain}", params={"triggerFailureWorkflow": "sure"}), 400)
