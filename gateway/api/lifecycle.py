"""`/api/workflow` lifecycle operations: restart, retry, rerun, skip, reset callbacks,
decide, terminate-remove, and the bulk forms of Conductor's WorkflowBulkResource."""

from __future__ import annotations

import ast
import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from actors.workflow import events as ev
from definitions.models import TERMINAL_WORKFLOW_STATUSES, ConductorModel
from gateway.api.workflows import existing_workflow, pause, remove, resume, send_to_workflow, terminate
from gateway.context import GatewayContext, context_of
from gateway.errors import ApiError, bad_request, conflict, not_found, workflow_not_found
from gateway.http import bool_param, json_response, parse_model, read_json, read_model, text_response

log = logging.getLogger("podium.gateway")
routes = web.RouteTableDef()

# Conductor's WorkflowBulkService.MAX_REQUEST_ITEMS.
MAX_BULK_IDS = 1000
# Guards the walk up `parentWorkflowId` against a corrupted, cyclic chain.
MAX_NESTING = 100


class RerunWorkflowRequest(ConductorModel):
    re_run_from_workflow_id: str | None = None
    workflow_input: dict[str, Any] | None = None
    re_run_from_task_id: str | None = None
    task_input: dict[str, Any] | None = None
    correlation_id: str | None = None


class SkipTaskRequest(ConductorModel):
    task_input: dict[str, Any] | None = None
    task_output: dict[str, Any] | None = None


def no_content() -> web.Response:
    # Conductor answers 204 on restart, retry and resetcallbacks (for its 2.x clients).
    return web.Response(status=204)


# -- the operations, shared by the single and the bulk endpoints --------------------------


async def restart(context: GatewayContext, workflow_id: str, use_latest_definitions: bool) -> None:
    definition_json: bytes | None = None
    if use_latest_definitions:
        name = (await existing_workflow(context, workflow_id))["workflowName"]
        definition_json = await context.store.get_workflow_def_raw(name)
        if definition_json is None:
            # Conductor's text, then what is missing.
            missing = f"no workflow definition named '{name}'"
            raise not_found(f"Unable to find latest definition for {workflow_id}: {missing}")
    await send_to_workflow(context, workflow_id, ev.Restart(definition_json=definition_json), "restart")


async def retry(context: GatewayContext, workflow_id: str, resume_subworkflow_tasks: bool = False) -> None:
    await send_to_workflow(context, workflow_id, ev.Retry(resume_subworkflow_tasks=resume_subworkflow_tasks), "retry")


async def rerun(context: GatewayContext, workflow_id: str, request: RerunWorkflowRequest) -> None:
    workflow = await existing_workflow(context, workflow_id)
    task_id = request.re_run_from_task_id
    holder = workflow_id
    if task_id is not None:
        found = await context.store.workflow_of_task(task_id)
        if found is None:
            raise not_found(f"No task with id '{task_id}'")
        holder = found
    if holder != workflow_id:
        if not await _descends_from(context, holder, workflow_id):
            raise bad_request(f"Task '{task_id}' does not belong to workflow '{workflow_id}'")
        # The shard that owns the sub-workflow sees only that one; Conductor refuses the
        # rerun unless the workflow named in the path has ended too.
        if workflow["status"] not in TERMINAL_WORKFLOW_STATUSES:
            raise conflict(f"Cannot rerun workflow '{workflow_id}': it is {workflow['status']}")
        if request.workflow_input is not None or request.correlation_id is not None:
            raise bad_request(
                f"Task '{task_id}' is in sub-workflow '{holder}' of workflow '{workflow_id}': rerunning from it "
                "cannot also change workflowInput or correlationId"
            )
    event = ev.Rerun(
        task_id=task_id,
        task_input=request.task_input,
        workflow_input=request.workflow_input,
        correlation_id=request.correlation_id,
    )
    await send_to_workflow(context, holder, event, "rerun")


async def _descends_from(context: GatewayContext, workflow_id: str, ancestor: str) -> bool:
    current = workflow_id
    for _ in range(MAX_NESTING):
        found = await context.store.get_workflow(current, include_tasks=False)
        parent = found.get("parentWorkflowId") if found else None
        if not parent:
            return False
        if parent == ancestor:
            return True
        current = parent
    return False


async def terminate_remove(context: GatewayContext, workflow_id: str, reason: str | None) -> None:
    await remove(context, workflow_id, reason or "Terminated and removed through the API")


# -- single-workflow endpoints ----------------------------------------------------------


@routes.post("/api/workflow/{workflowId}/restart")
async def restart_workflow(request: web.Request) -> web.Response:
    use_latest = bool_param(request, "useLatestDefinitions", False)
    await restart(context_of(request), request.match_info["workflowId"], use_latest)
    return no_content()


@routes.post("/api/workflow/{workflowId}/retry")
async def retry_workflow(request: web.Request) -> web.Response:
    resume_subworkflow_tasks = bool_param(request, "resumeSubworkflowTasks", False)
    await retry(context_of(request), request.match_info["workflowId"], resume_subworkflow_tasks)
    return no_content()


@routes.post("/api/workflow/{workflowId}/rerun")
async def rerun_workflow(request: web.Request) -> web.Response:
    workflow_id = request.match_info["workflowId"]
    # As in Conductor, the path names the workflow; the body's reRunFromWorkflowId is not used.
    rerun_request = await read_model(request, RerunWorkflowRequest, "rerun workflow request")
    await rerun(context_of(request), workflow_id, rerun_request)
    return text_response(workflow_id)


@routes.put("/api/workflow/{workflowId}/skiptask/{taskReferenceName}")
async def skip_task(request: web.Request) -> web.Response:
    skip = await _skip_task_request(request)
    event = ev.SkipTask(
        reference_name=request.match_info["taskReferenceName"], task_input=skip.task_input, task_output=skip.task_output
    )
    await send_to_workflow(context_of(request), request.match_info["workflowId"], event, "skip a task of")
    return json_response({})


async def _skip_task_request(request: web.Request) -> SkipTaskRequest:
    """The body, or the `skipTaskRequest` query parameter conductor-python sends instead.

    That SDK puts the request in the query string as a Python dict literal (`str(dict)`),
    so a value that is not JSON is read as a Python literal too; nothing is evaluated.
    """
    fields: dict[str, Any] = {}
    raw = request.query.get("skipTaskRequest")
    if raw:
        fields.update(_query_object(raw, "skipTaskRequest"))
    if (await request.read()).strip():
        body = await read_json(request)
        if body is not None:
            if not isinstance(body, dict):
                raise bad_request(f"Invalid skip task request: expected a JSON object, got {type(body).__name__}")
            fields.update(body)
    return parse_model(fields, SkipTaskRequest, "skip task request")


def _query_object(raw: str, name: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise bad_request(f"Query parameter '{name}' must be a JSON object, got {raw[:200]!r}") from None
    if not isinstance(value, dict):
        raise bad_request(f"Query parameter '{name}' must be a JSON object, got {type(value).__name__}")
    return value


@routes.post("/api/workflow/{workflowId}/resetcallbacks")
async def reset_callbacks(request: web.Request) -> web.Response:
    await send_to_workflow(
        context_of(request),
        request.match_info["workflowId"],
        ev.ResetCallbacks(),
        "reset callbacks of",
        nothing_to_do_is_ok=True,
    )
    return no_content()


@routes.put("/api/workflow/decide/{workflowId}")
async def decide(request: web.Request) -> web.Response:
    await send_to_workflow(
        context_of(request), request.match_info["workflowId"], ev.Decide(), "decide", nothing_to_do_is_ok=True
    )
    return json_response({})


@routes.delete("/api/workflow/{workflowId}/terminate-remove")
async def terminate_remove_workflow(request: web.Request) -> web.Response:
    bool_param(request, "archiveWorkflow", True)  # Podium keeps no archive: checked, then ignored
    await terminate_remove(context_of(request), request.match_info["workflowId"], request.query.get("reason"))
    return json_response({})


# -- bulk endpoints (Conductor's WorkflowBulkResource) ------------------------------------

Operation = Callable[[GatewayContext, str], Awaitable[None]]


async def _bulk(request: web.Request, operation: Operation) -> web.Response:
    """Run `operation` on every id at once; each id's error is the single endpoint's message."""
    context = context_of(request)
    workflow_ids = await _workflow_ids(request)

    async def one(workflow_id: str) -> str | None:
        try:
            await operation(context, workflow_id)
        except ApiError as error:
            return error.message
        except Exception:
            log.exception("bulk %s %s: %s failed", request.method, request.path, workflow_id)
            return "Internal error; the server log has the details"
        return None

    errors = await asyncio.gather(*(one(workflow_id) for workflow_id in workflow_ids))
    response = {
        "bulkSuccessfulResults": [w for w, error in zip(workflow_ids, errors, strict=True) if error is None],
        "bulkErrorResults": {w: error for w, error in zip(workflow_ids, errors, strict=True) if error is not None},
        "message": "Bulk Request has been processed.",
    }
    return json_response(response)


async def _workflow_ids(request: web.Request) -> list[str]:
    ids = await read_json(request)
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise bad_request("The request body must be a JSON array of workflow ids (strings)")
    if not ids:
        raise bad_request("WorkflowIds list cannot be null.")
    if len(ids) > MAX_BULK_IDS:
        raise bad_request(f"Cannot process more than {MAX_BULK_IDS} workflows. Please use multiple requests.")
    return ids


@routes.put("/api/workflow/bulk/pause")
async def bulk_pause(request: web.Request) -> web.Response:
    return await _bulk(request, pause)


@routes.put("/api/workflow/bulk/resume")
async def bulk_resume(request: web.Request) -> web.Response:
    return await _bulk(request, resume)


@routes.post("/api/workflow/bulk/restart")
async def bulk_restart(request: web.Request) -> web.Response:
    use_latest = bool_param(request, "useLatestDefinitions", False)
    return await _bulk(request, lambda context, workflow_id: restart(context, workflow_id, use_latest))


@routes.post("/api/workflow/bulk/retry")
async def bulk_retry(request: web.Request) -> web.Response:
    return await _bulk(request, retry)


@routes.post("/api/workflow/bulk/terminate")
async def bulk_terminate(request: web.Request) -> web.Response:
    reason = request.query.get("reason")
    trigger = bool_param(request, "triggerFailureWorkflow", False)
    return await _bulk(request, lambda context, workflow_id: terminate(context, workflow_id, reason, trigger))


@routes.delete("/api/workflow/bulk/remove")
async def bulk_remove(request: web.Request) -> web.Response:
    bool_param(request, "archiveWorkflow", True)
    return await _bulk(request, remove)


@routes.delete("/api/workflow/bulk/terminate-remove")
async def bulk_terminate_remove(request: web.Request) -> web.Response:
    bool_param(request, "archiveWorkflow", True)
    reason = request.query.get("reason")
    return await _bulk(request, lambda context, workflow_id: terminate_remove(context, workflow_id, reason))


@routes.post("/api/workflow/bulk/search")
async def bulk_search(request: web.Request) -> web.Response:
    """The executions of the listed ids: found ones in `bulkSuccessfulResults`, in request order."""
    context = context_of(request)
    include_tasks = bool_param(request, "includeTasks", True)
    workflow_ids = await _workflow_ids(request)
    found = await asyncio.gather(*(context.store.get_workflow(i, include_tasks) for i in workflow_ids))
    response = {
        "bulkSuccessfulResults": [w for w in found if w is not None],
        "bulkErrorResults": {
            i: workflow_not_found(i).message for i, w in zip(workflow_ids, found, strict=True) if w is None
        },
        "message": "Bulk Request has been processed.",
    }
    return json_response(response)
