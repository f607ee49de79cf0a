"""Workers for test_sdk_integration_suite.py, in the shapes conductor-python's own suite uses
(tests/integration/resources/worker/python in conductor-sdk/conductor-python): class workers,
with and without a domain, function workers taking a Task or plain input and answering a
TaskResult or a dict, and @WorkerTask-decorated functions found by the TaskHandler's scan.

No `from __future__ import annotations` here: the SDK reads the parameter annotations as
real types to decide what to hand each function.
"""

from conductor.client.http.models.task import Task
from conductor.client.http.models.task_result import TaskResult
from conductor.client.http.models.task_result_status import TaskResultStatus
from conductor.client.worker.worker_interface import WorkerInterface
from conductor.client.worker.worker_task import WorkerTask

TASK_NAME = "python_integration_test_task"
DECORATED_TASK = "test_python_decorated_worker"
CLASS_WORKER_DOMAIN = "simple_python_worker"


class ClassWorker(WorkerInterface):
    def __init__(self, task_definition_name: str) -> None:
        super().__init__(task_definition_name)
        self.poll_interval = 100.0

    def execute(self, task: Task) -> TaskResult:
        result = self.get_task_result_from_task(task)
        result.add_output_data("worker_style", "class")
        result.add_output_data("secret_number", 1234)
        result.add_output_data("is_it_true", False)
        result.status = TaskResultStatus.COMPLETED
        return result


class ClassWorkerWithDomain(ClassWorker):
    def __init__(self, task_definition_name: str) -> None:
        super().__init__(task_definition_name)
        self.domain = CLASS_WORKER_DOMAIN


@WorkerTask(task_definition_name=DECORATED_TASK, poll_interval=100.0)
def decorated_worker(obj: object) -> object:
    return {"worker_style": "function", "task_input": obj, "status": "COMPLETED"}


@WorkerTask(task_definition_name=DECORATED_TASK, domain="cool", poll_interval=100.0)
def decorated_worker_with_domain(obj: object) -> object:
    return {"worker_style": "function", "domain": "cool", "task_input": obj, "status": "COMPLETED"}


def worker_with_task_input_and_task_result_output(task: Task) -> TaskResult:
    result = TaskResult(task_id=task.task_id, workflow_instance_id=task.workflow_instance_id, worker_id="custom_id")
    result.add_output_data("worker_style", "function")
    result.add_output_data("worker_output", "TaskResult")
    result.status = TaskResultStatus.COMPLETED
    return result


def worker_with_task_input_and_generic_output(task: Task) -> object:
    return {"worker_style": "function", "worker_input": "Task", "task_id": task.task_id}


def worker_with_generic_input_and_task_result_output(obj: object) -> TaskResult:
    result = TaskResult(task_id="", workflow_instance_id="", worker_id="")
    result.add_output_data("worker_style", "function")
    result.add_output_data("worker_input", "object")
    result.status = TaskResultStatus.COMPLETED
    return result


def worker_with_generic_input_and_generic_output(obj: object) -> object:
    return {"worker_style": "function", "worker_input": "object", "input": obj}
