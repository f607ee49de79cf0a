"""`/api/workflow`: start, inspect, pause, resume, terminate and remove executions."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
from aiohttp import web

from actors.shard import IGNORED, NOT_FOUND, TASK_NOT_FOUND, parse_rejection
from actors.workflow import events as ev
from definitions.models import TERMINAL_WORKFLOW_STATUSES, StartWorkflowRequest
from gateway.api.metadata import checked_definition
from gateway.context import GatewayContext, context_of
from gateway.errors import ApiError, bad_request, conflict, not_found
from gateway.http import bool_param, int_param, json_response, read_model, text_response

routes = web.RouteTableDef()


async def start_workflow(context: GatewayContext, request: StartWorkflowRequest) -> str:
    if request.workflow_def is not None:
        definition = await checked_definition(context, request.workflow_def.to_wire())
        definition_json = orjson.dumps(definition.to_wire())
    else:
        found = await context.definitions.get(context.store, request.name, request.version)
        if found is None:
            version = f" version {request.version}" if request.version is not None else ""
            raise not_found(f"No workflow definition named '{request.name}'{version}")
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
        {
            "workflowId": workflow_id,
            "definition": definition_json,
            "input": request.input,
            "correlationId": request.correlation_id,
            "priority": request.priority,
            "taskToDomain": request.task_to_domain,
            "createdBy": request.created_by,
            "idempotencyKey": request.idempotency_key,
        }
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


@routes.get("/api/workflow/{name}/correlated/{correlationId}")
async def correlated_workflows(request: web.Request) -> web.Response:
    context = context_of(request)
    include_closed = bool_param(request, "includeClosed", False)
    include_tasks = bool_param(request, "includeTasks", False)
    ids = await context.store.correlated_ids(request.match_info["name"], request.match_info["correlationId"])
    found = await asyncio.gather(*(context.store.get_workflow(i, include_tasks) for i in ids))
    workflows = [
        w for w in found if w is not None and (include_closed or w["status"] not in TERMINAL_WORKFLOW_STATUSES)
    ]
    return json_response(workflows)


async def existing_workflow(context: GatewayContext, workflow_id: str, include_tasks: bool = False) -> dict[str, Any]:
    found = await context.store.get_workflow(workflow_id, include_tasks)
    if found is None:
        raise not_found(f"No workflow with id '{workflow_id}'")
    return found


@routes.get("/api/workflow/{workflowId}")
async def get_workflow(request: web.Request) -> web.Response:
    context = context_of(request)
    include_tasks = bool_param(request, "includeTasks", True)
    return json_response(await existing_workflow(context, request.match_info["workflowId"], include_tasks))


@routes.get("/api/workflow/{workflowId}/status")
async def get_workflow_status(request: web.Request) -> web.Response:
    workflow = await existing_workflow(context_of(request), request.match_info["workflowId"])
    summary = {key: workflow.get(key) for key in ("workflowId", "correlationId", "output", "variables", "status")}
    return json_response(summary)


async def send_to_workflow(
    context: GatewayContext, workflow_id: str, event: ev.Event, action: str, *, nothing_to_do_is_ok: bool = False
) -> None:
    """Deliver one event and turn the shard's outcome into the API's answer.

    IGNORED means the execution had nothing to do; for pause, resume, terminate and the
    lifecycle operations that is a workflow in the wrong state (409), for decide and
    resetcallbacks it is success.
    """
    outcome = await context.router.deliver(workflow_id, event)
    if outcome == NOT_FOUND:
        raise not_found(f"No workflow with id '{workflow_id}'")
    if outcome == TASK_NOT_FOUND:
        task_id = getattr(event, "task_id", None)
        raise not_found(f"No task '{task_id}' in workflow '{workflow_id}'")
    rejection = parse_rejection(outcome)
    if rejection is not None:
        raise ApiError(*rejection)
    if outcome == IGNORED and not nothing_to_do_is_ok:
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
    """Terminate the execution if it is still running, then delete it and its index entries."""
    workflow = await existing_workflow(context, workflow_id)
    if workflow["status"] not in TERMINAL_WORKFLOW_STATUSES:
        # The owning shard must let go first, or its next checkpoint would bring it back.
        try:
            await send_to_workflow(
                context, workflow_id, ev.Terminate(reason=reason or "Removed through the API"), "remove"
            )
        except ApiError as error:
            if error.status != 409:
                raise
    if not await context.store.remove_workflow(workflow_id):
        raise not_found(f"No workflow with id '{workflow_id}'")


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
