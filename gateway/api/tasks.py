"""`/api/tasks`: polling, results, task lookup, queue sizes and execution logs."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Collection
from typing import Any

from aiohttp import web

from actors.shard import HandedOver
from actors.workflow import events as ev
from actors.workflow.graph import base_reference
from actors.workflow.operators.base import operator_for
from cluster.store import Keys
from definitions.models import TERMINAL_TASK_STATUSES, TERMINAL_WORKFLOW_STATUSES, TaskResult, TaskStatus
from gateway.context import GatewayContext, context_of
from gateway.errors import bad_request, not_found, raise_for_answer, workflow_not_found
from gateway.http import int_param, json_response, read_json, read_model, text_response
from gateway.queue_waker import FALLBACK_SECONDS

routes = web.RouteTableDef()

MAX_BATCH = 1000
MAX_LONG_POLL_MS = 30_000
# Poll data (last poll time per worker) is written at most this often per worker.
POLL_DATA_EVERY_MS = 1_000
_last_poll_recorded: dict[tuple[str, str], int] = {}


def now_ms() -> int:
    return int(time.time() * 1000)


async def poll_tasks(
    context: GatewayContext, task_type: str, domain: str | None, count: int, worker_id: str | None, timeout_ms: int
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_ms / 1000
    with context.waker.watching(Keys.queue(task_type, domain)) as ready:
        while True:
            ready.clear()
            tasks = await context.store.poll(task_type, domain, count, now_ms())
            remaining = deadline - time.monotonic()
            if tasks or remaining <= 0:
                break
            # Woken the moment a shard queues a task here; looks again anyway now and then.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), min(FALLBACK_SECONDS, remaining))
    now = now_ms()
    await _record_poll(context, task_type, domain, worker_id, now)
    if not tasks:
        return []
    tasks = await context.store.with_workflow_tasks(tasks)
    for task in tasks:
        task["status"] = "IN_PROGRESS"
        task["pollCount"] = task.get("pollCount", 0) + 1
        task["startTime"] = task.get("startTime") or now
        if worker_id:
            task["workerId"] = worker_id
        context.polled.remember(task)
    context.router.notify([(t["workflowInstanceId"], ev.TaskPolled(t["taskId"], worker_id)) for t in tasks])
    return tasks


async def _record_poll(
    context: GatewayContext, task_type: str, domain: str | None, worker_id: str | None, now: int
) -> None:
    """Poll data (which worker last polled a type, and when), written at most every
    POLL_DATA_EVERY_MS per worker and type."""
    if worker_id:
        key = (task_type, worker_id)
        if now - _last_poll_recorded.get(key, 0) >= POLL_DATA_EVERY_MS:
            _last_poll_recorded[key] = now
            await context.store.record_poll(task_type, worker_id, domain, now)


async def _handed_out(context: GatewayContext, task: dict[str, Any], worker_id: str | None) -> None:
    """What a poll records of a task it hands out, for one handed over by update-v2."""
    context.polled.remember(task)
    await _record_poll(context, task["taskType"], task.get("domain"), worker_id, now_ms())


def _poll_arguments(request: web.Request) -> tuple[str, str | None, str | None]:
    domain = request.query.get("domain") or None
    worker_id = request.query.get("workerid") or request.query.get("workerId") or None
    return request.match_info["taskType"], domain, worker_id


@routes.get("/api/tasks/poll/batch/{taskType}")
async def batch_poll(request: web.Request) -> web.Response:
    task_type, domain, worker_id = _poll_arguments(request)
    count = int_param(request, "count", 1)
    timeout = int_param(request, "timeout", 100) or 0
    if count is None or not 1 <= count <= MAX_BATCH:
        raise bad_request(f"count must be between 1 and {MAX_BATCH}, got {count}")
    if not 0 <= timeout <= MAX_LONG_POLL_MS:
        raise bad_request(f"timeout must be between 0 and {MAX_LONG_POLL_MS} ms, got {timeout}")
    return json_response(await poll_tasks(context_of(request), task_type, domain, count, worker_id, timeout))


@routes.get("/api/tasks/poll/{taskType}")
async def poll_one(request: web.Request) -> web.Response:
    task_type, domain, worker_id = _poll_arguments(request)
    tasks = await poll_tasks(context_of(request), task_type, domain, 1, worker_id, 0)
    if not tasks:
        return web.Response(status=204)
    return json_response(tasks[0])


async def record_result(
    context: GatewayContext, result: TaskResult, next_wanted: ev.NextTaskWanted | None = None
) -> dict[str, Any] | None:
    """Apply a worker's result. With `next_wanted` (update-v2): the next task of that type
    the result scheduled in its workflow, handed to this worker in the same step, if any."""
    if result.status == TaskStatus.SCHEDULED:
        raise bad_request("A task result cannot set status SCHEDULED")
    event = ev.TaskUpdate(
        task_id=result.task_id,
        status=result.status.value,
        output_data=result.output_data,
        reason_for_incompletion=result.reason_for_incompletion,
        callback_after_seconds=result.callback_after_seconds,
        worker_id=result.worker_id,
        next_wanted=next_wanted,
    )
    answer = await context.router.deliver(result.workflow_instance_id, event)
    raise_for_answer(answer, result.workflow_instance_id, result.task_id)
    now = now_ms()
    for entry in result.logs:
        text = entry.get("log") if isinstance(entry, dict) else str(entry)
        if text:
            await context.store.append_task_log(
                result.task_id, {"log": text, "taskId": result.task_id, "createdTime": now}
            )
    return answer.task if isinstance(answer, HandedOver) else None


@routes.post("/api/tasks")
async def update_task(request: web.Request) -> web.Response:
    context = context_of(request)
    result = await read_model(request, TaskResult, "task result")
    await record_result(context, result)
    return text_response(result.task_id)


@routes.post("/api/tasks/update-v2")
async def update_task_and_poll(request: web.Request) -> web.Response:
    """Record a result and hand back the next task of the same type in one round trip."""
    context = context_of(request)
    result = await read_model(request, TaskResult, "task result")
    polled = context.polled.take(result.task_id)
    if polled is None:
        task = await context.store.get_task(result.task_id)
        polled = (task["taskType"], task.get("domain")) if task else None
    wanted = ev.NextTaskWanted(polled[0], polled[1], result.worker_id) if polled is not None else None
    handed = await record_result(context, result, wanted)
    if handed is not None:
        # The shard handed this worker the next task of its workflow; no queue was involved.
        await _handed_out(context, handed, result.worker_id)
        return json_response(handed)
    if polled is not None:
        tasks = await poll_tasks(context, polled[0], polled[1], 1, result.worker_id, 0)
        if tasks:
            return json_response(tasks[0])
    return json_response(None)


async def read_task_output(request: web.Request) -> dict[str, Any]:
    """An optional JSON object body: the output a task is completed with."""
    body = await request.read()
    output = await read_json(request) if body.strip() else {}
    if not isinstance(output, dict):
        raise bad_request(f"The task output must be a JSON object, got {type(output).__name__}")
    return output


# -- signals (Conductor's TaskResource.signalWorkflowTaskAsync and signalWorkflowTaskSync) ----
# Registered before `/{workflowId}/{taskRefName}/{status}`, which would otherwise take
# `/{workflowId}/{status}/signal` as a status named "signal".

RETURN_STRATEGIES = ("TARGET_WORKFLOW", "BLOCKING_WORKFLOW", "BLOCKING_TASK", "BLOCKING_TASK_INPUT")
SIGNAL_CHECK_SECONDS = 0.05
MAX_SIGNAL_WAIT_MS = 300_000


def _active(task: dict[str, Any]) -> bool:
    return task["status"] not in TERMINAL_TASK_STATUSES


def _running_children(workflow: dict[str, Any]) -> list[str]:
    return [
        task["subWorkflowId"]
        for task in workflow.get("tasks", [])
        if operator_for(task["taskType"]).has_child_workflow and _active(task) and task.get("subWorkflowId")
    ]


async def find_signalled_task(context: GatewayContext, workflow: dict[str, Any]) -> dict[str, Any] | None:
    """The first unfinished WAIT or HUMAN task, else one in a running sub-workflow, depth first."""
    for task in workflow["tasks"]:
        if operator_for(task["taskType"]).accepts_signal and _active(task):
            return task
    for child_id in _running_children(workflow):
        child = await context.store.get_workflow(child_id, include_tasks=True)
        found = await find_signalled_task(context, child) if child else None
        if found is not None:
            return found
    return None


def _blocks(task: dict[str, Any]) -> bool:
    return _active(task) and operator_for(task["taskType"]).blocks_until_signalled(task)


async def find_blocking(
    context: GatewayContext, workflow: dict[str, Any], task_refs: Collection[str] = ()
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Blocking tasks of the workflow and its running sub-workflows, and the first workflow holding one.

    A task named in `task_refs` (execute's `waitUntilTaskRef`) blocks once it has ended.
    """
    blocking: list[dict[str, Any]] = []
    holder: dict[str, Any] | None = None
    for task in workflow["tasks"]:
        if _blocks(task) or (task["referenceTaskName"] in task_refs and not _active(task)):
            blocking.append(task)
            holder = holder or workflow
        if operator_for(task["taskType"]).has_child_workflow and _active(task) and task.get("subWorkflowId"):
            child = await context.store.get_workflow(task["subWorkflowId"], include_tasks=True)
            if child is not None:
                in_child, child_holder = await find_blocking(context, child, task_refs)
                blocking.extend(in_child)
                holder = holder or child_holder
    return blocking, holder


def _signal_status(raw: str) -> TaskStatus:
    status = raw.upper()
    if status not in TERMINAL_TASK_STATUSES:
        allowed = ", ".join(sorted(TERMINAL_TASK_STATUSES))
        raise bad_request(f"Cannot signal a task with status {raw!r}: use one of {allowed}")
    return TaskStatus(status)


async def signal(
    context: GatewayContext, workflow_id: str, status: TaskStatus, output: dict[str, Any], *, required: bool = True
) -> str | None:
    """Complete (or fail) the task the workflow is blocked on; answers that task's id.

    With nothing blocked, a `required` signal is a 404; otherwise it does nothing and
    answers None, as Conductor's asynchronous signal does (conductor-python sends
    signals after the workflow may have ended)."""
    workflow = await context.store.get_workflow(workflow_id, include_tasks=True)
    if workflow is None:
        raise workflow_not_found(workflow_id)
    task = await find_signalled_task(context, workflow)
    if task is None:
        if not required:
            return None
        raise not_found(f"Found no blocked task in workflow {workflow_id} to signal")
    result = TaskResult(
        workflow_instance_id=task["workflowInstanceId"], task_id=task["taskId"], status=status, output_data=output
    )
    await record_result(context, result)
    return str(task["taskId"])


def _without_nulls(value: dict[str, Any]) -> dict[str, Any]:
    return {key: item for key, item in value.items() if item is not None}


def _signal_response(
    target: dict[str, Any], strategy: str, request_id: str, timed_out: bool, fields: dict[str, Any]
) -> dict[str, Any]:
    """Conductor's SignalResponse: what every kind of it carries, then the kind's own fields."""
    common = {
        "responseType": strategy,
        "targetWorkflowId": target["workflowId"],
        "targetWorkflowStatus": target["status"],
        "requestId": request_id,
        "signalTimeout": timed_out,
    }
    return _without_nulls({**common, **fields})


def _workflow_run(
    workflow: dict[str, Any], target: dict[str, Any], strategy: str, request_id: str, timed_out: bool
) -> dict[str, Any]:
    """Conductor's WorkflowRun."""
    return _signal_response(
        target,
        strategy,
        request_id,
        timed_out,
        {
            "workflowId": workflow["workflowId"],
            "correlationId": workflow.get("correlationId"),
            "input": workflow.get("input"),
            "output": workflow.get("output"),
            "priority": workflow.get("priority", 0),
            "variables": workflow.get("variables"),
            "tasks": workflow.get("tasks", []),
            "createdBy": workflow.get("createdBy"),
            "createTime": workflow.get("createTime"),
            "status": workflow["status"],
            "updateTime": workflow.get("updateTime") or 0,
        },
    )


def _task_run(
    task: dict[str, Any], target: dict[str, Any], strategy: str, request_id: str, timed_out: bool
) -> dict[str, Any]:
    """Conductor's TaskRun."""
    return _signal_response(
        target,
        strategy,
        request_id,
        timed_out,
        {
            "workflowId": task["workflowInstanceId"],
            "correlationId": task.get("correlationId"),
            "input": task.get("inputData"),
            "output": task.get("outputData"),
            "taskType": task["taskType"],
            "taskId": task["taskId"],
            "referenceTaskName": task["referenceTaskName"],
            "retryCount": task.get("retryCount", 0),
            "taskDefName": task.get("taskDefName"),
            "retriedTaskId": task.get("retriedTaskId"),
            "workflowType": task.get("workflowType"),
            "reasonForIncompletion": task.get("reasonForIncompletion"),
            "priority": task.get("workflowPriority", 0),
            "createdBy": task.get("workerId"),
            "createTime": task.get("startTime"),
            "updateTime": task.get("updateTime"),
            "status": task["status"],
        },
    )


def signal_response(
    target: dict[str, Any],
    blocking: list[dict[str, Any]],
    holder: dict[str, Any] | None,
    strategy: str,
    request_id: str,
    timed_out: bool,
) -> dict[str, Any]:
    if blocking and strategy in ("BLOCKING_TASK", "BLOCKING_TASK_INPUT"):
        return _task_run(blocking[0], target, strategy, request_id, timed_out)
    if holder is not None and strategy == "BLOCKING_WORKFLOW":
        return _workflow_run(holder, target, strategy, request_id, timed_out)
    # Nothing blocks (the workflow ended, or the wait timed out): the target is all there is
    # to show, so a task strategy answers it as TARGET_WORKFLOW rather than an empty body.
    shown = strategy if strategy in ("TARGET_WORKFLOW", "BLOCKING_WORKFLOW") else "TARGET_WORKFLOW"
    return _workflow_run(target, target, shown, request_id, timed_out)


async def await_signal_response(
    context: GatewayContext,
    workflow_id: str,
    strategy: str,
    timeout_ms: int,
    task_refs: Collection[str] = (),
    request_id: str | None = None,
) -> dict[str, Any]:
    """Wait until the workflow ends or blocks again (Conductor's WorkflowSignalResponder)."""
    request_id = request_id or str(uuid.uuid4())
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        workflow = await context.store.get_workflow(workflow_id, include_tasks=True)
        if workflow is None:
            raise workflow_not_found(workflow_id)
        blocking, holder = await find_blocking(context, workflow, task_refs)
        if blocking or workflow["status"] in TERMINAL_WORKFLOW_STATUSES:
            return signal_response(workflow, blocking, holder, strategy, request_id, timed_out=False)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return signal_response(workflow, [], None, strategy, request_id, timed_out=True)
        await asyncio.sleep(min(SIGNAL_CHECK_SECONDS, remaining))


@routes.post("/api/tasks/{workflowId}/{status}/signal")
async def signal_async(request: web.Request) -> web.Response:
    status = _signal_status(request.match_info["status"])
    output = await read_task_output(request)
    await signal(context_of(request), request.match_info["workflowId"], status, output, required=False)
    return json_response({})


@routes.post("/api/tasks/{workflowId}/{status}/signal/sync")
async def signal_sync(request: web.Request) -> web.Response:
    context = context_of(request)
    workflow_id = request.match_info["workflowId"]
    status = _signal_status(request.match_info["status"])
    strategy = (request.query.get("returnStrategy") or "TARGET_WORKFLOW").upper()
    if strategy not in RETURN_STRATEGIES:
        raise bad_request(f"returnStrategy must be one of {', '.join(RETURN_STRATEGIES)}, got {strategy!r}")
    timeout_ms = int_param(request, "timeoutMillis", 5000) or 0
    if not 0 <= timeout_ms <= MAX_SIGNAL_WAIT_MS:
        raise bad_request(f"timeoutMillis must be between 0 and {MAX_SIGNAL_WAIT_MS}, got {timeout_ms}")
    output = await read_task_output(request)
    await signal(context, workflow_id, status, output)
    return json_response(await await_signal_response(context, workflow_id, strategy, timeout_ms))


def pending_task(workflow: dict[str, Any], reference: str) -> dict[str, Any] | None:
    """Conductor's choice (ExecutionService.getPendingTaskForWorkflow): the first unfinished
    task with that reference name, else the first unfinished one of that name in a loop
    iteration (`ref__2` for `ref`)."""
    unfinished = [task for task in workflow["tasks"] if _active(task)]
    for task in unfinished:
        if task["referenceTaskName"] == reference:
            return task
    return next((task for task in unfinished if base_reference(task["referenceTaskName"]) == reference), None)


def _result_status(raw: str) -> TaskStatus:
    status = raw.upper()
    if status not in TaskStatus.__members__ or status == "SCHEDULED":
        raise bad_request(f"Unknown task status {status!r}")
    return TaskStatus(status)


async def update_by_reference(request: web.Request) -> tuple[str, dict[str, Any] | None]:
    """Update the pending task named by the path; answers the workflow id and the task
    updated (None when no task of that name is pending)."""
    context = context_of(request)
    workflow_id, reference = request.match_info["workflowId"], request.match_info["taskRefName"]
    status = _result_status(request.match_info["status"])
    output = await read_task_output(request)
    workflow = await context.store.get_workflow(workflow_id, include_tasks=True)
    if workflow is None:
        raise workflow_not_found(workflow_id)
    task = pending_task(workflow, reference)
    if task is None:
        return workflow_id, None
    result = TaskResult(
        workflow_instance_id=workflow_id,
        task_id=task["taskId"],
        status=status,
        output_data=output,
        worker_id=request.query.get("workerid") or None,
    )
    await record_result(context, result)
    return workflow_id, task


@routes.post("/api/tasks/{workflowId}/{taskRefName}/{status}/sync")
async def update_task_by_reference_sync(request: web.Request) -> web.Response:
    """Conductor's updateTaskSync: the update, then the workflow with its tasks."""
    workflow_id, task = await update_by_reference(request)
    if task is None:
        reference = request.match_info["taskRefName"]
        raise not_found(f"Found no running task {reference} of workflow {workflow_id} to update")
    # The shard answers a delivery once the step's checkpoint is written: this read sees the update.
    workflow = await context_of(request).store.get_workflow(workflow_id, include_tasks=True)
    if workflow is None:  # removed in between
        raise workflow_not_found(workflow_id)
    return json_response(workflow)


@routes.post("/api/tasks/{workflowId}/{taskRefName}/{status}")
async def update_task_by_reference(request: web.Request) -> web.Response:
    # Conductor answers 200 with an empty body when no task of that name is pending.
    _, task = await update_by_reference(request)
    return text_response(task["taskId"] if task is not None else "")


def _queue_name(task_type: str, domain: str | None) -> str:
    # Conductor's name for a domain's queue.
    return f"{domain}:{task_type}" if domain else task_type


@routes.get("/api/tasks/queue/all")
async def all_queues(request: web.Request) -> web.Response:
    queues = await context_of(request).store.queues()
    return json_response({_queue_name(*name): c["ready"] + c["delayed"] for name, c in queues.items()})


@routes.get("/api/tasks/queue/all/verbose")
async def all_queues_verbose(request: web.Request) -> web.Response:
    queues = await context_of(request).store.queues()
    # Conductor's shape: queue -> shard -> {size, uacked}; Podium's queues are not sharded.
    return json_response(
        {
            _queue_name(*name): {"a": {"size": c["ready"] + c["delayed"], "uacked": c["inFlight"]}}
            for name, c in queues.items()
        }
    )


@routes.get("/api/tasks/queue/polldata")
async def poll_data(request: web.Request) -> web.Response:
    task_type = request.query.get("taskType")
    if not task_type:
        raise bad_request("taskType is required")
    return json_response(await context_of(request).store.poll_data(task_type))


@routes.get("/api/tasks/queue/polldata/all")
async def all_poll_data(request: web.Request) -> web.Response:
    return json_response(await context_of(request).store.all_poll_data())


@routes.post("/api/tasks/queue/requeue/{taskType}")
async def requeue(request: web.Request) -> web.Response:
    """Hand out now every task of the type that waits out a retry delay or callback."""
    moved = await context_of(request).store.requeue_delayed(request.match_info["taskType"])
    return text_response(str(moved))


@routes.get("/api/tasks/queue/sizes")
async def queue_sizes(request: web.Request) -> web.Response:
    task_types = request.query.getall("taskType", [])
    return json_response(await context_of(request).store.queue_sizes(task_types))


@routes.get("/api/tasks/queue/size")
async def queue_size(request: web.Request) -> web.Response:
    """Conductor's taskDepth: the size of one queue, named as Conductor names it."""
    task_type = request.query.get("taskType", "").strip()
    if not task_type:
        raise bad_request("Query parameter 'taskType' is required")
    domain = request.query.get("domain", "").strip() or None
    # Podium has no isolation groups or execution namespaces: such a queue is always empty.
    if request.query.get("isolationGroupId", "").strip() or request.query.get("executionNamespace", "").strip():
        return json_response(0)
    if domain is None:
        return json_response((await context_of(request).store.queue_sizes([task_type]))[task_type])
    counts = (await context_of(request).store.queues()).get((task_type, domain))
    return json_response(counts["ready"] + counts["delayed"] if counts else 0)


STORAGE_OPERATIONS = ("READ", "WRITE")
PAYLOAD_TYPES = ("WORKFLOW_INPUT", "WORKFLOW_OUTPUT", "TASK_INPUT", "TASK_OUTPUT")


@routes.get("/api/tasks/externalstoragelocation")
@routes.get("/api/tasks/external-storage-location")
async def external_storage_location(request: web.Request) -> web.Response:
    """What Conductor answers with its default (dummy) payload storage: a path and no uri.

    Podium keeps every payload in Redis; nothing is ever read from or written to this path.
    """
    path, operation = request.query.get("path"), request.query.get("operation")
    payload_type = request.query.get("payloadType")
    for name, value in (("path", path), ("operation", operation), ("payloadType", payload_type)):
        if value is None:
            raise bad_request(f"Query parameter '{name}' is required")
    if str(operation).upper() not in STORAGE_OPERATIONS or str(payload_type).upper() not in PAYLOAD_TYPES:
        raise bad_request(f"Invalid input - Operation: {operation}, PayloadType: {payload_type}")
    return json_response({"path": f"{path}{uuid.uuid4()}.json"})


@routes.get("/api/tasks/{taskId}")
async def get_task(request: web.Request) -> web.Response:
    task_id = request.match_info["taskId"]
    task = await context_of(request).store.get_task(task_id)
    if task is None:
        raise not_found(f"Task not found for taskId: {task_id}")
    return json_response(task)


async def _known_task_id(request: web.Request) -> str:
    task_id = request.match_info["taskId"]
    if await context_of(request).store.workflow_of_task(task_id) is None:
        raise not_found(f"Task not found for taskId: {task_id}")
    return task_id


@routes.post("/api/tasks/{taskId}/log")
async def append_log(request: web.Request) -> web.Response:
    context = context_of(request)
    task_id = await _known_task_id(request)
    body = await request.read()
    try:
        text = (await read_json(request)) if body.strip().startswith(b'"') else body.decode()
    except UnicodeDecodeError:
        raise bad_request("A task log must be UTF-8 text") from None
    if not isinstance(text, str) or not text:
        raise bad_request("A task log must be a non-empty string")
    await context.store.append_task_log(task_id, {"log": text, "taskId": task_id, "createdTime": now_ms()})
    return json_response({})


@routes.get("/api/tasks/{taskId}/log")
async def get_logs(request: web.Request) -> web.Response:
    task_id = await _known_task_id(request)
    logs = await context_of(request).store.task_logs(task_id)
    # Conductor answers 204 with no body when a task has no logs.
    return json_response(logs) if logs else web.Response(status=204)
