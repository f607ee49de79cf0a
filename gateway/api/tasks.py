"""`/api/tasks`: polling, results, task lookup, queue sizes and execution logs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from actors.shard import NOT_FOUND, TASK_NOT_FOUND
from actors.workflow import events as ev
from definitions.models import TERMINAL_TASK_STATUSES, TaskResult, TaskStatus
from gateway.context import GatewayContext, context_of
from gateway.errors import bad_request, not_found
from gateway.http import int_param, json_response, read_json, read_model, text_response

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
    while True:
        tasks = await context.store.poll(task_type, domain, count, now_ms())
        remaining = deadline - time.monotonic()
        if tasks or remaining <= 0:
            break
        await asyncio.sleep(min(0.05, remaining))
    now = now_ms()
    if worker_id:
        key = (task_type, worker_id)
        if now - _last_poll_recorded.get(key, 0) >= POLL_DATA_EVERY_MS:
            _last_poll_recorded[key] = now
            await context.store.record_poll(task_type, worker_id, domain, now)
    if not tasks:
        return []
    for task in tasks:
        task["status"] = "IN_PROGRESS"
        task["pollCount"] = task.get("pollCount", 0) + 1
        task["startTime"] = task.get("startTime") or now
        if worker_id:
            task["workerId"] = worker_id
        context.polled.remember(task)
    context.router.notify([(t["workflowInstanceId"], ev.TaskPolled(t["taskId"], worker_id)) for t in tasks])
    return tasks


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


async def record_result(context: GatewayContext, result: TaskResult) -> None:
    if result.status == TaskStatus.SCHEDULED:
        raise bad_request("A task result cannot set status SCHEDULED")
    event = ev.TaskUpdate(
        task_id=result.task_id,
        status=result.status.value,
        output_data=result.output_data,
        reason_for_incompletion=result.reason_for_incompletion,
        callback_after_seconds=result.callback_after_seconds,
        worker_id=result.worker_id,
    )
    outcome = await context.router.deliver(result.workflow_instance_id, event)
    if outcome == NOT_FOUND:
        raise not_found(f"No workflow with id '{result.workflow_instance_id}'")
    if outcome == TASK_NOT_FOUND:
        raise not_found(f"No task '{result.task_id}' in workflow '{result.workflow_instance_id}'")
    now = now_ms()
    for entry in result.logs:
        text = entry.get("log") if isinstance(entry, dict) else str(entry)
        if text:
            await context.store.append_task_log(result.task_id, {"log": text, "taskId": result.task_id,
                                                                 "createdTime": now})


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
    await record_result(context, result)
    polled = context.polled.take(result.task_id)
    if polled is None:
        task = await context.store.get_task(result.task_id)
        polled = (task["taskType"], task.get("domain")) if task else None
    if polled is not None:
        tasks = await poll_tasks(context, polled[0], polled[1], 1, result.worker_id, 0)
        if tasks:
            return json_response(tasks[0])
    return json_response(None)


@routes.post("/api/tasks/{workflowId}/{taskRefName}/{status}")
async def update_task_by_reference(request: web.Request) -> web.Response:
    context = context_of(request)
    workflow_id, reference = request.match_info["workflowId"], request.match_info["taskRefName"]
    status = request.match_info["status"].upper()
    if status not in TaskStatus.__members__ or status == "SCHEDULED":
        raise bad_request(f"Unknown task status {status!r}")
    body = await request.read()
    output = await read_json(request) if body.strip() else {}
    if not isinstance(output, dict):
        raise bad_request("The task output must be a JSON object")
    workflow = await context.store.get_workflow(workflow_id, include_tasks=True)
    if workflow is None:
        raise not_found(f"No workflow with id '{workflow_id}'")
    candidates = [t for t in workflow["tasks"] if t["referenceTaskName"] == reference]
    if not candidates:
        raise not_found(f"No task '{reference}' in workflow '{workflow_id}'")
    pending = [t for t in candidates if t["status"] not in TERMINAL_TASK_STATUSES]
    task = (pending or candidates)[-1]
    result = TaskResult(
        workflow_instance_id=workflow_id, task_id=task["taskId"], status=TaskStatus(status), output_data=output
    )
    await record_result(context, result)
    return text_response(task["taskId"])


@routes.get("/api/tasks/queue/sizes")
async def queue_sizes(request: web.Request) -> web.Response:
    task_types = request.query.getall("taskType", [])
    return json_response(await context_of(request).store.queue_sizes(task_types))


@routes.get("/api/tasks/{taskId}")
async def get_task(request: web.Request) -> web.Response:
    task_id = request.match_info["taskId"]
    task = await context_of(request).store.get_task(task_id)
    if task is None:
        raise not_found(f"No task with id '{task_id}'")
    return json_response(task)


async def _known_task_id(request: web.Request) -> str:
    task_id = request.match_info["taskId"]
    if await context_of(request).store.workflow_of_task(task_id) is None:
        raise not_found(f"No task with id '{task_id}'")
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
    return json_response(await context_of(request).store.task_logs(task_id))
