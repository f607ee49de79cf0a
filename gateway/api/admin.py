"""Conductor's AdminResource (`/api/admin`), QueueAdminResource (`/api/queue`),
VersionResource (`/api/version`), EnvironmentResource (`/api/environment`) and
SecretResource (`/api/secrets`).

Each is mapped onto what Podium has (docs/api.md, "Admin and queues"):

- pending tasks of a type come from the task search indexes;
- a sweep and a consistency repair hand an execution's waiting tasks to their workers
  again (the shard's Redispatch, as after a recovery);
- event queues are the event handlers' events, served by the Redis event bus;
- Conductor's two "default" queues (COMPLETED, FAILED) that complete a WAIT task from a
  message are not queues here: Podium applies the update at once, as their consumer would.
"""

from __future__ import annotations

import importlib.metadata
import os
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from aiohttp import web

from actors.workflow import events as ev
from actors.workflow.graph import base_reference
from cluster.config import ENV_VARS
from cluster.search import QueryError, search_tasks
from definitions.models import TERMINAL_TASK_STATUSES, TaskResult, TaskStatus
from gateway.api.tasks import read_task_output, record_result
from gateway.context import context_of
from gateway.errors import bad_request, not_found, raise_for_answer, workflow_not_found
from gateway.http import bool_param, int_param, json_response, text_response

routes = web.RouteTableDef()

# Conductor reads environment variables with this prefix (EnvVariableEnvironmentDAO's default).
ENVIRONMENT_PREFIX = "CONDUCTOR_ENV_"
MAX_PENDING_PAGE = 5000


def podium_version() -> str:
    try:
        return importlib.metadata.version("podium")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _without_password(value: str) -> str:
    """A URL with its password replaced, so the config can be shown to anyone who can call the API."""
    parts = urlsplit(value)
    if not parts.password:
        return value
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:****@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


# -- AdminResource --------------------------------------------------------------------------


@routes.get("/api/admin/config")
async def config(request: web.Request) -> web.Response:
    """Every setting by its environment variable (Conductor answers its properties), and the version."""
    settings = context_of(request).settings
    answer: dict[str, Any] = {}
    for field in fields(settings):
        value = getattr(settings, field.name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, str) and "://" in value:
            value = _without_password(value)
        answer[ENV_VARS.get(field.name, field.name)] = value
    answer["version"] = podium_version()
    return json_response(answer)


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


@routes.get("/api/admin/task/{taskType}")
async def pending_tasks(request: web.Request) -> web.Response:
    """Conductor's list of pending (SCHEDULED or IN_PROGRESS) tasks of a type, oldest change first."""
    task_type = request.match_info["taskType"]
    start = int_param(request, "start", 0) or 0
    count = int_param(request, "count", 100)
    if start < 0:
        raise bad_request(f"start must not be negative, got {start}")
    if count is None or not 0 <= count <= MAX_PENDING_PAGE:
        raise bad_request(f"count must be between 0 and {MAX_PENDING_PAGE}, got {count}")
    query = f"taskType = {_quoted(task_type)} AND status IN (SCHEDULED, IN_PROGRESS)"
    try:
        found = await search_tasks(
            context_of(request).store, True, start=start, size=count, sort="updateTime:ASC", free_text="*", query=query
        )
    except QueryError as error:  # a task type the query language cannot express
        raise bad_request(str(error)) from None
    return json_response(found["results"])


async def _redispatch(request: web.Request) -> tuple[str, bool]:
    """Hand every waiting task of the execution to its worker again; False if it has ended."""
    workflow_id = request.match_info["workflowId"]
    raise_for_answer(await context_of(request).router.deliver(workflow_id, ev.Redispatch()), workflow_id)
    workflow = await context_of(request).store.get_workflow(workflow_id, include_tasks=False)
    running = workflow is not None and workflow["status"] in ("RUNNING", "PAUSED")
    return workflow_id, running


@routes.post("/api/admin/sweep/requeue/{workflowId}")
async def requeue_sweep(request: web.Request) -> web.Response:
    """Conductor answers `<pushed>.<workflowId>`; pushed is false for an execution that has ended."""
    workflow_id, running = await _redispatch(request)
    return text_response(f"{str(running).lower()}.{workflow_id}")


@routes.post("/api/admin/consistency/verifyAndRepair/{workflowId}")
async def verify_and_repair(request: web.Request) -> web.Response:
    """`true` when the execution is running and its waiting tasks were handed out again."""
    _, running = await _redispatch(request)
    return text_response(str(running).lower())


def _queue_of(event: str) -> str:
    # Conductor's event names are `<type>:<queue>`; the queue is the rest.
    kind, separator, rest = event.partition(":")
    return rest if separator and rest else kind


@routes.get("/api/admin/queues")
async def event_queues(request: web.Request) -> web.Response:
    """The events active handlers listen to, each with its queue (with `verbose`, and its
    messages on the event bus not handled yet)."""
    verbose = bool_param(request, "verbose", False)
    store = context_of(request).store
    events = sorted({h["event"] for h in await store.list_event_handlers() if h.get("active") and h.get("event")})
    if not verbose:
        return json_response({event: _queue_of(event) for event in events})
    backlog = await store.event_backlog()
    return json_response({event: {_queue_of(event): backlog.get(event, 0)} for event in events})


# -- QueueAdminResource ----------------------------------------------------------------------

QUEUE_STATUSES = ("COMPLETED", "FAILED")


def _queue_name(status: str) -> str:
    return f"podium_queue_{status}"


@routes.get("/api/queue/size")
async def queue_sizes(request: web.Request) -> web.Response:
    # Updates are applied when they arrive: nothing ever waits in these queues.
    return json_response({_queue_name(status): 0 for status in QUEUE_STATUSES})


@routes.get("/api/queue/")
@routes.get("/api/queue")
async def queue_names(request: web.Request) -> web.Response:
    return json_response({status: _queue_name(status) for status in QUEUE_STATUSES})


def _queue_status(raw: str) -> TaskStatus:
    status = raw.upper()
    if status not in TaskStatus.__members__:
        raise bad_request(f"Unknown task status {raw!r}")
    if status not in QUEUE_STATUSES:
        raise bad_request(f"There is no queue for handling {status} status")
    return TaskStatus(status)


def _unfinished(task: dict[str, Any]) -> bool:
    return task["status"] not in TERMINAL_TASK_STATUSES


async def _update_from_queue(request: web.Request, external_id: dict[str, str]) -> web.Response:
    """What Conductor's DefaultEventQueueProcessor does with the message it publishes."""
    context = context_of(request)
    workflow_id = request.match_info["workflowId"]
    status = _queue_status(request.match_info["status"])
    output = await read_task_output(request)
    workflow = await context.store.get_workflow(workflow_id, include_tasks=True)
    if workflow is None:
        raise workflow_not_found(workflow_id)
    unfinished = [task for task in workflow["tasks"] if _unfinished(task)]
    if "taskId" in external_id:
        found = next((t for t in unfinished if t["taskId"] == external_id["taskId"]), None)
    else:
        reference = external_id["taskRefName"]
        found = next((t for t in unfinished if base_reference(t["referenceTaskName"]) == reference), None)
    if found is None:
        named = external_id.get("taskId") or external_id.get("taskRefName")
        raise not_found(f"No matching tasks found to be marked as {status.value} for workflow {workflow_id}, {named}")
    # As Conductor's message: the output carries the externalId the update was addressed by.
    payload = {"externalId": orjson.dumps({"workflowId": workflow_id, **external_id}).decode(), **output}
    result = TaskResult(workflow_instance_id=workflow_id, task_id=found["taskId"], status=status, output_data=payload)
    await record_result(context, result)
    return web.Response(status=200)


@routes.post("/api/queue/update/{workflowId}/task/{taskId}/{status}")
async def update_by_task_id(request: web.Request) -> web.Response:
    return await _update_from_queue(request, {"taskId": request.match_info["taskId"]})


@routes.post("/api/queue/update/{workflowId}/{taskRefName}/{status}")
async def update_by_reference(request: web.Request) -> web.Response:
    return await _update_from_queue(request, {"taskRefName": request.match_info["taskRefName"]})


# -- version and environment ---------------------------------------------------------------


@routes.get("/api/version")
async def version(request: web.Request) -> web.Response:
    return text_response(podium_version())


@routes.get("/api/environment")
async def environment(request: web.Request) -> web.Response:
    """`CONDUCTOR_ENV_*` variables of the gateway's process, prefix stripped, as `[{name, value}]`."""
    found = sorted(
        (k.removeprefix(ENVIRONMENT_PREFIX), v) for k, v in os.environ.items() if k.startswith(ENVIRONMENT_PREFIX)
    )
    return json_response([{"name": name, "value": value} for name, value in found])


@routes.get("/api/environment/{key}")
async def environment_variable(request: web.Request) -> web.Response:
    # Conductor answers 200 with an empty body for a variable that is not set.
    return text_response(os.environ.get(ENVIRONMENT_PREFIX + request.match_info["key"], ""))


# Conductor's default secrets store (EnvVariableSecretsDAO) reads variables with this prefix.
SECRET_PREFIX = "CONDUCTOR_SECRET_"


@routes.get("/api/secrets")
async def secret_names(request: web.Request) -> web.Response:
    """The names of the `CONDUCTOR_SECRET_*` variables of the gateway's process; never their values."""
    return json_response(sorted(k.removeprefix(SECRET_PREFIX) for k in os.environ if k.startswith(SECRET_PREFIX)))
