"""`/api/workflow`: start, inspect, pause, resume, terminate and remove executions."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
from aiohttp import web

from actors.shard import Outcome, RemoveExecution
from actors.workflow import events as ev
from definitions.models import TERMINAL_WORKFLOW_STATUSES, StartWorkflowRequest, TaskResult, TaskStatus
from gateway.api import tasks
from gateway.api.metadata import checked_definition
from gateway.context import GatewayContext, context_of
from gateway.errors import (
    ApiError,
    bad_request,
    conflict,
    raise_for_answer,
    workflow_def_not_found,
    workflow_not_found,
)
from gateway.http import bool_param, int_param, json_response, parse_model, read_json, read_model, text_response
from gateway.mock_run import MockedRun, WorkflowTestRequest, start_request_for

routes = web.RouteTableDef()


async def start_workflow(context: GatewayContext, request: StartWorkflowRequest) -> str:
    if request.workflow_def is not None:
        definition = await checked_definition(context, request.workflow_def.to_wire())
        definition_json = orjson.dumps(definition.to_wire())
    else:
        found = await context.definitions.get(context.store, request.name, request.version)
        if found is None:
            raise workflow_def_not_found(request.name, request.version)
        definition_json = found
    workflow_id = str(uuid.uuid4())
    key = request.idempotency_key
    if key:
        existing, started = await _claim_idempotency(context, request, workflow_id)
        if started:
            return existing
        # Either the key is now ours, or it names a start that never got written (its
        # gateway died between the claim and the start): start that one, under its id.
        workflow_id = existing
    try:
        await _start(context, request, workflow_id, definition_json)
    except BaseException:
        if key:
            await context.store.release_idempotency_key(request.name, key, workflow_id)
        raise
    return workflow_id


IDEMPOTENCY_STRATEGIES = ("FAIL", "RETURN_EXISTING", "FAIL_ON_RUNNING")


async def _claim_idempotency(
    context: GatewayContext, request: StartWorkflowRequest, workflow_id: str
) -> tuple[str, bool]:
    """The id to start, or to answer without starting (`True`: it exists, RETURN_EXISTING).

    Without a strategy, FAIL: a second start with the same key is a conflict. A key whose
    workflow was never written (the gateway that claimed it died before starting it) is
    no conflict: the start goes ahead under the id the key names.
    """
    key = request.idempotency_key
    assert key
    strategy = (request.idempotency_strategy or "FAIL").upper()
    if strategy not in IDEMPOTENCY_STRATEGIES:
        raise bad_request(f"idempotencyStrategy must be one of {', '.join(IDEMPOTENCY_STRATEGIES)}, got {strategy!r}")
    existing = await context.store.claim_idempotency_key(request.name, key, workflow_id)
    if existing is None:
        return workflow_id, False
    found = await context.store.get_workflow(existing, include_tasks=False)
    if found is None:  # a removed workflow gives its key back, so this one was never written
        return existing, False
    if strategy == "RETURN_EXISTING":
        return existing, True
    if strategy == "FAIL_ON_RUNNING":
        ended = found is None or found["status"] in TERMINAL_WORKFLOW_STATUSES
        if ended and await context.store.replace_idempotency_key(request.name, key, existing, workflow_id):
            return workflow_id, False
        raise conflict(f"Workflow with idempotencyKey '{key}' is running: {existing}")
    raise conflict(f"Workflow with idempotencyKey '{key}' already exists: {existing}")


async def _start(
    context: GatewayContext, request: StartWorkflowRequest, workflow_id: str, definition_json: bytes
) -> None:
    await context.router.start(
        ev.StartFields(
            workflowId=workflow_id,
            definition=definition_json,
            input=request.input,
            correlationId=request.correlation_id,
            priority=request.priority,
            taskToDomain=request.task_to_domain,
            createdBy=request.created_by,
            idempotencyKey=request.idempotency_key,
        )
    )


@routes.post("/api/workflow")
async def start_with_request(request: web.Request) -> web.Response:
    context = context_of(request)
    start = await read_model(request, StartWorkflowRequest, "start workflow request")
    return text_response(await start_workflow(context, start))


@routes.post("/api/workflow/{name}")
async def start_by_name(request: web.Request) -> web.Response:
    context = context_of(request)
    body = await request.read()
    workflow_input: Any = {}
    if body.strip():
        try:
            workflow_input = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise bad_request(f"Malformed JSON: {error}") from None
    if not isinstance(workflow_input, dict):
        raise bad_request(f"Workflow input must be a JSON object, got {type(workflow_input).__name__}")
    priority = int_param(request, "priority", 0) or 0
    if not 0 <= priority <= 99:
        raise bad_request(f"priority must be between 0 and 99, got {priority}")
    start = StartWorkflowRequest(
        name=request.match_info["name"],
        version=int_param(request, "version"),
        correlation_id=request.query.get("correlationId"),
        priority=priority,
        input=workflow_input,
    )
    return text_response(await start_workflow(context, start))


@routes.get("/api/workflow/running/{name}")
async def running_workflows(request: web.Request) -> web.Response:
    context = context_of(request)
    return json_response(await context.store.running_ids(request.match_info["name"]))


async def correlated(
    context: GatewayContext, name: str, correlation_id: str, include_closed: bool, include_tasks: bool
) -> list[dict[str, Any]]:
    ids = await context.store.correlated_ids(name, correlation_id)
    found = await asyncio.gather(*(context.store.get_workflow(i, include_tasks) for i in ids))
    return [w for w in found if w is not None and (include_closed or w["status"] not in TERMINAL_WORKFLOW_STATUSES)]


@routes.get("/api/workflow/{name}/correlated/{correlationId}")
async def correlated_workflows(request: web.Request) -> web.Response:
    include_closed = bool_param(request, "includeClosed", False)
    include_tasks = bool_param(request, "includeTasks", False)
    name, correlation_id = request.match_info["name"], request.match_info["correlationId"]
    return json_response(await correlated(context_of(request), name, correlation_id, include_closed, include_tasks))


# A bound on one request's fan-out, as the bulk endpoints have.
MAX_CORRELATION_IDS = 1000


@routes.post("/api/workflow/{name}/correlated")
async def correlated_workflows_by_ids(request: web.Request) -> web.Response:
    """Conductor's batch form: a JSON list of correlation ids -> {correlationId: [workflows]}."""
    include_closed = bool_param(request, "includeClosed", False)
    include_tasks = bool_param(request, "includeTasks", False)
    ids = await read_json(request)
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise bad_request("The request body must be a JSON array of correlation ids (strings)")
    if len(ids) > MAX_CORRELATION_IDS:
        raise bad_request(f"Cannot look up more than {MAX_CORRELATION_IDS} correlation ids in one request")
    context, name = context_of(request), request.match_info["name"]
    unique = list(dict.fromkeys(ids))
    found = await asyncio.gather(*(correlated(context, name, c, include_closed, include_tasks) for c in unique))
    return json_response(dict(zip(unique, found, strict=True)))


async def existing_workflow(context: GatewayContext, workflow_id: str, include_tasks: bool = False) -> dict[str, Any]:
    found = await context.store.get_workflow(workflow_id, include_tasks)
    if found is None:
        raise workflow_not_found(workflow_id)
    return found


@routes.get("/api/workflow/{workflowId}")
async def get_workflow(request: web.Request) -> web.Response:
    context = context_of(request)
    include_tasks = bool_param(request, "includeTasks", True)
    return json_response(await existing_workflow(context, request.match_info["workflowId"], include_tasks))


@routes.get("/api/workflow/{workflowId}/status")
async def get_workflow_status(request: web.Request) -> web.Response:
    include_output = bool_param(request, "includeOutput", False)
    include_variables = bool_param(request, "includeVariables", False)
    workflow = await existing_workflow(context_of(request), request.match_info["workflowId"])
    return json_response(workflow_status(workflow, include_output, include_variables))


def workflow_status(workflow: dict[str, Any], include_output: bool, include_variables: bool) -> dict[str, Any]:
    """Conductor's WorkflowStatus: output and variables only when asked for, no empty correlationId."""
    status: dict[str, Any] = {"workflowId": workflow["workflowId"]}
    if workflow.get("correlationId"):
        status["correlationId"] = workflow["correlationId"]
    if include_output:
        status["output"] = workflow.get("output") or {}
    if include_variables:
        status["variables"] = workflow.get("variables") or {}
    status["status"] = workflow["status"]
    return status


# Conductor's default page size for `GET /workflow/{workflowId}/tasks`.
DEFAULT_TASK_PAGE = 15


@routes.get("/api/workflow/{workflowId}/tasks")
async def get_workflow_tasks(request: web.Request) -> web.Response:
    start = int_param(request, "start", 0) or 0
    count = int_param(request, "count", DEFAULT_TASK_PAGE)
    if start < 0:
        raise bad_request(f"start must not be negative, got {start}")
    if count is None or count < 0:
        raise bad_request(f"count must not be negative, got {count}")
    statuses = {s.upper() for raw in request.query.getall("status", []) for s in raw.split(",") if s}
    unknown = sorted(statuses - set(TaskStatus.__members__))
    if unknown:
        raise bad_request(f"Unknown task status {unknown[0]!r}: use one of {', '.join(TaskStatus.__members__)}")
    workflow = await existing_workflow(context_of(request), request.match_info["workflowId"], include_tasks=True)
    return json_response(task_page(workflow["tasks"], start, count, statuses))


def task_page(tasks: list[dict[str, Any]], start: int, count: int, statuses: set[str]) -> dict[str, Any]:
    """Conductor's SearchResult of tasks: `totalHits` counts the tasks with those statuses."""
    matching = [t for t in tasks if not statuses or t["status"] in statuses]
    return {"totalHits": len(matching), "results": matching[start : start + count]}


async def send_to_workflow(
    context: GatewayContext, workflow_id: str, event: ev.Event, action: str, *, nothing_to_do_is_ok: bool = False
) -> None:
    """Deliver one event and turn the shard's outcome into the API's answer.

    IGNORED means the execution had nothing to do; for pause, resume, terminate and the
    lifecycle operations that is a workflow in the wrong state (409), for decide and
    resetcallbacks it is success.
    """
    answer = await context.router.deliver(workflow_id, event)
    outcome = raise_for_answer(answer, workflow_id, getattr(event, "task_id", None))
    if outcome is Outcome.IGNORED and not nothing_to_do_is_ok:
        workflow = await existing_workflow(context, workflow_id)
        raise conflict(f"Cannot {action} workflow '{workflow_id}': it is {workflow['status']}")


async def pause(context: GatewayContext, workflow_id: str) -> None:
    await send_to_workflow(context, workflow_id, ev.Pause(), "pause")


async def resume(context: GatewayContext, workflow_id: str) -> None:
    await send_to_workflow(context, workflow_id, ev.Resume(), "resume")


async def terminate(
    context: GatewayContext, workflow_id: str, reason: str | None, trigger_failure_workflow: bool = False
) -> None:
    event = ev.Terminate(
        reason=reason or "Terminated through the API", trigger_failure_workflow=trigger_failure_workflow
    )
    await send_to_workflow(context, workflow_id, event, "terminate")


async def remove(context: GatewayContext, workflow_id: str, reason: str | None = None) -> None:
    """Terminate the execution if it is still running, then have its shard delete it (with
    its index and queue entries), so that no later checkpoint of the shard brings it back."""
    workflow = await existing_workflow(context, workflow_id)
    if workflow["status"] not in TERMINAL_WORKFLOW_STATUSES:
        # Terminated first, so that its children end and its parent learns of it.
        try:
            await send_to_workflow(
                context, workflow_id, ev.Terminate(reason=reason or "Removed through the API"), "remove"
            )
        except ApiError as error:
            if error.status != 409:
                raise
    raise_for_answer(await context.router.deliver(workflow_id, RemoveExecution()), workflow_id)


@routes.put("/api/workflow/{workflowId}/pause")
async def pause_workflow(request: web.Request) -> web.Response:
    await pause(context_of(request), request.match_info["workflowId"])
    return json_response({})


@routes.put("/api/workflow/{workflowId}/resume")
async def resume_workflow(request: web.Request) -> web.Response:
    await resume(context_of(request), request.match_info["workflowId"])
    return json_response({})


@routes.delete("/api/workflow/{workflowId}")
async def terminate_workflow(request: web.Request) -> web.Response:
    trigger_failure_workflow = bool_param(request, "triggerFailureWorkflow", False)
    await terminate(
        context_of(request), request.match_info["workflowId"], request.query.get("reason"), trigger_failure_workflow
    )
    return json_response({})


@routes.delete("/api/workflow/{workflowId}/remove")
async def remove_workflow(request: web.Request) -> web.Response:
    bool_param(request, "archiveWorkflow", True)  # Podium keeps no archive: checked, then ignored
    await remove(context_of(request), request.match_info["workflowId"])
    return json_response({})


# -- synchronous execution and mocked test runs ------------------------------------------

CONSISTENCIES = ("DURABLE", "SYNCHRONOUS", "REGION_DURABLE")
# Conductor's default wait, also used for `waitForSeconds=0`.
DEFAULT_EXECUTE_WAIT_SECONDS = 10


@routes.post("/api/workflow/execute/{name}/{version}")
async def execute_workflow(request: web.Request) -> web.Response:
    """Start, then answer when the workflow ends, reaches `waitUntilTaskRef` or blocks, or
    `waitForSeconds` passes (Conductor's WorkflowResource.executeWorkflow)."""
    context = context_of(request)
    raw_version = request.match_info["version"]
    try:
        version: int | None = int(raw_version)
    except ValueError:
        raise bad_request(f"Version must be an integer, got {raw_version!r}") from None
    strategy = (request.query.get("returnStrategy") or "TARGET_WORKFLOW").upper()
    if strategy not in tasks.RETURN_STRATEGIES:
        raise bad_request(f"returnStrategy must be one of {', '.join(tasks.RETURN_STRATEGIES)}, got {strategy!r}")
    # Every Podium start is durable before its id is answered, so each level means the same here.
    consistency = (request.query.get("consistency") or "DURABLE").upper()
    if consistency not in CONSISTENCIES:
        raise bad_request(f"consistency must be one of {', '.join(CONSISTENCIES)}, got {consistency!r}")
    wait_seconds = int_param(request, "waitForSeconds", DEFAULT_EXECUTE_WAIT_SECONDS) or DEFAULT_EXECUTE_WAIT_SECONDS
    max_seconds = tasks.MAX_SIGNAL_WAIT_MS // 1000
    if not 0 < wait_seconds <= max_seconds:
        raise bad_request(f"waitForSeconds must be between 0 and {max_seconds}, got {wait_seconds}")
    task_refs = [r.strip() for r in (request.query.get("waitUntilTaskRef") or "").split(",") if r.strip()]
    request_id = request.query.get("requestId") or str(uuid.uuid4())
    body = await read_json(request) if (await request.read()).strip() else {}
    if not isinstance(body, dict):
        raise bad_request(f"Invalid start workflow request: expected a JSON object, got {type(body).__name__}")
    # As in Conductor, the path names the workflow; version 0 means the latest.
    body = {**body, "name": request.match_info["name"], "version": version or None}
    start = parse_model(body, StartWorkflowRequest, "start workflow request")
    workflow_id = await start_workflow(context, start)
    response = await tasks.await_signal_response(
        context, workflow_id, strategy, wait_seconds * 1000, task_refs=task_refs, request_id=request_id
    )
    return json_response(response)


@routes.post("/api/workflow/test")
async def test_workflow(request: web.Request) -> web.Response:
    """Run a definition with mocked task outputs and answer the execution (see gateway/mock_run.py)."""
    context = context_of(request)
    test_request = await read_model(request, WorkflowTestRequest, "workflow test request")
    if not test_request.name:
        if test_request.workflow_def is None:
            raise bad_request("Invalid workflow test request: name or workflowDef is required")
        test_request.name = test_request.workflow_def.name
    workflow_id = await start_workflow(context, start_request_for(test_request))

    async def record(result: TaskResult) -> None:
        await tasks.record_result(context, result)

    async def get_workflow(workflow_id: str) -> dict[str, Any] | None:
        return await context.store.get_workflow(workflow_id, include_tasks=True)

    await MockedRun(get_workflow, record).run(test_request, workflow_id)
    return json_response(await existing_workflow(context, workflow_id, include_tasks=True))


# -- external payload storage --------------------------------------------------------------

STORAGE_OPERATIONS = ("READ", "WRITE")
PAYLOAD_TYPES = ("WORKFLOW_INPUT", "WORKFLOW_OUTPUT", "TASK_INPUT", "TASK_OUTPUT")


@routes.get("/api/workflow/externalstoragelocation")
@routes.get("/api/workflow/external-storage-location")
async def external_storage_location(request: web.Request) -> web.Response:
    """What a Conductor server without external payload storage configured answers.

    Its DummyPayloadStorage names a path (`{path}{uuid}.json`) and no `uri`: Podium keeps
    every payload in Redis and has nothing to upload to either.
    """
    for required in ("path", "operation", "payloadType"):
        if request.query.get(required) is None:
            raise bad_request(f"Required request parameter '{required}' is not present")
    operation, payload_type = request.query["operation"], request.query["payloadType"]
    if operation.upper() not in STORAGE_OPERATIONS or payload_type.upper() not in PAYLOAD_TYPES:
        raise bad_request(f"Invalid input - Operation: {operation}, PayloadType: {payload_type}")
    return json_response({"path": f"{request.query['path']}{uuid.uuid4()}.json"})
