"""conductor-python 2.0.0, unchanged, against Podium: metadata, workflows and its TaskHandler.

The SDK's TaskHandler runs each worker in its own (spawned) process that batch-polls
`GET /api/tasks/poll/batch/{type}` and reports through `POST /api/tasks/update-v2`.
The worker functions live at module level so the spawned processes can import them.
This module does not use `from __future__ import annotations`: the SDK reads the
workers' parameter annotations as real types to convert their inputs.
"""

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.models.start_workflow_request import StartWorkflowRequest
from conductor.client.http.models.task_def import TaskDef
from conductor.client.http.models.task_result import TaskResult
from conductor.client.http.models.task_result_status import TaskResultStatus
from conductor.client.http.models.workflow import Workflow
from conductor.client.http.models.workflow_def import WorkflowDef
from conductor.client.http.models.workflow_task import WorkflowTask
from conductor.client.http.rest import ApiException
from conductor.client.metadata_client import MetadataClient
from conductor.client.orkes_clients import OrkesClients
from conductor.client.task_client import TaskClient
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


@pytest.fixture(scope="module")
def task_client(clients: OrkesClients) -> TaskClient:
    return clients.get_task_client()


def simple(name: str, reference: str, inputs: dict[str, Any]) -> WorkflowTask:
    return WorkflowTask(name=name, task_reference_name=reference, type="SIMPLE", input_parameters=inputs)


@pytest.fixture(scope="module")
def registered(metadata_client: MetadataClient) -> None:
    for name in (LEFT, RIGHT, FINAL, IDLE):
        metadata_client.register_task_def(
            TaskDef(
                name=name, retry_count=0, timeout_seconds=60, response_timeout_seconds=30, owner_email="t@podium.dev"
            )
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


def test_sdk_sees_conductor_errors(
    registered: None, workflow_client: WorkflowClient, metadata_client: MetadataClient
) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(ApiException) as lookup:
        workflow_client.get_workflow(missing)
    assert lookup.value.status == 404
    assert missing in lookup.value.message

    with pytest.raises(ApiException) as start:
        workflow_client.start_workflow(StartWorkflowRequest(name="sdk_no_such_workflow", input={}))
    assert start.value.status == 404
    assert "sdk_no_such_workflow" in start.value.message

    with pytest.raises(ApiException) as task_def:
        metadata_client.get_task_def("sdk_no_such_task")
    assert task_def.value.status == 404
    assert "sdk_no_such_task" in task_def.value.message


def test_sdk_task_client_round_trip(registered: None, workflow_client: WorkflowClient, task_client: TaskClient) -> None:
    """A hand-written worker loop on the SDK's TaskClient: poll, inspect, log, complete."""
    # Nothing queued: a 204, as from Conductor, which this SDK turns into an empty Task.
    nothing = task_client.poll_task("sdk_nobody_queues_this", worker_id="manual")
    assert nothing is None or nothing.task_id is None
    workflow_id = workflow_client.start_workflow(StartWorkflowRequest(name=IDLE_WORKFLOW, input={"n": 7}))

    task = None
    deadline = time.monotonic() + 30
    while task is None or task.workflow_instance_id != workflow_id:
        assert time.monotonic() < deadline, "the idle task was never handed out"
        polled = task_client.batch_poll_tasks(IDLE, worker_id="manual", count=10, timeout_in_millisecond=100)
        task = next((t for t in polled if t.workflow_instance_id == workflow_id), None)
        for other in polled:
            if other.workflow_instance_id != workflow_id:  # left over by an earlier test
                task_client.update_task(
                    TaskResult(
                        workflow_instance_id=other.workflow_instance_id,
                        task_id=other.task_id,
                        status=TaskResultStatus.COMPLETED,
                    )
                )
    assert task.input_data == {}
    assert task.reference_task_name == "idle"

    # The poll answers at once; the owning shard records IN_PROGRESS just after.
    deadline = time.monotonic() + 30
    while (fetched := task_client.get_task(task.task_id)).status == "SCHEDULED":
        assert time.monotonic() < deadline, "the polled task never became IN_PROGRESS"
        time.sleep(0.05)
    assert fetched.status == "IN_PROGRESS"
    assert fetched.worker_id == "manual"
    assert fetched.poll_count == 1

    task_client.add_task_log(task.task_id, "halfway there")
    assert [entry.log for entry in task_client.get_task_logs(task.task_id)] == ["halfway there"]

    updated = task_client.update_task(
        TaskResult(
            workflow_instance_id=workflow_id,
            task_id=task.task_id,
            status=TaskResultStatus.COMPLETED,
            output_data={"done": True},
            worker_id="manual",
        )
    )
    assert updated == task.task_id
    workflow = wait_for(workflow_client, workflow_id, TERMINAL)
    assert workflow.status == "COMPLETED"
    assert workflow.tasks[0].output_data == {"done": True}


def test_sdk_pause_resume_and_status(registered: None, workflow_client: WorkflowClient) -> None:
    workflow_id = workflow_client.start_workflow(StartWorkflowRequest(name=IDLE_WORKFLOW, correlation_id="sdk-pr"))
    try:
        workflow_client.pause_workflow(workflow_id)
        status = workflow_client.get_workflow_status(workflow_id, include_output=True, include_variables=True)
        assert (status.workflow_id, status.status, status.correlation_id) == (workflow_id, "PAUSED", "sdk-pr")
        workflow_client.resume_workflow(workflow_id)
        assert workflow_client.get_workflow_status(workflow_id).status == "RUNNING"
    finally:
        workflow_client.terminate_workflow(workflow_id, reason="test cleanup")
    workflow_client.remove_workflow(workflow_id)
    with pytest.raises(ApiException) as removed:
        workflow_client.get_workflow(workflow_id)
    assert removed.value.status == 404
