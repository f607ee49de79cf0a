"""Our copy of conductor-python's own integration suite (its `tests/integration`), the
scenarios that use Conductor OSS features, driven by the SDK's public API against Podium.

From the SDK's workflow/test_workflow_execution.py: workflows by correlation ids,
registration, six workflows done by the SDK's TaskHandler workers, decorated workers with
and without a domain, `execute` with each consistency and return strategy, and the signal
API with each return strategy. From metadata/test_workflow_definition.py: the kitchensink
workflow (ending in a FORK without a JOIN). From client/orkes/test_orkes_clients.py, the
OSS parts: the workflow definition and execution lifecycle, the task definition and task
execution lifecycle, the scheduler lifecycle and the mocked unit test of a workflow
(`POST /workflow/test`). Left out: Orkes-only clients (secrets, applications, users,
groups, permissions, tags, schemas, prompts, integrations) and the two `test_async` cases,
which need a task definition the suite never creates.

The SDK suite's signal workflows use Orkes' YIELD task and an httpbin host; ours block on
WAIT tasks (what Conductor OSS signals) and call Podium's own /health.
"""

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.models import SkipTaskRequest, StartWorkflowRequest, TaskDef
from conductor.client.http.models.save_schedule_request import SaveScheduleRequest
from conductor.client.http.models.task_result import TaskResult
from conductor.client.http.models.task_result_status import TaskResultStatus
from conductor.client.http.models.workflow_def import WorkflowDef
from conductor.client.http.models.workflow_test_request import WorkflowTestRequest
from conductor.client.http.rest import ApiException
from conductor.client.orkes_clients import OrkesClients
from conductor.client.worker.worker import Worker
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.executor.workflow_executor import WorkflowExecutor
from conductor.client.workflow.task.do_while_task import LoopTask
from conductor.client.workflow.task.fork_task import ForkTask
from conductor.client.workflow.task.http_task import HttpInput, HttpTask
from conductor.client.workflow.task.join_task import JoinTask
from conductor.client.workflow.task.json_jq_task import JsonJQTask
from conductor.client.workflow.task.set_variable_task import SetVariableTask
from conductor.client.workflow.task.simple_task import SimpleTask
from conductor.client.workflow.task.sub_workflow_task import InlineSubWorkflowTask, SubWorkflowTask
from conductor.client.workflow.task.switch_task import SwitchTask
from conductor.client.workflow.task.terminate_task import TerminateTask, WorkflowStatus
from conductor.client.workflow.task.wait_task import WaitTask

from cluster.runtime import Runtime
from tests.integration import sdk_suite_workers as workers
from tests.integration.sdk_suite_workers import DECORATED_TASK, TASK_NAME

SUFFIX = uuid.uuid4().hex[:8]
WORKFLOW_NAME = "sdk_python_integration_test_workflow"
WORKFLOW_VERSION = 1234
OWNER = "test@test"
TERMINAL = {"COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"}
COMPLEX_WF = f"complex_wf_signal_test_{SUFFIX}"
SUB_WF_1 = f"complex_wf_signal_test_subworkflow_1_{SUFFIX}"
SUB_WF_2 = f"complex_wf_signal_test_subworkflow_2_{SUFFIX}"


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def configuration(podium: Runtime) -> Configuration:
    return Configuration(server_api_url=podium.api_url)


@pytest.fixture(scope="module")
def executor(configuration: Configuration) -> WorkflowExecutor:
    return WorkflowExecutor(configuration)


@pytest.fixture(scope="module")
def clients(configuration: Configuration) -> OrkesClients:
    return OrkesClients(configuration)


@pytest.fixture(scope="module")
def task_handler(configuration: Configuration) -> Iterator[TaskHandler]:
    """The suite's workers: class workers (one in a domain), function workers, decorated ones."""
    functions = (
        workers.worker_with_generic_input_and_generic_output,
        workers.worker_with_generic_input_and_task_result_output,
        workers.worker_with_task_input_and_generic_output,
        workers.worker_with_task_input_and_task_result_output,
    )
    handler = TaskHandler(
        workers=[
            workers.ClassWorker(TASK_NAME),
            workers.ClassWorkerWithDomain(TASK_NAME),
            *(Worker(task_definition_name=TASK_NAME, execute_function=f, poll_interval=100.0) for f in functions),
        ],
        configuration=configuration,
        scan_for_annotated_workers=True,
        import_modules=["tests.integration.sdk_suite_workers"],
        monitor_processes=False,
    )
    handler.start_processes()
    try:
        yield handler
    finally:
        handler.stop_processes()


def generate_workflow(
    executor: WorkflowExecutor, name: str = WORKFLOW_NAME, task: str = TASK_NAME
) -> ConductorWorkflow:
    return (
        ConductorWorkflow(
            executor=executor, name=name, description="Python SDK Integration Test", version=WORKFLOW_VERSION
        )
        .owner_email(OWNER)
        .add(SimpleTask(task_def_name=task, task_reference_name=task))
    )


@pytest.fixture(scope="module")
def registered(executor: WorkflowExecutor) -> ConductorWorkflow:
    workflow = generate_workflow(executor)
    workflow.register(overwrite=True)
    return workflow


def wait_for(executor: WorkflowExecutor, workflow_id: str, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = executor.get_workflow(workflow_id, include_tasks=False).status
        if status in TERMINAL or time.monotonic() > deadline:
            return str(status)
        time.sleep(0.1)


def assert_completed(executor: WorkflowExecutor, workflow_id: str) -> None:
    """The SDK suite's validate_workflow_status: the execution and its status summary agree."""
    assert wait_for(executor, workflow_id) == "COMPLETED"
    summary = executor.get_workflow_status(workflow_id, include_output=False, include_variables=False)
    assert summary.status == "COMPLETED"


# -- workflow/test_workflow_execution.py ------------------------------------------------------


def test_get_workflow_by_correlation_ids(executor: WorkflowExecutor, registered: ConductorWorkflow) -> None:
    correlation = f"corr-{SUFFIX}"
    workflow_id = executor.start_workflow(StartWorkflowRequest(name=WORKFLOW_NAME, correlation_id=correlation))
    try:
        found = executor.get_by_correlation_ids(WORKFLOW_NAME, [correlation, "2", "5", "1440"])
        assert set(found) == {correlation, "2", "5", "1440"}
        assert [w.workflow_id for w in found[correlation]] == [workflow_id]
    finally:
        executor.terminate(workflow_id, reason="test cleanup")


def test_workflow_registration(executor: WorkflowExecutor) -> None:
    workflow = generate_workflow(executor, name=f"sdk_registration_{SUFFIX}")
    with pytest.raises(ApiException) as missing:
        executor.metadata_client.unregister_workflow_def_with_http_info(workflow.name, workflow.version)
    assert missing.value.status == 404
    workflow.register(overwrite=True)
    executor.register_workflow(workflow.to_workflow_def(), overwrite=True)
    assert executor.metadata_client.get(workflow.name, version=WORKFLOW_VERSION).name == workflow.name


def test_workflow_execution(
    executor: WorkflowExecutor, registered: ConductorWorkflow, task_handler: TaskHandler
) -> None:
    workflow_ids = executor.start_workflows(*(StartWorkflowRequest(name=WORKFLOW_NAME) for _ in range(6)))
    assert len(set(workflow_ids)) == 6
    for workflow_id in workflow_ids:
        assert_completed(executor, workflow_id)


def test_decorated_workers(executor: WorkflowExecutor, task_handler: TaskHandler) -> None:
    workflow = generate_workflow(executor, name=f"TestPythonDecoratedWorkerWf_{SUFFIX}", task=DECORATED_TASK)
    workflow.register(True)
    plain = executor.start_workflow(StartWorkflowRequest(name=workflow.name))
    in_domain = executor.start_workflow(
        StartWorkflowRequest(name=workflow.name, task_to_domain={DECORATED_TASK: "cool"})
    )
    assert_completed(executor, plain)
    assert_completed(executor, in_domain)
    done_in_domain = executor.get_workflow(in_domain, include_tasks=True).tasks[0]
    assert done_in_domain.domain == "cool" and done_in_domain.output_data["domain"] == "cool"
    executor.metadata_client.unregister_workflow_def(workflow.name, workflow.version)


def test_execute_workflow_with_each_consistency_and_return_strategy(
    executor: WorkflowExecutor, registered: ConductorWorkflow, task_handler: TaskHandler
) -> None:
    runs = []
    for consistency, strategy in (
        (None, None),
        ("DURABLE", "BLOCKING_WORKFLOW"),
        ("SYNCHRONOUS", "BLOCKING_TASK_INPUT"),
    ):
        request = StartWorkflowRequest(name=WORKFLOW_NAME, version=WORKFLOW_VERSION, input={"test_input": strategy})
        run = executor.execute_workflow_with_return_strategy(
            request=request,
            wait_until_task_ref=TASK_NAME,
            wait_for_seconds=30,
            consistency=consistency,
            return_strategy=strategy,
        )
        assert run is not None
        assert run.response_type == (strategy or "TARGET_WORKFLOW")
        runs.append(run)
    original = executor.execute(
        name=WORKFLOW_NAME,
        version=WORKFLOW_VERSION,
        workflow_input={"test_input": "original_test"},
        wait_until_task_ref=TASK_NAME,
        wait_for_seconds=30,
    )
    assert original is not None
    for workflow_id in [run.workflow_id for run in runs] + [original.workflow_id]:
        assert_completed(executor, workflow_id)


def test_execute_workflow_error_handling(
    executor: WorkflowExecutor, registered: ConductorWorkflow, task_handler: TaskHandler
) -> None:
    request = StartWorkflowRequest(name=WORKFLOW_NAME, version=WORKFLOW_VERSION, input={"test_input": "error_test"})
    run = executor.execute_workflow_with_return_strategy(
        request=request, wait_until_task_ref=TASK_NAME, wait_for_seconds=5, consistency=None, return_strategy=None
    )
    assert_completed(executor, run.workflow_id)


# -- the signal API (run_signal_tests) ----------------------------------------------------------


@pytest.fixture(scope="module")
def signal_workflows(executor: WorkflowExecutor, podium: Runtime) -> None:
    health = HttpInput(uri=podium.api_url.rstrip("/") + "/health")
    definitions = []
    for name, then in ((SUB_WF_2, None), (SUB_WF_1, SUB_WF_2), (COMPLEX_WF, SUB_WF_1)):
        workflow = ConductorWorkflow(executor=executor, name=name, version=1).add(HttpTask("http_ref", health))
        if name != COMPLEX_WF:
            workflow.add(WaitTask(task_ref_name="simple_ref_1"))
        if then is not None:
            workflow.add(SubWorkflowTask(task_ref_name="sub_workflow_ref", workflow_name=then, version=1))
        definitions.append(workflow.to_workflow_def())
    for definition in definitions:
        executor.metadata_client.update1(body=[definition], overwrite=True)


def _blocked_wait(executor: WorkflowExecutor, workflow_id: str) -> bool:
    """Whether a WAIT task waits in the workflow or one of its running sub-workflows."""
    try:
        workflow = executor.get_workflow(workflow_id, include_tasks=True)
    except ApiException as error:
        if error.status == 404:  # a child named by its parent a moment before it is written
            return False
        raise
    for task in workflow.tasks or []:
        if task.task_type == "WAIT" and task.status == "IN_PROGRESS":
            return True
        child = task.sub_workflow_id if task.task_type == "SUB_WORKFLOW" and task.status == "IN_PROGRESS" else None
        if child and _blocked_wait(executor, child):
            return True
    return False


def _settle(executor: WorkflowExecutor, workflow_id: str) -> None:
    """Wait until the workflow blocks on a WAIT task or ends (where the SDK suite sleeps)."""
    deadline = time.monotonic() + 60
    while not _blocked_wait(executor, workflow_id):
        if executor.get_workflow(workflow_id, include_tasks=False).status in TERMINAL:
            return
        assert time.monotonic() < deadline, f"workflow {workflow_id} never reached a WAIT task"
        time.sleep(0.05)


def _start_complex(executor: WorkflowExecutor) -> str:
    workflow_id = executor.start_workflow(StartWorkflowRequest(name=COMPLEX_WF, version=1, input={}))
    assert workflow_id
    _settle(executor, workflow_id)
    return workflow_id


def _complete_workflow(executor: WorkflowExecutor, workflow_id: str) -> None:
    """The SDK suite's _complete_workflow: two asynchronous signals, then the end. With two WAIT
    tasks in the workflow and one signalled already, the second finds the workflow ended: Conductor
    OSS answers that signal 200 and does nothing."""
    _settle(executor, workflow_id)
    executor.signal_async(workflow_id=workflow_id, status="COMPLETED", body={"result": "signal1"})
    _settle(executor, workflow_id)
    executor.signal_async(workflow_id=workflow_id, status="COMPLETED", body={"result": "signal2"})
    assert wait_for(executor, workflow_id) == "COMPLETED"


@pytest.mark.parametrize("strategy", ["TARGET_WORKFLOW", "BLOCKING_WORKFLOW", "BLOCKING_TASK", "BLOCKING_TASK_INPUT"])
def test_signal_with_return_strategy(executor: WorkflowExecutor, signal_workflows: None, strategy: str) -> None:
    workflow_id = _start_complex(executor)
    response = executor.signal(
        workflow_id=workflow_id, status="COMPLETED", body={"result": strategy}, return_strategy=strategy
    )
    assert response is not None
    assert response.response_type == strategy
    assert response.target_workflow_id == workflow_id
    if strategy == "TARGET_WORKFLOW":
        assert response.is_target_workflow()
        assert response.get_workflow()["workflowId"] == workflow_id
    elif strategy == "BLOCKING_WORKFLOW":
        assert response.is_blocking_workflow() and response.get_workflow() is not None
    elif strategy == "BLOCKING_TASK":
        assert response.is_blocking_task() and response.get_blocking_task()["taskId"] is not None
    else:
        assert response.is_blocking_task_input()
        assert response.get_blocking_task() is not None and response.get_task_input() is not None
    _complete_workflow(executor, workflow_id)


def test_signal_default_strategy(executor: WorkflowExecutor, signal_workflows: None) -> None:
    workflow_id = _start_complex(executor)
    response = executor.signal(workflow_id=workflow_id, status="COMPLETED", body={"result": "test_default"})
    assert response.response_type == "TARGET_WORKFLOW" and response.is_target_workflow()
    assert response.target_workflow_id == workflow_id
    _complete_workflow(executor, workflow_id)


def test_signal_async(executor: WorkflowExecutor, signal_workflows: None) -> None:
    workflow_id = _start_complex(executor)
    assert executor.signal_async(workflow_id=workflow_id, status="COMPLETED", body={"result": "test_async"}) is None
    _complete_workflow(executor, workflow_id)


def test_signal_to_dict(executor: WorkflowExecutor, signal_workflows: None) -> None:
    workflow_id = _start_complex(executor)
    response = executor.signal(
        workflow_id=workflow_id, status="COMPLETED", body={"result": "to_dict"}, return_strategy="BLOCKING_TASK"
    )
    as_dict = response.to_dict()
    assert "property object" not in str(as_dict)
    assert as_dict["responseType"] == "BLOCKING_TASK"
    assert isinstance(as_dict["taskId"], str) and isinstance(as_dict["targetWorkflowId"], str)
    _complete_workflow(executor, workflow_id)


# -- metadata/test_workflow_definition.py: the kitchensink ------------------------------------


def test_kitchensink_workflow_registration(executor: WorkflowExecutor, podium: Runtime) -> None:
    simple_task = f"python_test_simple_task_{SUFFIX}"
    health = HttpInput(uri=podium.api_url.rstrip("/") + "/health")

    def simple(i: int) -> SimpleTask:
        return SimpleTask(task_def_name=simple_task, task_reference_name=f"{simple_task}_{i}")

    population = (
        ConductorWorkflow(executor=executor, name=f"PopulationMinMax_{SUFFIX}", version=1234)
        .owner_email(OWNER)
        .add(
            SetVariableTask(task_ref_name="set_state")
            .input(key="call_made", value=True)
            .input(key="number", value="value")
        )
    )
    population.register(True)
    executor.metadata_client.register_task_def(
        [
            TaskDef(
                name=simple_task,
                timeout_seconds=3,
                response_timeout_seconds=2,
                owner_email=OWNER,
                input_keys=["input1"],
            )
        ]
    )
    switch = (
        SwitchTask(task_ref_name="fact_length", case_expression="$.number < 15 ? 'LONG':'LONG'", use_javascript=True)
        .input(key="number", value="${workflow.input.number}")
        .switch_case(case_name="LONG", tasks=[simple(i) for i in range(1, 3)])
        .default_case(
            tasks=[
                TerminateTask(task_ref_name="too_short", status=WorkflowStatus.FAILED, termination_reason="too short")
            ]
        )
    )
    inline_child = InlineSubWorkflowTask(
        task_ref_name="python_sub_flow_inline_from_code",
        workflow=ConductorWorkflow(executor=executor, name="python_simple_workflow").add(simple(0)),
    )
    fork = ForkTask(
        task_ref_name="forked",
        forked_tasks=[
            [
                LoopTask(task_ref_name="loop_until_success", iterations=2, tasks=switch),
                LoopTask(task_ref_name="loop_until_success_multiple", iterations=1, tasks=[simple(13)]),
                inline_child,
            ],
            [simple(i) for i in range(3, 5)],
        ],
    )
    workflow = (
        ConductorWorkflow(executor=executor, name=f"test-python-sdk-workflow-as-code_{SUFFIX}", version=1234)
        .add(HttpTask("http_task_0", health))
        .add(simple(12))
        .add(SetVariableTask(task_ref_name="set_state").input(key="call_made", value=True))
        .add(fork)
        .add(JoinTask(task_ref_name="join_forked", join_on=fork.to_workflow_task().join_on))
        .owner_email(OWNER)
    )
    jq = JsonJQTask(task_ref_name="jq", script="{ key3: (.key1.value1 + .key2.value2) }")
    workflow >> SubWorkflowTask(task_ref_name="sub_workflow", workflow_name=population.name) >> jq
    workflow >> [HttpTask("http_task_1", health), HttpTask("http_task_2", health)]
    workflow >> [
        [HttpTask("http_task_31", health), HttpTask("http_task_32", health)],
        [HttpTask("http_task_41", health), HttpTask("http_task_42", health)],
    ]
    workflow.register(True)
    workflow_id = executor.start_workflow(
        start_workflow_request=StartWorkflowRequest(name=workflow.name, correlation_id="kitchensink_test")
    )
    assert isinstance(workflow_id, str) and workflow_id
    executor.terminate(workflow_id=workflow_id, reason="End test")
    assert executor.get_workflow(workflow_id, include_tasks=False).status == "TERMINATED"


# -- client/orkes/test_orkes_clients.py, the Conductor OSS parts -------------------------------


def test_workflow_lifecycle(clients: OrkesClients, executor: WorkflowExecutor) -> None:
    metadata, workflow_client = clients.get_metadata_client(), clients.get_workflow_client()
    name = f"IntegrationTestOrkesClientsWf_{SUFFIX}"
    workflow = ConductorWorkflow(executor=executor, name=name, description="Test Create Workflow", version=1)
    workflow.input_parameters(["a", "b"])
    workflow >> SimpleTask("simple_task", "simple_task_ref")
    metadata.register_workflow_def(workflow.to_workflow_def(), True)
    assert len(metadata.get_workflow_def(name).tasks) == 1

    workflow >> SimpleTask("simple_task", "simple_task_ref_2")
    workflow >> SimpleTask("simple_task", "simple_task_ref_3")
    metadata.update_workflow_def(workflow.to_workflow_def(), True)
    assert len(metadata.get_workflow_def(name).tasks) == 3

    workflow_id = workflow_client.start_workflow_by_name(name, {"a": 5, "b": "+", "c": [7, 8]})
    execution = workflow_client.get_workflow(workflow_id, False)
    assert execution.input == {"a": 5, "b": "+", "c": [7, 8]} and execution.status == "RUNNING"
    workflow_client.pause_workflow(workflow_id)
    assert workflow_client.get_workflow(workflow_id, False).status == "PAUSED"
    workflow_client.resume_workflow(workflow_id)
    assert workflow_client.get_workflow(workflow_id, False).status == "RUNNING"
    workflow_client.terminate_workflow(workflow_id, "Integration Test")
    assert workflow_client.get_workflow(workflow_id, False).status == "TERMINATED"
    workflow_client.restart_workflow(workflow_id)
    assert workflow_client.get_workflow(workflow_id, False).status == "RUNNING"
    workflow_client.skip_task_from_workflow(workflow_id, "simple_task_ref_2", SkipTaskRequest())
    assert workflow_client.get_workflow(workflow_id, False).status == "RUNNING"
    workflow_client.delete_workflow(workflow_id)
    with pytest.raises(ApiException) as removed:
        workflow_client.get_workflow(workflow_id, False)
    assert removed.value.code == 404
    assert str(removed.value.message).lower() == f"workflow with id: {workflow_id} not found."

    metadata.unregister_workflow_def(name, 1)
    with pytest.raises(ApiException) as unregistered:
        metadata.get_workflow_def(name, 1)
    assert unregistered.value.code == 404
    assert unregistered.value.message == f"No such workflow found by name: {name}, version: 1"


def test_task_lifecycle(clients: OrkesClients, executor: WorkflowExecutor) -> None:
    metadata, workflow_client, task_client = (
        clients.get_metadata_client(),
        clients.get_workflow_client(),
        clients.get_task_client(),
    )
    task_type = f"IntegrationTestOrkesClientsTask_{SUFFIX}"
    metadata.register_task_def(TaskDef(name=task_type, description="Integration Test Task", input_keys=["a", "b"]))
    task_def = metadata.get_task_def(task_type)
    assert task_def.name == task_type and len(task_def.input_keys) == 2
    task_def.description = "Integration Test Task New Description"
    task_def.input_keys = ["a", "b", "c"]
    metadata.update_task_def(task_def)
    fetched = metadata.get_task_def(task_type)
    assert fetched.description == task_def.description and len(fetched.input_keys) == 3

    workflow = ConductorWorkflow(executor=executor, name=f"IntegrationTestOrkesClientsWf_{SUFFIX}_task", version=1)
    workflow.input_parameters(["a", "b"])
    workflow >> SimpleTask(task_type, "simple_task_ref")
    workflow >> SimpleTask(task_type, "simple_task_ref_2")
    start = StartWorkflowRequest(
        name=workflow.name, version=1, workflow_def=workflow.to_workflow_def(), input={"a": 15, "b": 3, "op": "+"}
    )
    first = workflow_client.start_workflow(start)
    second = workflow_client.start_workflow(start)
    assert task_client.get_queue_size_for_task(task_type) == 2

    polled = task_client.poll_task(task_type)
    assert polled.status == TaskResultStatus.IN_PROGRESS
    task_client.add_task_log(polled.task_id, "Polled task...")
    assert task_client.get_task_logs(polled.task_id)[0].log == "Polled task..."
    assert task_client.get_queue_size_for_task(task_type) == 1
    task_client.update_task(
        TaskResult(workflow_instance_id=first, task_id=polled.task_id, status=TaskResultStatus.COMPLETED)
    )
    assert task_client.get_task(polled.task_id).status == TaskResultStatus.COMPLETED

    # As the SDK suite assumes: tasks are handed out first come, first served.
    batch = task_client.batch_poll_tasks(task_type)
    assert len(batch) == 1
    task_client.update_task_by_ref_name(second, batch[0].reference_task_name, "COMPLETED", "task 2 op 2nd wf")
    task_client.update_task_by_ref_name(second, "simple_task_ref_2", "COMPLETED", "task 2 op 1st wf")
    task_client.poll_task(task_type)
    synced = task_client.update_task_sync(first, "simple_task_ref_2", "COMPLETED", "task 2 op 1st wf")
    assert synced.workflow_id == first
    assert task_client.get_queue_size_for_task(task_type) == 0

    metadata.unregister_task_def(task_type)
    with pytest.raises(ApiException) as gone:
        metadata.get_task_def(task_type)
    # The SDK suite expects Orkes' text ("Task {name} not found"); Conductor OSS answers its own.
    assert gone.value.code == 404


def test_scheduler_lifecycle(clients: OrkesClients, executor: WorkflowExecutor) -> None:
    scheduler = clients.get_scheduler_client()
    name = f"IntegrationTestOrkesClientsWf_{SUFFIX}_scheduled"
    schedule_name = f"IntegrationTestSchedulerClientSch_{SUFFIX}"
    workflow = ConductorWorkflow(executor=executor, name=name, version=1)
    workflow >> SimpleTask("simple_task", "simple_task_ref")
    start = StartWorkflowRequest(name=name, workflow_def=workflow.to_workflow_def())
    scheduler.save_schedule(
        SaveScheduleRequest(name=schedule_name, start_workflow_request=start, cron_expression="0 */5 * ? * *")
    )
    # The SDK suite indexes the schedule as a dict; conductor-python 2.0.0 answers a WorkflowSchedule.
    assert scheduler.get_schedule(schedule_name).name == schedule_name
    scheduler.pause_schedule(schedule_name)
    schedules = scheduler.get_all_schedules(name)
    assert [(s.name, s.paused) for s in schedules] == [(schedule_name, True)]
    scheduler.resume_schedule(schedule_name)
    assert not scheduler.get_schedule(schedule_name).paused
    assert len(scheduler.get_next_few_schedule_execution_times("0 */5 * ? * *", limit=1)) == 1
    scheduler.delete_schedule(schedule_name)
    with pytest.raises(ApiException) as gone:
        scheduler.get_schedule(schedule_name)
    assert gone.value.code == 404


LOAN_WORKFLOW: dict[str, Any] = {
    "name": f"test_workflow_{SUFFIX}",
    "version": 1,
    "tasks": [
        {
            "name": "fetch_user_details",
            "taskReferenceName": "fetch_user_details",
            "type": "SIMPLE",
            "inputParameters": {"userEmail": "${workflow.input.userEmail}"},
        },
        {
            "name": "get_credit_score",
            "taskReferenceName": "get_credit_score",
            "type": "SIMPLE",
            "inputParameters": {"userAccountNumber": "${fetch_user_details.output.userAccount}"},
        },
        {
            "name": "calculate_loan_amount",
            "taskReferenceName": "calculate_loan_amount",
            "type": "SIMPLE",
            "inputParameters": {
                "creditRating": "${get_credit_score.output.creditRating}",
                "loanAmount": "${workflow.input.loanAmount}",
            },
        },
        {
            "name": "loop_until_success",
            "taskReferenceName": "loop_until_success",
            "type": "DO_WHILE",
            "inputParameters": {"loop_count": 3},
            "loopCondition": "if ( $.loop_until_success['iteration'] < $.loop_count ) { true; } else { false; }",
            "loopOver": [
                {"name": "check_phone_number_valid", "taskReferenceName": "check_phone_number_valid", "type": "SIMPLE"}
            ],
        },
    ],
    "inputParameters": ["userEmail"],
    "outputParameters": {
        "accountNumber": "${fetch_user_details.output.userAccount}",
        "creditRating": "${get_credit_score.output.creditRating}",
        "authorizedLoanAmount": "${calculate_loan_amount.output.authorizedLoanAmount}",
        "phoneNumberValid": "${check_phone_number_valid.output.valid}",
    },
    "schemaVersion": 2,
}
LOAN_MOCKS: dict[str, list[dict[str, Any]]] = {
    "fetch_user_details": [{"status": "COMPLETED", "output": {"userAccount": 12345}}],
    "get_credit_score": [{"status": "COMPLETED", "output": {"creditRating": 750}}],
    "calculate_loan_amount": [{"status": "COMPLETED", "output": {"authorizedLoanAmount": 10000}}],
    "check_phone_number_valid__1": [{"status": "COMPLETED", "output": {"valid": False, "reason": "unreachable"}}],
    "check_phone_number_valid__2": [{"status": "COMPLETED", "output": {"valid": False, "reason": "rate limited"}}],
    "check_phone_number_valid__3": [{"status": "COMPLETED", "output": {"valid": True, "reason": "success"}}],
}


def test_unit_test_workflow(clients: OrkesClients, configuration: Configuration) -> None:
    from conductor.client.http.api_client import ApiClient

    workflow_def: WorkflowDef = ApiClient(configuration).deserialize_class(LOAN_WORKFLOW, "WorkflowDef")
    request = WorkflowTestRequest(name=workflow_def.name, workflow_def=workflow_def)
    request.input = {"userEmail": "user@example.com", "loanAmount": 11000}
    request.version = workflow_def.version
    request.task_ref_to_mock_output = LOAN_MOCKS
    execution = clients.get_workflow_client().test_workflow(request)

    assert execution.status == "COMPLETED"
    assert execution.input["loanAmount"] == 11000 and execution.input["userEmail"] == "user@example.com"
    assert len(execution.tasks) == 7
    fetch, score, amount = execution.tasks[0], execution.tasks[1], execution.tasks[2]
    attempts = execution.tasks[4:7]
    assert fetch.input_data["userEmail"] == "user@example.com" and fetch.output_data["userAccount"] == 12345
    assert score.input_data["userAccountNumber"] == 12345 and score.output_data["creditRating"] == 750
    assert amount.input_data["loanAmount"] == 11000 and amount.input_data["creditRating"] == 750
    assert amount.output_data["authorizedLoanAmount"] == 10_000
    assert [a.output_data["valid"] for a in attempts] == [False, False, True]
    assert execution.output["accountNumber"] == 12345
    assert execution.output["creditRating"] == 750
    assert execution.output["authorizedLoanAmount"] == 10_000
    # The workflow's output takes the last iteration's output of a task inside a loop.
    assert execution.output["phoneNumberValid"] is True
