"""Conductor's TaskResource, MetadataResource, AdminResource, QueueAdminResource, health,
version and environment endpoints, as Conductor OSS answers them.

The conductor-python SDK is the client where it has a call for the endpoint; raw HTTP
otherwise, and for the exact status codes and error bodies.
"""

from __future__ import annotations

import importlib.metadata
import os
import socket
import uuid
from typing import Any

import pytest
import requests
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.api.task_resource_api import TaskResourceApi
from conductor.client.http.models.task_def import TaskDef
from conductor.client.http.models.workflow_def import WorkflowDef
from conductor.client.http.models.workflow_task import WorkflowTask
from conductor.client.http.rest import ApiException
from conductor.client.metadata_client import MetadataClient
from conductor.client.orkes_clients import OrkesClients
from conductor.client.task_client import TaskClient

from cluster.runtime import Runtime
from tests.integration.client import PodiumClient

Json = dict[str, Any]


@pytest.fixture(scope="module")
def clients(podium: Runtime) -> OrkesClients:
    return OrkesClients(Configuration(server_api_url=podium.api_url))


@pytest.fixture(scope="module")
def task_client(clients: OrkesClients) -> TaskClient:
    return clients.get_task_client()


@pytest.fixture(scope="module")
def metadata_client(clients: OrkesClients) -> MetadataClient:
    return clients.get_metadata_client()


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


def assert_error(response: requests.Response, status: int, message: str) -> None:
    """The exact status and Conductor's error body with exactly that message."""
    assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    body = response.json()
    assert body["status"] == status and body["message"] == message, body


def task_of(workflow: Json, reference: str) -> Json:
    return next(task for task in workflow["tasks"] if task["referenceTaskName"] == reference)


def waits(client: PodiumClient, name: str, *references: str) -> str:
    """A workflow of WAIT tasks without a duration: each waits until it is updated."""
    client.register({"name": name, "tasks": [{"name": r, "taskReferenceName": r, "type": "WAIT"} for r in references]})
    return name


def one_simple(client: PodiumClient, name: str, task_type: str) -> str:
    client.register({"name": name, "tasks": [{"name": task_type, "taskReferenceName": "only", "type": "SIMPLE"}]})
    return name


# -- TaskResource -----------------------------------------------------------------------------


def test_update_by_reference_sync_answers_the_workflow_after_the_update(
    client: PodiumClient, task_client: TaskClient, uid: str
) -> None:
    name = waits(client, f"sync_ref_{uid}", "first", "second")
    workflow_id = client.start(name)
    client.wait(workflow_id, {"RUNNING"})

    # The SDK sends its host name as `workerid` (it cannot be given another).
    workflow = task_client.update_task_sync(workflow_id, "first", "COMPLETED", {"ok": 1})

    assert workflow.workflow_id == workflow_id and workflow.status == "RUNNING"
    first = next(t for t in workflow.tasks if t.reference_task_name == "first")
    assert (first.status, first.output_data, first.worker_id) == ("COMPLETED", {"ok": 1}, socket.gethostname())
    assert next(t for t in workflow.tasks if t.reference_task_name == "second").status == "IN_PROGRESS"
    ended = task_client.update_task_sync(workflow_id, "second", "COMPLETED", "plain")
    assert ended.status == "COMPLETED"
    assert next(t for t in ended.tasks if t.reference_task_name == "second").output_data == {"result": "plain"}


def test_update_by_reference_sync_refuses_what_it_cannot_update(client: PodiumClient, uid: str) -> None:
    name = waits(client, f"sync_ref_bad_{uid}", "only")
    workflow_id = client.start(name)
    client.wait(workflow_id, {"RUNNING"})

    response = client.request("POST", f"/tasks/{workflow_id}/nope/COMPLETED/sync", json={})
    assert_error(response, 404, f"Found no running task nope of workflow {workflow_id} to update")
    unknown = f"missing-{uid}"
    response = client.request("POST", f"/tasks/{unknown}/only/COMPLETED/sync", json={})
    assert_error(response, 404, f"Workflow with id: {unknown} not found.")
    response = client.request("POST", f"/tasks/{workflow_id}/only/DONE/sync", json={})
    assert_error(response, 400, "Unknown task status 'DONE'")
    response = client.request("POST", f"/tasks/{workflow_id}/only/COMPLETED/sync", json=[1])
    assert_error(response, 400, "The task output must be a JSON object, got list")
    assert client.workflow(workflow_id)["status"] == "RUNNING"


def test_update_by_reference_answers_an_empty_body_once_nothing_is_pending(
    client: PodiumClient, task_client: TaskClient, uid: str
) -> None:
    name = waits(client, f"async_ref_{uid}", "only")
    workflow_id = client.start(name)
    waiting = client.wait(workflow_id, {"RUNNING"})

    task_id = task_client.update_task_by_ref_name(workflow_id, "only", "COMPLETED", "done")
    assert task_id == task_of(waiting, "only")["taskId"]
    workflow = client.wait(workflow_id)
    assert task_of(workflow, "only")["outputData"] == {"result": "done"}
    again = client.request("POST", f"/tasks/{workflow_id}/only/COMPLETED", json={})
    assert (again.status_code, again.text) == (200, "")


def test_update_by_reference_finds_the_task_of_the_current_loop_iteration(client: PodiumClient, uid: str) -> None:
    name = f"loop_ref_{uid}"
    loop = {
        "name": "loop",
        "taskReferenceName": "loop",
        "type": "DO_WHILE",
        "loopCondition": "if ($.loop['iteration'] < 2) { true; } else { false; }",
        "loopOver": [{"name": "gate", "taskReferenceName": "gate", "type": "WAIT"}],
    }
    client.register({"name": name, "tasks": [loop]})
    workflow_id = client.start(name)
    client.wait(workflow_id, {"RUNNING"})

    for iteration in (1, 2):
        workflow = client.ok("POST", f"/tasks/{workflow_id}/gate/COMPLETED/sync", json={"i": iteration})
        assert task_of(workflow, f"gate__{iteration}")["outputData"] == {"i": iteration}
    assert client.wait(workflow_id)["status"] == "COMPLETED"


def test_queue_size_counts_one_queue_by_type_and_domain(client: PodiumClient, uid: str) -> None:
    task_type = f"qsize_{uid}"
    name = one_simple(client, f"qsize_wf_{uid}", task_type)
    for workflow_id in [client.start(name), client.start(name), client.start(name, taskToDomain={task_type: "blue"})]:
        client.wait(workflow_id, {"RUNNING"})

    assert client.ok("GET", "/tasks/queue/size", params={"taskType": task_type}) == 2
    assert client.ok("GET", "/tasks/queue/size", params={"taskType": task_type, "domain": "blue"}) == 1
    assert client.ok("GET", "/tasks/queue/size", params={"taskType": task_type, "isolationGroupId": "g1"}) == 0
    assert client.ok("GET", "/tasks/queue/size", params={"taskType": f"none_{uid}"}) == 0
    assert_error(client.request("GET", "/tasks/queue/size"), 400, "Query parameter 'taskType' is required")


def test_external_storage_location_answers_a_path_as_conductor_s_default_storage(
    client: PodiumClient, task_client: TaskClient
) -> None:
    api: TaskResourceApi = task_client.taskResourceApi  # type: ignore[attr-defined]
    location = api.get_external_storage_location1("workflow/input/", "WRITE", "WORKFLOW_INPUT")
    assert location.path.startswith("workflow/input/") and location.path.endswith(".json")
    assert location.uri is None
    params = {"path": "p", "operation": "read", "payloadType": "task_output"}
    assert client.ok("GET", "/tasks/external-storage-location", params=params)["path"].startswith("p")

    bad = client.request(
        "GET",
        "/tasks/externalstoragelocation",
        params={"path": "p", "operation": "DELETE", "payloadType": "TASK_OUTPUT"},
    )
    assert_error(bad, 400, "Invalid input - Operation: DELETE, PayloadType: TASK_OUTPUT")
    missing = client.request("GET", "/tasks/externalstoragelocation", params={"path": "p", "operation": "READ"})
    assert_error(missing, 400, "Query parameter 'payloadType' is required")


def test_unknown_tasks_answer_conductor_s_texts(client: PodiumClient, task_client: TaskClient, uid: str) -> None:
    task_id = f"no-task-{uid}"
    with pytest.raises(ApiException) as raised:
        task_client.get_task(task_id)
    assert raised.value.status == 404
    assert_error(client.request("GET", f"/tasks/{task_id}"), 404, f"Task not found for taskId: {task_id}")
    result = {"workflowInstanceId": f"wf-{uid}", "taskId": task_id, "status": "COMPLETED"}
    assert_error(client.request("POST", "/tasks", json=result), 404, f"Workflow with id: wf-{uid} not found.")

    name = waits(client, f"unknown_task_{uid}", "only")
    workflow_id = client.start(name)
    client.wait(workflow_id, {"RUNNING"})
    result = {"workflowInstanceId": workflow_id, "taskId": task_id, "status": "COMPLETED"}
    assert_error(client.request("POST", "/tasks", json=result), 404, f"No such task found by id: {task_id}")


def test_task_logs_answer_204_until_there_are_some(client: PodiumClient, task_client: TaskClient, uid: str) -> None:
    name = waits(client, f"logs_{uid}", "only")
    workflow_id = client.start(name)
    task_id = task_of(client.wait(workflow_id, {"RUNNING"}), "only")["taskId"]

    empty = client.request("GET", f"/tasks/{task_id}/log")
    assert (empty.status_code, empty.content) == (204, b"")
    task_client.add_task_log(task_id, "first line")
    [entry] = task_client.get_task_logs(task_id)
    assert (entry.log, entry.task_id) == ("first line", task_id)


# -- MetadataResource ---------------------------------------------------------------------------


def test_workflow_names_and_versions_are_not_taken_for_a_definition_name(
    client: PodiumClient, metadata_client: MetadataClient, uid: str
) -> None:
    name = f"named_{uid}"
    for version in (2, 1):
        client.register(
            {"name": name, "version": version, "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]}
        )

    names = client.ok("GET", "/metadata/workflow/names")
    assert name in names and names == sorted(set(names))
    versions = client.ok("GET", f"/metadata/workflow/{name}/versions")
    assert [(v["name"], v["version"]) for v in versions] == [(name, 1), (name, 2)]
    assert all(v["createTime"] > 0 and set(v) == {"name", "version", "createTime"} for v in versions)
    assert client.ok("GET", f"/metadata/workflow/unknown_{uid}/versions") == []
    assert metadata_client.get_workflow_def(name).version == 2


def test_registering_an_existing_version_is_a_conflict_unless_overwrite(
    client: PodiumClient, metadata_client: MetadataClient, uid: str
) -> None:
    name = f"conflict_{uid}"
    definition = {"name": name, "version": 1, "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]}
    client.ok("POST", "/metadata/workflow", json=definition)

    response = client.request("POST", "/metadata/workflow", json={**definition, "description": "again"})
    assert_error(response, 409, f"Workflow with {name}.1 already exists!")
    noop = WorkflowTask(name="n", task_reference_name="n", type="NOOP")
    sdk_definition = WorkflowDef(name=name, version=1, tasks=[noop], description="from the SDK")
    with pytest.raises(ApiException) as raised:
        metadata_client.register_workflow_def(sdk_definition, overwrite=False)
    assert raised.value.status == 409
    assert "description" not in client.ok("GET", f"/metadata/workflow/{name}")
    client.ok("POST", "/metadata/workflow", json={**definition, "description": "again"}, params={"overwrite": "true"})
    assert client.ok("GET", f"/metadata/workflow/{name}")["description"] == "again"
    client.ok("POST", "/metadata/workflow", json={**definition, "version": 2})  # a new version needs no overwrite


def test_workflow_definitions_can_be_listed_by_classifier(client: PodiumClient, uid: str) -> None:
    tasks = [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]
    plain, agent = f"plain_{uid}", f"agent_{uid}"
    client.register({"name": plain, "tasks": tasks})
    client.register({"name": agent, "tasks": tasks, "metadata": {"agent_sdk": "x"}})

    agents = {d["name"] for d in client.ok("GET", "/metadata/workflow", params={"classifier": "agent"})}
    workflows = {d["name"] for d in client.ok("GET", "/metadata/workflow", params={"classifier": "workflow"})}
    assert agent in agents and plain not in agents
    assert plain in workflows and agent not in workflows


def test_task_definitions_answer_conductor_s_texts_and_update_only_what_exists(
    client: PodiumClient, metadata_client: MetadataClient, uid: str
) -> None:
    name = f"taskdef_{uid}"
    with pytest.raises(ApiException) as raised:
        metadata_client.get_task_def(name)
    assert raised.value.status == 404
    assert_error(client.request("GET", f"/metadata/taskdefs/{name}"), 404, f"No such taskType found by name: {name}")
    assert_error(client.request("PUT", "/metadata/taskdefs", json={"name": name}), 404, f"No such task by name {name}")
    assert_error(
        client.request("DELETE", f"/metadata/taskdefs/{name}"), 404, "Cannot remove the task - no such task definition"
    )

    metadata_client.register_task_def(TaskDef(name=name, retry_count=1))
    created = client.ok("GET", f"/metadata/taskdefs/{name}")
    metadata_client.update_task_def(TaskDef(name=name, retry_count=4))
    updated = client.ok("GET", f"/metadata/taskdefs/{name}")
    assert updated["retryCount"] == 4
    assert updated["createTime"] == created["createTime"] and updated["updateTime"] >= created["createTime"]


# -- AdminResource --------------------------------------------------------------------------------


def test_admin_config_shows_the_settings_without_passwords(client: PodiumClient) -> None:
    config = client.ok("GET", "/admin/config")
    assert config["version"] == importlib.metadata.version("podium")
    assert config["PODIUM_PARTITIONS"] == 8 and config["PODIUM_SHARDS"] == 2
    assert all(":****@" in v or "@" not in v for v in config.values() if isinstance(v, str) and "://" in v)


def test_admin_lists_the_pending_tasks_of_a_type(client: PodiumClient, uid: str) -> None:
    task_type = f"pending_{uid}"
    name = one_simple(client, f"pending_wf_{uid}", task_type)
    started = [client.start(name) for _ in range(3)]
    for workflow_id in started:
        client.wait(workflow_id, {"RUNNING"})
    done = client.take(task_type)
    client.complete(done)
    client.wait(done["workflowInstanceId"])

    def pending(**params: Any) -> list[Json]:
        return list(client.ok("GET", f"/admin/task/{task_type}", params=params))

    tasks = pending()
    assert sorted(t["workflowInstanceId"] for t in tasks) == sorted(set(started) - {done["workflowInstanceId"]})
    assert all(t["taskType"] == task_type and t["status"] in ("SCHEDULED", "IN_PROGRESS") for t in tasks)
    assert [t["taskId"] for t in pending(start=1, count=1)] == [tasks[1]["taskId"]]
    assert_error(
        client.request("GET", f"/admin/task/{task_type}", params={"count": -1}),
        400,
        "count must be between 0 and 5000, got -1",
    )


def test_sweep_requeue_hands_a_polled_task_out_again(client: PodiumClient, uid: str) -> None:
    task_type = f"sweep_{uid}"
    workflow_id = client.start(one_simple(client, f"sweep_wf_{uid}", task_type))
    first = client.take(task_type)
    assert client.poll(task_type, timeout=0) == []

    assert client.ok("POST", f"/admin/sweep/requeue/{workflow_id}") == f"true.{workflow_id}"
    again = client.take(task_type)
    assert again["taskId"] == first["taskId"]
    assert client.ok("POST", f"/admin/consistency/verifyAndRepair/{workflow_id}") == "true"
    client.complete(client.take(task_type))
    client.wait(workflow_id)
    assert client.ok("POST", f"/admin/sweep/requeue/{workflow_id}") == f"false.{workflow_id}"
    assert client.ok("POST", f"/admin/consistency/verifyAndRepair/{workflow_id}") == "false"
    unknown = f"missing-{uid}"
    assert_error(
        client.request("POST", f"/admin/sweep/requeue/{unknown}"), 404, f"Workflow with id: {unknown} not found."
    )


def test_admin_queues_list_the_events_handlers_listen_to(client: PodiumClient, uid: str) -> None:
    event = f"conductor:admin_queues_{uid}"
    handler = {
        "name": f"admin_queues_{uid}",
        "event": event,
        "active": True,
        "actions": [{"action": "terminate_workflow", "terminate_workflow": {"workflowId": "${id}"}}],
    }
    client.ok("POST", "/event", json=handler)
    try:
        assert client.ok("GET", "/admin/queues")[event] == f"admin_queues_{uid}"
        verbose = client.ok("GET", "/admin/queues", params={"verbose": "true"})
        assert set(verbose[event]) == {f"admin_queues_{uid}"}
        assert verbose[event][f"admin_queues_{uid}"] >= 0
    finally:
        client.ok("DELETE", f"/event/{handler['name']}")
    assert event not in client.ok("GET", "/admin/queues")


# -- QueueAdminResource ---------------------------------------------------------------------------


def test_queue_admin_completes_and_fails_waiting_tasks(client: PodiumClient, uid: str) -> None:
    assert client.ok("GET", "/queue/") == {"COMPLETED": "podium_queue_COMPLETED", "FAILED": "podium_queue_FAILED"}
    assert client.ok("GET", "/queue/size") == {"podium_queue_COMPLETED": 0, "podium_queue_FAILED": 0}
    name = waits(client, f"queue_admin_{uid}", "gate", "last")
    workflow_id = client.start(name)
    client.wait(workflow_id, {"RUNNING"})

    response = client.request("POST", f"/queue/update/{workflow_id}/gate/COMPLETED", json={"by": "queue"})
    assert (response.status_code, response.content) == (200, b"")
    gate = task_of(client.workflow(workflow_id), "gate")
    assert gate["status"] == "COMPLETED" and gate["outputData"]["by"] == "queue"
    assert "gate" in gate["outputData"]["externalId"]
    last = task_of(client.wait(workflow_id, {"RUNNING"}), "last")
    eventually_last = client.request("POST", f"/queue/update/{workflow_id}/task/{last['taskId']}/FAILED", json={})
    assert eventually_last.status_code == 200
    assert client.wait(workflow_id)["status"] == "FAILED"

    bad = client.request("POST", f"/queue/update/{workflow_id}/gate/IN_PROGRESS", json={})
    assert_error(bad, 400, "There is no queue for handling IN_PROGRESS status")
    unknown = f"missing-{uid}"
    assert_error(
        client.request("POST", f"/queue/update/{unknown}/gate/COMPLETED", json={}),
        404,
        f"Workflow with id: {unknown} not found.",
    )


# -- health, version, environment -----------------------------------------------------------------


def test_health_has_conductor_s_shape_and_podium_s_shards(podium: Runtime) -> None:
    for path in ("/health", "/api/health"):
        health = requests.get(podium.api_url.removesuffix("/api") + path, timeout=10).json()
        assert health["healthy"] is True and health["suppressedHealthResults"] == []
        assert health["healthResults"] == [{"healthy": True, "details": {"name": "redis"}}]
        assert len(health["shards"]) == 2


def test_version_is_the_package_version_as_text(client: PodiumClient) -> None:
    response = client.request("GET", "/version")
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == importlib.metadata.version("podium")


def test_environment_lists_the_conductor_env_variables_the_gateway_inherited(client: PodiumClient, uid: str) -> None:
    # The gateway's Ray worker inherits the environment this test session started Ray with.
    inherited = sorted(
        (k.removeprefix("CONDUCTOR_ENV_"), v) for k, v in os.environ.items() if k.startswith("CONDUCTOR_ENV_")
    )
    assert client.ok("GET", "/environment") == [{"name": k, "value": v} for k, v in inherited]
    unset = client.request("GET", f"/environment/UNSET_{uid}")
    assert (unset.status_code, unset.text) == (200, "")


def test_secrets_list_names_only(client: PodiumClient) -> None:
    inherited = sorted(k.removeprefix("CONDUCTOR_SECRET_") for k in os.environ if k.startswith("CONDUCTOR_SECRET_"))
    assert client.ok("GET", "/secrets") == inherited
