"""conductor-python 2.0.0, unchanged, against Podium: metadata, workflows and its TaskHandler.

The SDK's TaskHandler runs each worker in its own (spawned) process that batch-polls
`GET /api/tasks/poll/batch/{type}` and reports through `POST /api/tasks/update-v2`.
The worker functions live at module level so the spawned processes can import them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.models.start_workflow_request import StartWorkflowRequest
from conductor.client.http.models.task_def import TaskDef
from conductor.client.http.models.workflow import Workflow
from conductor.client.http.models.workflow_def import WorkflowDef
from conductor.client.http.models.workflow_task import WorkflowTask
from conductor.client.metadata_client import MetadataClient
from conductor.client.orkes_clients import OrkesClients
from conductor.client.worker.worker import Worker
from conductor.client.workflow_client import WorkflowClient

from cluster.runtime import Runtime

WORKER_ID = "sdk-compat-worker"
LEFT, RIGHT, FINAL, IDLE = "sdk_left", "sdk_right", "sdk_final", "sdk_idle"
FORK_WORKFLOW = "sdk_fork_join"
IDLE_WORKFLOW = "sdk_idle_workflow"
TERMINAL = {"COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"}


def sdk_left(x: int) -> dict[str, Any]:
    return {"left": x * 2}


def sdk_right(x: int) -> dict[str, Any]:
    return {"right": x + 100}


def sdk_final(left: int, right: int) -> dict[str, Any]:
    return {"total": left + right, "parts": [left, right]}


@pytest.fixture(scope="module")
def configuration(podium: Runtime) -> Configuration:
    return Configuration(server_api_url=podium.api_url)


@pytest.fixture(scope="module")
def clients(configuration: Configuration) -> OrkesClients:
    return OrkesClients(configuration)


@pytest.fixture(scope="module")
def metadata_client(clients: OrkesClients) -> MetadataClient:
    return clients.get_metadata_client()


@pytest.fixture(scope="module")
def workflow_client(clients: OrkesClients) -> WorkflowClient:
    return clients.get_workflow_client()


def simple(name: str, reference: str, inputs: dict[str, Any]) -> WorkflowTask:
    return WorkflowTask(name=name, task_reference_name=reference, type="SIMPLE", input_parameters=inputs)


@pytest.fixture(scope="module")
def registered(metadata_client: MetadataClient) -> None:
    for name in (LEFT, RIGHT, FINAL, IDLE):
        metadata_client.register_task_def(
            TaskDef(name=name, retry_count=0, timeout_seconds=60, response_timeout_seconds=30, owner_email="t@podium.dev")
        )
    fork = WorkflowTask(
        name="fork",
        task_reference_name="fork",
        type="FORK_JOIN",
        fork_tasks=[
            [simple(LEFT, "left", {"x": "${workflow.input.x}"})],
            [simple(RIGHT, "right", {"x": "${workflow.input.x}"})],
        ],
    )
    join = WorkflowTask(name="join", task_reference_name="join", type="JOIN", join_on=["left", "right"])
    final = simple(FINAL, "final", {"left": "${left.output.left}", "right": "${right.output.right}"})
    metadata_client.register_workflow_def(
        WorkflowDef(
            name=FORK_WORKFLOW,
            version=1,
            tasks=[fork, join, final],
            output_parameters={
                "left": "${left.output.left}",
                "right": "${right.output.right}",
                "total": "${final.output.total}",
                "parts": "${final.output.parts}",
            },
            schema_version=2,
            owner_email="t@podium.dev",
            timeout_seconds=0,
        ),
        overwrite=True,
    )
    metadata_client.register_workflow_def(
        WorkflowDef(
            name=IDLE_WORKFLOW,
            version=1,
            tasks=[simple(IDLE, "idle", {})],
            schema_version=2,
            owner_email="t@podium.dev",
            timeout_seconds=0,
        ),
        overwrite=True,
    )


@pytest.fixture
def task_handler(configuration: Configuration) -> Iterator[TaskHandler]:
    workers = [
        Worker(task_definition_name=name, execute_function=function, poll_interval=50, worker_id=WORKER_ID)
        for name, function in ((LEFT, sdk_left), (RIGHT, sdk_right), (FINAL, sdk_final))
    ]
    handler = TaskHandler(
        workers=workers, configuration=configuration, scan_for_annotated_workers=False, monitor_processes=False
    )
    try:
        handler.start_processes()
        yield handler
    finally:
        handler.stop_processes()


def wait_for(workflow_client: WorkflowClient, workflow_id: str, statuses: set[str], timeout: float = 90.0) -> Workflow:
    deadline = time.monotonic() + timeout
    while True:
        workflow = workflow_client.get_workflow(workflow_id, include_tasks=True)
        if workflow.status in statuses:
            return workflow
        if time.monotonic() > deadline:
            raise AssertionError(f"workflow {workflow_id} still {workflow.status} after {timeout}s")
        time.sleep(0.1)


def test_sdk_task_handler_runs_fork_join_workflow(
    registered: None, workflow_client: WorkflowClient, task_handler: TaskHandler
) -> None:
    correlation_id = f"sdk-{uuid.uuid4()}"
    workflow_id = workflow_client.start_workflow(
        StartWorkflowRequest(name=FORK_WORKFLOW, version=1, input={"x": 5}, correlation_id=correlation_id)
    )
    assert isinstance(workflow_id, str) and workflow_id

    workflow = wait_for(workflow_client, workflow_id, TERMINAL)

    assert workflow.status == "COMPLETED", workflow.reason_for_incompletion
    assert workflow.output == {"left": 10, "right": 105, "total": 115, "parts": [10, 105]}
    assert workflow.workflow_id == workflow_id
    assert workflow.correlation_id == correlation_id
    assert workflow.input == {"x": 5}
    by_reference = {task.reference_task_name: task for task in workflow.tasks}
    assert set(by_reference) == {"fork", "left", "right", "join", "final"}
    assert all(task.status == "COMPLETED" for task in workflow.tasks)
    for reference in ("left", "right", "final"):
        # Done by the SDK's workers, not by anything inside Podium.
        assert by_reference[reference].worker_id == WORKER_ID
    assert by_reference["final"].input_data == {"left": 10, "right": 105}
    assert by_reference["final"].output_data == {"total": 115, "parts": [10, 105]}
    assert by_reference["join"].output_data == {"left": {"left": 10}, "right": {"right": 105}}


def test_sdk_get_workflow_by_id(registered: None, workflow_client: WorkflowClient) -> None:
    workflow_id = workflow_client.start_workflow(StartWorkflowRequest(name=IDLE_WORKFLOW, input={"k": "v"}))
    try:
        workflow = workflow_client.get_workflow(workflow_id, include_tasks=True)
        assert workflow.workflow_id == workflow_id
        assert workflow.workflow_name == IDLE_WORKFLOW
        assert workflow.workflow_version == 1
        assert workflow.status == "RUNNING"
        assert workflow.input == {"k": "v"}
        assert [task.reference_task_name for task in workflow.tasks] == ["idle"]
        assert workflow.tasks[0].task_def_name == IDLE
        assert workflow.tasks[0].status == "SCHEDULED"
    finally:
        workflow_client.terminate_workflow(workflow_id, reason="test cleanup")


def test_sdk_terminate_running_workflow(registered: None, workflow_client: WorkflowClient) -> None:
    workflow_id = workflow_client.start_workflow(StartWorkflowRequest(name=IDLE_WORKFLOW, input={}))
    assert wait_for(workflow_client, workflow_id, {"RUNNING"}).status == "RUNNING"

    workflow_client.terminate_workflow(workflow_id, reason="stopped by the SDK test")

    workflow = wait_for(workflow_client, workflow_id, TERMINAL)
    assert workflow.status == "TERMINATED"
    assert workflow.reason_for_incompletion == "stopped by the SDK test"
    assert [task.status for task in workflow.tasks] == ["CANCELED"]


def test_sdk_get_task_def(registered: None, metadata_client: MetadataClient) -> None:
    task_def = metadata_client.get_task_def(LEFT)
    assert task_def.name == LEFT
    assert task_def.retry_count == 0
    assert task_def.timeout_seconds == 60
    assert task_def.response_timeout_seconds == 30
    assert task_def.owner_email == "t@podium.dev"


def test_sdk_get_workflow_def(registered: None, metadata_client: MetadataClient) -> None:
    workflow_def = metadata_client.get_workflow_def(FORK_WORKFLOW, version=1)
    assert workflow_def.name == FORK_WORKFLOW
    assert [task.task_reference_name for task in workflow_def.tasks] == ["fork", "join", "final"]
    assert [[t.task_reference_name for t in branch] for branch in workflow_def.tasks[0].fork_tasks] == [
        ["left"],
        ["right"],
    ]
    assert workflow_def.tasks[1].join_on == ["left", "right"]
