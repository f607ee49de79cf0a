"""`POST /api/workflow/test`: run a definition with mocked task outputs.

Conductor's WorkflowTestService, on Podium's engine: the workflow is started with every
task type mapped to a fresh domain (`taskToDomain: {"*": <uuid>}`), so no worker polls
its tasks; then, over and over, each unfinished task that has mocks left is completed
with the next one (its `status` and `output`), in the order given, until the workflow
ends, no mocks are left, or an unfinished task that needs a worker has no mock (the
workflow is answered as it stands, still RUNNING). A mock with status FAILED fails the
task, which is retried per its TaskDef: the next mock in the list answers the retry.
Operators (Conductor's list below) run by themselves and take no mocks. A running
SUB_WORKFLOW task whose reference has a `subWorkflowTestRequest` gets its child run
the same way with that request's mocks.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from actors.workflow.operators.base import operator_for
from definitions.models import (
    TERMINAL_TASK_STATUSES,
    TERMINAL_WORKFLOW_STATUSES,
    ConductorModel,
    StartWorkflowRequest,
    TaskResult,
    TaskStatus,
)

Json = dict[str, Any]

# A mocked run that makes no progress for this long is answered as it stands: Conductor
# drives its test loop synchronously, Podium's engine moves on its own (a child's end
# reaches its parent a little later), so the loop looks again until then.
STALL_SECONDS = 30.0
CHECK_SECONDS = 0.05


class TaskMock(ConductorModel):
    status: TaskStatus = TaskStatus.COMPLETED
    output: dict[str, Any] | None = None
    # Conductor back-dates the task's times with these; Podium accepts and ignores them.
    execution_time: int = 0
    queue_wait_time: int = 0


class WorkflowTestRequest(StartWorkflowRequest):
    name: str = ""
    task_ref_to_mock_output: dict[str, list[TaskMock]] = Field(default_factory=dict)
    sub_workflow_test_request: dict[str, WorkflowTestRequest] = Field(default_factory=dict)


@dataclass
class Step:
    """What one look at the execution decides."""

    results: list[TaskResult] = field(default_factory=list)
    children: list[tuple[str, WorkflowTestRequest]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def plan(workflow: Json, request: WorkflowTestRequest, children_started: set[str]) -> Step:
    """The mocks to apply now; takes each applied mock off `request`'s lists."""
    mocks = request.task_ref_to_mock_output
    step = Step()
    active = [t for t in workflow.get("tasks", []) if t["status"] not in TERMINAL_TASK_STATUSES]
    step.missing = [
        t["referenceTaskName"]
        for t in active
        if operator_for(t["taskType"]).mocked_in_test_runs and t["referenceTaskName"] not in mocks
    ]
    if step.missing:
        return step
    for task in active:
        reference = task["referenceTaskName"]
        child_id = task.get("subWorkflowId")
        child_request = request.sub_workflow_test_request.get(reference)
        has_child = operator_for(task["taskType"]).has_child_workflow
        if has_child and child_id and child_request and child_id not in children_started:
            children_started.add(child_id)
            step.children.append((child_id, child_request))
        queued = mocks.get(reference)
        if not queued or not operator_for(task["taskType"]).mocked_in_test_runs:
            mocks.pop(reference, None)
            continue
        mock = queued.pop(0)
        step.results.append(
            TaskResult(
                workflow_instance_id=task["workflowInstanceId"],
                task_id=task["taskId"],
                status=mock.status,
                output_data=dict(mock.output or {}),
            )
        )
    return step


def start_request_for(request: WorkflowTestRequest) -> StartWorkflowRequest:
    """The start request, with every task type in a domain no worker polls."""
    domains = dict(request.task_to_domain)
    domains["*"] = str(uuid.uuid4())
    fields = request.model_dump(exclude={"task_ref_to_mock_output", "sub_workflow_test_request", "task_to_domain"})
    return StartWorkflowRequest.model_validate({**fields, "task_to_domain": domains})


class MockedRun:
    """Drives one execution (and the children it has test requests for) with the mocks.

    `get_workflow` reads an execution with its tasks; `record` applies one task result.
    """

    def __init__(self, get_workflow: Any, record: Any) -> None:
        self.get_workflow = get_workflow
        self.record = record

    async def run(self, request: WorkflowTestRequest, workflow_id: str) -> Json | None:
        children_started: set[str] = set()
        last_change = time.monotonic()
        while True:
            workflow = await self.get_workflow(workflow_id)
            if workflow is None:
                # A child is named in its parent's checkpoint before it is written itself.
                if time.monotonic() - last_change > STALL_SECONDS:
                    return None
                await asyncio.sleep(CHECK_SECONDS)
                continue
            if workflow["status"] in TERMINAL_WORKFLOW_STATUSES or not request.task_ref_to_mock_output:
                return workflow
            step = plan(workflow, request, children_started)
            if step.missing:
                return workflow
            for child_id, child_request in step.children:
                await self.run(child_request, child_id)
            for result in step.results:
                await self.record(result)
            if step.results or step.children:
                last_change = time.monotonic()
            elif time.monotonic() - last_change > STALL_SECONDS:
                return workflow
            else:
                await asyncio.sleep(CHECK_SECONDS)
