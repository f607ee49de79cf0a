"""Priorities and idempotent starts, driven through the conductor-python SDK unchanged."""

import uuid

import pytest
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.models.start_workflow_request import StartWorkflowRequest
from conductor.client.http.models.task_def import TaskDef
from conductor.client.http.models.workflow_def import WorkflowDef
from conductor.client.http.models.workflow_task import WorkflowTask
from conductor.client.http.rest import ApiException
from conductor.client.orkes_clients import OrkesClients

from cluster.runtime import Runtime
from tests.integration.client import PodiumClient


@pytest.fixture(scope="module")
def clients(podium: Runtime) -> OrkesClients:
    return OrkesClients(Configuration(server_api_url=podium.api_url))


def _register_one_task_workflow(clients: OrkesClients, name: str, task_type: str) -> None:
    metadata = clients.get_metadata_client()
    metadata.register_task_def(TaskDef(name=task_type, retry_count=0))
    workflow = WorkflowDef(
        name=name, version=1, tasks=[WorkflowTask(name=task_type, task_reference_name="only", type="SIMPLE")]
    )
    metadata.register_workflow_def(workflow, overwrite=True)


def test_workers_receive_higher_priority_tasks_first(clients: OrkesClients, client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:8]
    name, task_type = f"prio_wf_{uid}", f"prio_{uid}"
    _register_one_task_workflow(clients, name, task_type)
    workflows = clients.get_workflow_client()
    # Started low priority first: 1 is the highest, 99 the lowest, 0 (none) after them all.
    started = {}
    for priority in (0, 99, 50, 1):
        started[priority] = workflows.start_workflow(
            StartWorkflowRequest(name=name, version=1, input={"p": priority}, priority=priority)
        )
    for workflow_id in started.values():
        client.wait(workflow_id, {"RUNNING"})

    task_client = clients.get_task_client()
    tasks = task_client.batch_poll_tasks(task_type, worker_id="prio", count=10, timeout_in_millisecond=500)
    assert [task.workflow_instance_id for task in tasks] == [started[p] for p in (1, 50, 99, 0)]


def test_idempotency_key_return_existing_answers_the_first_execution(clients: OrkesClients) -> None:
    uid = uuid.uuid4().hex[:8]
    name, task_type = f"idem_wf_{uid}", f"idem_{uid}"
    _register_one_task_workflow(clients, name, task_type)
    workflows = clients.get_workflow_client()

    def start(strategy: str) -> str:
        request = StartWorkflowRequest(name=name, version=1, input={})
        request.idempotency_key = f"order-{uid}"
        request.idempotency_strategy = strategy
        return workflows.start_workflow(request)

    first = start("RETURN_EXISTING")
    assert start("RETURN_EXISTING") == first
    with pytest.raises(ApiException) as refused:
        start("FAIL")
    assert refused.value.status == 409
    assert first in str(refused.value.body)
    assert workflows.get_workflow(first, include_tasks=False).idempotency_key == f"order-{uid}"


def test_idempotency_fail_on_running_starts_again_once_the_first_ended(clients: OrkesClients) -> None:
    uid = uuid.uuid4().hex[:8]
    name, task_type = f"idem_run_wf_{uid}", f"idem_run_{uid}"
    _register_one_task_workflow(clients, name, task_type)
    workflows = clients.get_workflow_client()

    def start() -> str:
        request = StartWorkflowRequest(name=name, version=1, input={})
        request.idempotency_key = f"job-{uid}"
        request.idempotency_strategy = "FAIL_ON_RUNNING"
        return workflows.start_workflow(request)

    first = start()
    with pytest.raises(ApiException) as refused:
        start()
    assert refused.value.status == 409
    workflows.terminate_workflow(first, reason="make room")
    second = start()
    assert second != first


def test_an_unknown_idempotency_strategy_is_a_bad_request(client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:8]
    response = client.request(
        "POST",
        "/workflow",
        json={"name": f"nope_{uid}", "idempotencyKey": "k", "idempotencyStrategy": "SOMETIMES"},
    )
    # The definition is looked up first: an unknown name is a 404 whatever the strategy.
    assert response.status_code == 404
    client.register({"name": f"nope_{uid}", "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]})
    response = client.request(
        "POST",
        "/workflow",
        json={"name": f"nope_{uid}", "idempotencyKey": "k", "idempotencyStrategy": "SOMETIMES"},
    )
    assert response.status_code == 400
    assert "idempotencyStrategy" in response.json()["message"]


def test_task_to_domain_routes_tasks_to_the_domain_queue(clients: OrkesClients, client: PodiumClient) -> None:
    uid = uuid.uuid4().hex[:8]
    name, task_type = f"domain_wf_{uid}", f"domain_{uid}"
    _register_one_task_workflow(clients, name, task_type)
    workflows, tasks = clients.get_workflow_client(), clients.get_task_client()

    in_domain = workflows.start_workflow(
        StartWorkflowRequest(name=name, version=1, input={}, task_to_domain={task_type: f"blue{uid}"})
    )
    # Nobody polls "red": the list falls back to its last entry, NO_DOMAIN, the plain queue.
    fallback = workflows.start_workflow(
        StartWorkflowRequest(name=name, version=1, input={}, task_to_domain={"*": f"red{uid},NO_DOMAIN"})
    )
    for workflow_id in (in_domain, fallback):
        client.wait(workflow_id, {"RUNNING"})

    plain = tasks.batch_poll_tasks(task_type, worker_id="w", count=10, timeout_in_millisecond=200)
    assert [task.workflow_instance_id for task in plain] == [fallback]
    blue = tasks.batch_poll_tasks(task_type, worker_id="w", count=10, timeout_in_millisecond=200, domain=f"blue{uid}")
    assert [task.workflow_instance_id for task in blue] == [in_domain]
    assert blue[0].domain == f"blue{uid}"


@pytest.mark.parametrize("strategy", ["RETURN_EXISTING", "FAIL"])
def test_a_key_claimed_by_a_start_that_never_got_written_starts_that_workflow(
    podium: Runtime, client: PodiumClient, strategy: str
) -> None:
    """A gateway killed between claiming the key and starting the workflow leaves the key
    naming an execution that does not exist; the client's retry must start it, not answer
    an id that is a 404 (found by `make chaos`)."""
    import redis

    from cluster.store import Keys

    uid = uuid.uuid4().hex[:8]
    name = f"claimed_{uid}"
    client.register({"name": name, "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]})
    never_written = str(uuid.uuid4())
    with redis.Redis.from_url(podium.redis_url) as direct:
        direct.set(Keys.idempotency(name, "key-1"), never_written)
    response = client.request(
        "POST", "/workflow", json={"name": name, "idempotencyKey": "key-1", "idempotencyStrategy": strategy}
    )
    assert response.status_code == 200, response.text
    assert response.text == never_written
    assert client.wait(never_written, {"COMPLETED"})["status"] == "COMPLETED"
