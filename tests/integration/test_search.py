"""Search over real HTTP: every query form, paging, sorting, free text, the result shapes,
status transitions moving executions and tasks between indexes, removal clearing every
index, bad input, and the metadata listings (names-and-versions, latest-versions).

The session's Podium is shared with other test modules: every query here names this
module's own workflow types (unique per run), or an id.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import requests

from cluster.runtime import Runtime
from tests.integration.client import PodiumClient, eventually

Json = dict[str, Any]


@dataclass
class Data:
    uid: str
    done: str  # a NOOP-only workflow: COMPLETED as soon as it starts
    waiting: str  # one SIMPLE task for an external worker: RUNNING until it is completed
    task_type: str
    workflows: dict[str, Json]  # id -> the execution as GET answers it

    def ids_of(self, name: str) -> set[str]:
        return {i for i, w in self.workflows.items() if w["workflowName"] == name}

    def ordered(self, descending: bool) -> list[str]:
        """Both types, in the order an index answers: startTime, ties by id."""
        both = [w for w in self.workflows.values()]
        both.sort(key=lambda w: (w["startTime"], w["workflowId"]), reverse=descending)
        return [w["workflowId"] for w in both]




def search(client: PodiumClient, path: str = "/workflow/search", **params: Any) -> Json:
    return dict(client.ok("GET", path, params=params))


def ids(result: Json, key: str = "workflowId") -> list[str]:
    return [r[key] for r in result["results"]]


def assert_error(response: requests.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    body = response.json()
    assert body["status"] == status
    for fragment in fragments:
        assert fragment in body["message"], f"{fragment!r} not in {body['message']!r}"


@pytest.fixture(scope="module")
def data(client: PodiumClient) -> Data:
    uid = uuid.uuid4().hex[:10]
    done, waiting, task_type = f"s_{uid}_done", f"s_{uid}_wait", f"s_{uid}_work"
    client.register({"name": done, "version": 1, "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]})
    client.register(
        {"name": waiting, "version": 1, "tasks": [{"name": task_type, "taskReferenceName": "work"}]},
        [{"name": task_type, "retryCount": 0}],
    )
    started = []
    for i in range(6):
        started.append(client.start(done, {"i": i}, correlationId=f"c_{uid}_{i % 2}"))
        time.sleep(0.003)  # distinct start times, so ranges have something to split
    for i in range(4):
        started.append(client.start(waiting, {"i": i}, correlationId=f"c_{uid}_w"))
        time.sleep(0.003)
    workflows = {i: client.workflow(i) for i in started}
    assert {w["status"] for w in workflows.values() if w["workflowName"] == done} == {"COMPLETED"}
    return Data(uid, done, waiting, task_type, workflows)


@pytest.fixture(scope="module")
def redis_client(podium: Runtime) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(podium.redis_url)
    yield connection
    connection.close()


# -- query forms ------------------------------------------------------------------------------


def test_in_equals_and_total_hits(client: PodiumClient, data: Data) -> None:
    both = search(client, query=f"workflowType IN ({data.done},{data.waiting})")
    assert both["totalHits"] == 10
    assert set(ids(both)) == set(data.workflows)

    completed = search(client, query=f"workflowType = '{data.done}' AND status = 'COMPLETED'")
    assert completed["totalHits"] == 6 and set(ids(completed)) == data.ids_of(data.done)

    running = search(client, query=f"workflowType IN ({data.done}, {data.waiting}) AND status IN (RUNNING,PAUSED)")
    assert set(ids(running)) == data.ids_of(data.waiting)

    none = search(client, query=f"workflowType = {data.done} AND status = FAILED")
    assert none == {"totalHits": 0, "results": []}


def test_greater_and_less_than_on_start_time(client: PodiumClient, data: Data) -> None:
    ascending = data.ordered(descending=False)
    pivot = data.workflows[ascending[4]]["startTime"]
    types = f"workflowType IN ({data.done},{data.waiting})"
    later = search(client, query=f"{types} AND startTime > {pivot}")
    assert set(ids(later)) == {i for i, w in data.workflows.items() if w["startTime"] > pivot}
    earlier = search(client, query=f"{types} AND startTime < {pivot}")
    assert set(ids(earlier)) == {i for i, w in data.workflows.items() if w["startTime"] < pivot}
    assert later["totalHits"] + earlier["totalHits"] < 10  # the pivot itself is in neither
    between = search(client, query=f"{types} AND startTime BETWEEN {pivot} AND {pivot}")
    assert ascending[4] in ids(between)


def test_sort_ascending_and_descending(client: PodiumClient, data: Data) -> None:
    query = f"workflowType IN ({data.done},{data.waiting})"
    assert ids(search(client, query=query, sort="startTime:ASC")) == data.ordered(descending=False)
    assert ids(search(client, query=query, sort="startTime:DESC")) == data.ordered(descending=True)
    # Newest first unless asked otherwise.
    assert ids(search(client, query=query)) == data.ordered(descending=True)
    # A field without an index of its own: sorted from the summaries.
    assert ids(search(client, query=query, sort="workflowId")) == sorted(data.workflows)
    by_type = ids(search(client, query=query, sort="workflowType:DESC|startTime:ASC"))
    expected = sorted(
        data.workflows.values(),
        key=lambda w: (w["workflowName"] == data.done, w["startTime"], w["workflowId"]),
    )
    assert by_type == [w["workflowId"] for w in expected]


def test_paging_with_start_and_size(client: PodiumClient, data: Data) -> None:
    query = f"workflowType IN ({data.done},{data.waiting})"
    pages = [search(client, query=query, start=start, size=3, sort="startTime:ASC") for start in (0, 3, 6, 9)]
    assert [p["totalHits"] for p in pages] == [10, 10, 10, 10]
    assert [len(p["results"]) for p in pages] == [3, 3, 3, 1]
    assert [i for p in pages for i in ids(p)] == data.ordered(descending=False)
    assert search(client, query=query, start=10) == {"totalHits": 10, "results": []}
    assert search(client, query=query, size=0) == {"totalHits": 10, "results": []}
    # Paging through the summaries (a sort with no index) agrees.
    sorted_pages = [search(client, query=query, start=s, size=4, sort="workflowId:ASC") for s in (0, 4, 8)]
    assert [i for p in sorted_pages for i in ids(p)] == sorted(data.workflows)


def test_free_text_finds_an_id_a_correlation_id_or_a_type(client: PodiumClient, data: Data) -> None:
    one = next(iter(data.ids_of(data.waiting)))
    assert ids(search(client, freeText=one)) == [one]
    corr = f"c_{data.uid}_0"
    expected = {i for i, w in data.workflows.items() if w.get("correlationId") == corr}
    found = search(client, freeText=corr)
    assert found["totalHits"] == 3 and set(ids(found)) == expected
    assert set(ids(search(client, freeText=data.waiting))) == data.ids_of(data.waiting)
    # Free text and query together: both must match.
    assert ids(search(client, freeText=corr, query="status = RUNNING")) == []
    assert search(client, freeText=f"nothing_{data.uid}") == {"totalHits": 0, "results": []}
    star = search(client, freeText="*", query=f"workflowType = {data.waiting}")
    assert set(ids(star)) == data.ids_of(data.waiting)


def test_workflow_id_in_the_query(client: PodiumClient, data: Data) -> None:
    a, b = sorted(data.ids_of(data.done))[:2]
    found = search(client, query=f"workflowId IN ({a},{b},{uuid.uuid4()})")
    assert found["totalHits"] == 2 and set(ids(found)) == {a, b}
    assert ids(search(client, query=f"workflowId = {a} AND status = RUNNING")) == []
    assert ids(search(client, query=f"workflowId = {a} AND version = 1")) == [a]


def test_summary_and_full_shapes(client: PodiumClient, data: Data) -> None:
    one = next(iter(data.ids_of(data.done)))
    [summary] = search(client, freeText=one)["results"]
    assert summary["workflowType"] == data.done and summary["version"] == 1
    assert summary["status"] == "COMPLETED" and summary["correlationId"].startswith(f"c_{data.uid}_")
    assert summary["startTime"].endswith("Z") and summary["endTime"].endswith("Z")
    assert summary["input"].startswith('{"i":')
    assert isinstance(summary["executionTime"], int) and summary["failedReferenceTaskNames"] == ""

    full = search(client, "/workflow/search-v2", freeText=one)
    assert full["totalHits"] == 1
    [workflow] = full["results"]
    assert workflow["workflowId"] == one and workflow["workflowName"] == data.done
    assert workflow["workflowDefinition"]["name"] == data.done
    assert workflow["input"] == data.workflows[one]["input"]


# -- status transitions -----------------------------------------------------------------------


def test_status_changes_move_an_execution_and_its_task_between_indexes(client: PodiumClient, data: Data) -> None:
    # A type of its own: polling it must not take the other tests' tasks.
    name, task_type = f"s_{data.uid}_moving", f"s_{data.uid}_moving_work"
    client.register({"name": name, "version": 1, "tasks": [{"name": task_type, "taskReferenceName": "work"}]})
    workflow_id = client.start(name, {"moving": True})
    query = f"workflowType = {name} AND workflowId = {workflow_id}"

    def status_index() -> list[str]:
        return [s for s in ("RUNNING", "PAUSED", "COMPLETED") if ids(search(client, query=f"{query} AND status = {s}"))]

    def task_status() -> list[str]:
        result = search(client, "/tasks/search", query=f"workflowId = {workflow_id}")
        return [r["status"] for r in result["results"]]

    assert status_index() == ["RUNNING"]
    assert task_status() == ["SCHEDULED"]
    client.ok("PUT", f"/workflow/{workflow_id}/pause")
    assert status_index() == ["PAUSED"]
    client.ok("PUT", f"/workflow/{workflow_id}/resume")
    assert status_index() == ["RUNNING"]

    polled = eventually(
        lambda: client.poll(task_type, 1),
        bool,
        "poll the task",
    )
    eventually(task_status, lambda s: s == ["IN_PROGRESS"], "the poll recorded")
    in_progress = search(client, "/tasks/search", query=f"taskType = {task_type} AND status = IN_PROGRESS")
    assert polled[0]["taskId"] in ids(in_progress, "taskId")

    client.complete(polled[0], {"answer": 42})
    assert status_index() == ["COMPLETED"]
    assert task_status() == ["COMPLETED"]
    still_running = search(client, "/tasks/search", query=f"taskType = {task_type} AND status = IN_PROGRESS")
    assert polled[0]["taskId"] not in ids(still_running, "taskId")


# -- tasks ------------------------------------------------------------------------------------


def test_task_search_forms(client: PodiumClient, data: Data) -> None:
    waiting = data.ids_of(data.waiting)
    scheduled = search(client, "/tasks/search", query=f"taskType = {data.task_type} AND status = SCHEDULED")
    assert {r["workflowId"] for r in scheduled["results"]} >= waiting
    one = next(iter(waiting))
    [task] = data.workflows[one]["tasks"]
    by_id = search(client, "/tasks/search", freeText=task["taskId"])
    assert ids(by_id, "taskId") == [task["taskId"]]
    [summary] = by_id["results"]
    assert summary["taskType"] == data.task_type and summary["workflowType"] == data.waiting
    assert summary["scheduledTime"].endswith("Z") and summary["input"] == "{}"
    assert ids(search(client, "/tasks/search", freeText=one), "taskId") == [task["taskId"]]
    # A field read from the summaries, and a sort on updateTime both ways.
    assert ids(search(client, "/tasks/search", query=f"workflowType = {data.done} AND taskType = NOOP")) != []
    query = f"taskType = {data.task_type}"
    ascending = ids(search(client, "/tasks/search", query=query, sort="updateTime:ASC", size=1000), "taskId")
    descending = ids(search(client, "/tasks/search", query=query, sort="updateTime:DESC", size=1000), "taskId")
    assert ascending == descending[::-1] and len(ascending) >= 4

    full = search(client, "/tasks/search-v2", freeText=task["taskId"])
    assert full["totalHits"] == 1
    [whole] = full["results"]
    assert whole["taskId"] == task["taskId"] and whole["workflowInstanceId"] == one
    assert whole["referenceTaskName"] == "work" and "inputData" in whole


# -- removal ----------------------------------------------------------------------------------


def test_removing_a_workflow_removes_it_from_every_index(
    client: PodiumClient, data: Data, redis_client: redis.Redis
) -> None:
    workflow_id = client.start(data.waiting, {"removed": True}, correlationId=f"gone_{data.uid}")
    task_id = client.workflow(workflow_id)["tasks"][0]["taskId"]
    assert ids(search(client, freeText=workflow_id)) == [workflow_id]
    client.ok("DELETE", f"/workflow/{workflow_id}/remove")

    assert search(client, freeText=workflow_id)["totalHits"] == 0
    assert search(client, freeText=f"gone_{data.uid}")["totalHits"] == 0
    assert workflow_id not in ids(search(client, query=f"workflowType = {data.waiting}", size=1000))
    assert workflow_id not in ids(search(client, query="status IN (RUNNING,TERMINATED)", size=5000))
    assert search(client, "/tasks/search", freeText=task_id)["totalHits"] == 0
    same_type = search(client, "/tasks/search", query=f"taskType = {data.task_type}", size=1000)
    assert task_id not in ids(same_type, "taskId")
    for key in redis_client.scan_iter(match="podium:{ix}:*"):
        if redis_client.type(key) == b"zset":
            members = set(redis_client.zrange(key, 0, -1))
        else:
            members = set(redis_client.hkeys(key))
        assert workflow_id.encode() not in members and task_id.encode() not in members, key


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "fragments"),
    [
        ("/workflow/search", {"query": "workflowType IN (a"}, ("Malformed query", "IN list")),
        ("/workflow/search", {"query": "colour = red"}, ("Unknown workflow search field 'colour'",)),
        ("/workflow/search", {"query": "status = DONE"}, ("Unknown workflow status 'DONE'",)),
        ("/workflow/search", {"query": "status = RUNNING OR status = FAILED"}, ("OR",)),
        ("/workflow/search", {"query": "startTime > soon"}, ("'startTime' takes an integer",)),
        ("/workflow/search-v2", {"size": "5001"}, ("size must be between 0 and 5000",)),
        ("/workflow/search", {"size": "-1"}, ("size must be between 0 and 5000",)),
        ("/workflow/search", {"start": "-5"}, ("start must not be negative",)),
        ("/workflow/search", {"start": "first"}, ("'start' must be an integer",)),
        ("/workflow/search", {"sort": "colour:ASC"}, ("Unknown workflow search field 'colour'",)),
        ("/workflow/search", {"sort": "startTime:UP"}, ("ASC or DESC",)),
        ("/tasks/search", {"query": "taskType = "}, ("expected a value for 'taskType'",)),
        ("/tasks/search-v2", {"query": "status = PAUSED"}, ("Unknown task status 'PAUSED'",)),
    ],
)
def test_bad_input_is_a_400_naming_the_problem(
    client: PodiumClient, path: str, params: Json, fragments: tuple[str, ...]
) -> None:
    assert_error(client.request("GET", path, params=params), 400, *fragments)


# -- metadata -----------------------------------------------------------------------------------


def test_names_and_versions_latest_versions_and_starting_by_version(client: PodiumClient, data: Data) -> None:
    name = f"s_{data.uid}_versions"
    for version in (1, 2):
        client.register(
            {"name": name, "version": version, "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]}
        )
    listed = client.ok("GET", "/metadata/workflow/names-and-versions")
    assert [(d["name"], d["version"]) for d in listed[name]] == [(name, 1), (name, 2)]
    assert all(isinstance(d["createTime"], int) for d in listed[name])
    assert [d["version"] for d in listed[data.done]] == [1]

    latest = [d for d in client.ok("GET", "/metadata/workflow/latest-versions") if d["name"] == name]
    assert len(latest) == 1 and latest[0]["version"] == 2 and latest[0]["tasks"]

    newest = client.start(name)
    first = client.start(name, version=1)
    by_path = client.ok("POST", f"/workflow/{name}", params={"version": 1}, json={})
    assert client.workflow(newest)["workflowVersion"] == 2
    assert client.workflow(first)["workflowVersion"] == 1
    assert client.workflow(by_path)["workflowVersion"] == 1
    assert set(ids(search(client, query=f"workflowType = {name} AND version = 1"))) == {first, by_path}
    assert ids(search(client, query=f"workflowType = {name} AND version = 2")) == [newest]
    assert_error(client.request("POST", "/workflow", json={"name": name, "version": 3}), 404, "version: 3")


# -- conductor-python ---------------------------------------------------------------------------


def test_conductor_python_search_clients(podium: Runtime, data: Data) -> None:
    from conductor.client.configuration.configuration import Configuration
    from conductor.client.http.api.task_resource_api import TaskResourceApi
    from conductor.client.orkes_clients import OrkesClients

    configuration = Configuration(server_api_url=podium.api_url)
    clients = OrkesClients(configuration)
    one = next(iter(data.ids_of(data.waiting)))
    found = clients.get_workflow_client().search(start=0, size=10, free_text=one)
    assert [s.workflow_id for s in found.results] == [one]
    assert found.results[0].workflow_type == data.waiting
    tasks_api = TaskResourceApi(clients.get_task_client().api_client)
    result = tasks_api.search1(query=f"taskType = {data.task_type} AND workflowId = {one}")
    assert result.total_hits == 1 and result.results[0].workflow_id == one
