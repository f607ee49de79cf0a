"""conductor-python 2.0.0, unchanged, drives the lifecycle operations against Podium:
restart, retry, rerun and skip through its workflow client, bulk terminate through its
WorkflowBulkResourceApi. Each test checks what the operation did to the execution."""

from __future__ import annotations

import time
import uuid

import pytest
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.api.workflow_bulk_resource_api import WorkflowBulkResourceApi
from conductor.client.http.api_client import ApiClient
from conductor.client.http.models.rerun_workflow_request import RerunWorkflowRequest
from conductor.client.http.models.skip_task_request import SkipTaskRequest
from conductor.client.http.models.start_workflow_request import StartWorkflowRequest
from conductor.client.http.models.task import Task
from conductor.client.http.models.task_def import TaskDef
from conductor.client.http.models.task_result import TaskResult
from conductor.client.http.models.task_result_status import TaskResultStatus
from conductor.client.http.models.workflow import Workflow
from conductor.client.http.models.workflow_def import WorkflowDef
from conductor.client.http.models.workflow_task import WorkflowTask
from conductor.client.http.rest import ApiException
from conductor.client.orkes_clients import OrkesClients
from conductor.client.task_client import TaskClient
from conductor.client.workflow_client import WorkflowClient

from cluster.runtime import Runtime

TERMINAL = {"COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"}
DEADLINE_SECONDS = 60.0
WORKER_ID = "sdk-lifecycle"


class Steps:
    """A workflow `a -> b -> c` of SIMPLE tasks, each of its own type (retryCount 0)."""

    def __init__(self, clients: OrkesClients, uid: str) -> None:
        self.workflows: WorkflowClient = clients.get_workflow_client()
        self.tasks: TaskClient = clients.get_task_client()
        self.name = f"sdk_lifecycle_{uid}"
        self.types = {ref: f"sdk_lc_{ref}_{uid}" for ref in ("a", "b", "c")}
        metadata = clients.get_metadata_client()
        for task_type in self.types.values():
            metadata.register_task_def(TaskDef(name=task_type, retry_count=0, owner_email="t@podium.dev"))
        inputs = {"a": {"n": "${workflow.input.n}"}, "b": {"prev": "${a.output.v}"}, "c": {"prev": "${b.output.v}"}}
        metadata.register_workflow_def(
            WorkflowDef(
                name=self.name,
                version=1,
                tasks=[
                    WorkflowTask(name=self.types[r], task_reference_name=r, type="SIMPLE", input_parameters=inputs[r])
                    for r in ("a", "b", "c")
                ],
                output_parameters={"result": "${c.output.v}"},
                schema_version=2,
                owner_email="t@podium.dev",
                timeout_seconds=0,
            ),
            overwrite=True,
        )

    def start(self, n: int = 1) -> str:
        return str(self.workflows.start_workflow(StartWorkflowRequest(name=self.name, version=1, input={"n": n})))

    def get(self, workflow_id: str) -> Workflow:
        return self.workflows.get_workflow(workflow_id, include_tasks=True)

    def wait(self, workflow_id: str, statuses: set[str] = TERMINAL) -> Workflow:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while (workflow := self.get(workflow_id)).status not in statuses:
            assert time.monotonic() < deadline, f"workflow {workflow_id} still {workflow.status}"
            time.sleep(0.05)
        return workflow

    def poll(self, reference: str) -> Task:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            polled = self.tasks.batch_poll_tasks(
                self.types[reference], worker_id=WORKER_ID, count=1, timeout_in_millisecond=100
            )
            if polled:
                return polled[0]
            assert time.monotonic() < deadline, f"no '{self.types[reference]}' task to poll"

    def report(self, task: Task, output: dict[str, object], status: TaskResultStatus) -> None:
        self.tasks.update_task(
            TaskResult(
                workflow_instance_id=task.workflow_instance_id,
                task_id=task.task_id,
                status=status,
                output_data=output,
                worker_id=WORKER_ID,
            )
        )

    def complete(self, reference: str, output: dict[str, object] | None = None) -> Task:
        task = self.poll(reference)
        self.report(task, output if output is not None else {"v": reference}, TaskResultStatus.COMPLETED)
        return task

    def fail(self, reference: str) -> Task:
        task = self.poll(reference)
        self.report(task, {}, TaskResultStatus.FAILED)
        return task

    def finish(self, workflow_id: str, *references: str) -> Workflow:
        for reference in references:
            self.complete(reference, {"v": "done"})
        return self.wait(workflow_id)


def by_reference(workflow: Workflow, reference: str) -> list[Task]:
    return [task for task in workflow.tasks if task.reference_task_name == reference]


@pytest.fixture(scope="module")
def configuration(podium: Runtime) -> Configuration:
    return Configuration(server_api_url=podium.api_url)


@pytest.fixture(scope="module")
def clients(configuration: Configuration) -> OrkesClients:
    return OrkesClients(configuration)


@pytest.fixture
def steps(clients: OrkesClients) -> Steps:
    return Steps(clients, uuid.uuid4().hex[:10])


def test_sdk_restart(steps: Steps) -> None:
    workflow_id = steps.start(n=3)
    first = steps.complete("a", {"v": 1})
    steps.workflows.terminate_workflow(workflow_id, reason="stopped by the SDK")
    assert steps.wait(workflow_id).status == "TERMINATED"

    other = steps.start()
    with pytest.raises(ApiException) as running:
        steps.workflows.restart_workflow(other)
    assert running.value.status == 409
    assert other in running.value.message
    steps.workflows.terminate_workflow(other)  # or a poll below could hand out its task

    steps.workflows.restart_workflow(workflow_id)

    restarted = steps.get(workflow_id)
    assert restarted.workflow_id == workflow_id
    assert restarted.status == "RUNNING"
    assert [task.reference_task_name for task in restarted.tasks] == ["a"]
    assert restarted.tasks[0].status == "SCHEDULED"
    assert restarted.tasks[0].task_id != first.task_id
    finished = steps.finish(workflow_id, "a", "b", "c")
    assert finished.status == "COMPLETED"
    assert finished.output == {"result": "done"}


def test_sdk_retry(steps: Steps) -> None:
    workflow_id = steps.start()
    steps.complete("a", {"v": 1})
    failed = steps.fail("b")
    assert steps.wait(workflow_id).status == "FAILED"

    steps.workflows.retry_workflow(workflow_id)

    retried = steps.get(workflow_id)
    assert retried.status == "RUNNING"
    old, new = by_reference(retried, "b")
    assert (old.task_id, old.status) == (failed.task_id, "FAILED")
    assert new.status == "SCHEDULED"
    assert new.retry_count == old.retry_count + 1
    assert new.retried_task_id == old.task_id
    assert steps.finish(workflow_id, "b", "c").status == "COMPLETED"


def test_sdk_rerun_from_a_task(steps: Steps) -> None:
    workflow_id = steps.start()
    assert steps.finish(workflow_id, "a", "b", "c").status == "COMPLETED"
    [second] = by_reference(steps.get(workflow_id), "b")

    answered = steps.workflows.rerun_workflow(
        workflow_id, RerunWorkflowRequest(re_run_from_task_id=second.task_id, task_input={"prev": 42})
    )

    assert answered == workflow_id
    rerun = steps.get(workflow_id)
    assert rerun.status == "RUNNING"
    assert [task.reference_task_name for task in rerun.tasks] == ["a", "b"]
    assert rerun.tasks[1].status == "SCHEDULED"
    polled = steps.poll("b")
    assert polled.input_data["prev"] == 42
    steps.report(polled, {"v": "again"}, TaskResultStatus.COMPLETED)
    finished = steps.finish(workflow_id, "c")
    assert finished.status == "COMPLETED"
    assert by_reference(finished, "c")[0].input_data == {"prev": "again"}


def test_sdk_skip_task(steps: Steps) -> None:
    workflow_id = steps.start()

    # The SDK sends the request as a `skipTaskRequest` query parameter, not as a body.
    steps.workflows.skip_task_from_workflow(
        workflow_id, "b", SkipTaskRequest(task_input={"why": "sdk"}, task_output={"v": "skipped"})
    )

    [skipped] = by_reference(steps.get(workflow_id), "b")
    assert skipped.status == "SKIPPED"
    assert skipped.input_data == {"why": "sdk"}
    assert skipped.output_data == {"v": "skipped"}
    steps.complete("a", {"v": 1})
    last = steps.poll("c")
    assert last.input_data == {"prev": "skipped"}
    steps.report(last, {"v": "end"}, TaskResultStatus.COMPLETED)
    finished = steps.wait(workflow_id)
    assert finished.status == "COMPLETED"
    assert [(t.reference_task_name, t.status) for t in finished.tasks] == [
        ("a", "COMPLETED"),
        ("b", "SKIPPED"),
        ("c", "COMPLETED"),
    ]


def test_sdk_bulk_terminate(steps: Steps, configuration: Configuration) -> None:
    ids = [steps.start(), steps.start()]
    unknown = str(uuid.uuid4())

    response = WorkflowBulkResourceApi(ApiClient(configuration)).terminate([*ids, unknown], reason="bulk by the SDK")

    assert response.bulk_successful_results == ids
    assert list(response.bulk_error_results) == [unknown]
    assert unknown in response.bulk_error_results[unknown]
    for workflow_id in ids:
        workflow = steps.wait(workflow_id)
        assert workflow.status == "TERMINATED"
        assert workflow.reason_for_incompletion == "bulk by the SDK"
        assert [task.status for task in workflow.tasks] == ["CANCELED"]
