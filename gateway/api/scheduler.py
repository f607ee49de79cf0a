"""`/api/scheduler`: workflow schedules, as Conductor OSS's SchedulerResource serves them.

The firing itself is gateway/scheduler.py; the decisions (next fire time, catch-up,
what a started workflow receives) are definitions/schedules.py.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from definitions.cron import CronError
from definitions.schedules import (
    ExecutionQuery,
    ScheduleError,
    WorkflowSchedule,
    checked,
    next_run,
    next_runs,
    sort_records,
)
from gateway.api.metadata import checked_definition
from gateway.context import GatewayContext, context_of
from gateway.errors import bad_request, not_found
from gateway.http import bool_param, int_param, json_response, read_model

routes = web.RouteTableDef()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _schedule_not_found(name: str) -> Exception:
    return not_found(f"Schedule '{name}' not found")


async def save_schedule(context: GatewayContext, schedule: WorkflowSchedule) -> dict[str, Any]:
    """Create or update; the schedule as stored, with its next run time."""
    try:
        cron = checked(schedule)
    except ScheduleError as error:
        raise bad_request(str(error)) from None
    request = schedule.start_workflow_request
    assert request is not None
    if request.workflow_def is not None:
        await checked_definition(context, request.workflow_def.to_wire(), "startWorkflowRequest.workflowDef")
    elif await context.definitions.get(context.store, request.name, request.version) is None:
        version = f", version: {request.version}" if request.version is not None else ""
        raise not_found(f"No such workflow found by name: {request.name}{version}")
    now = _now_ms()
    existing = await context.store.get_schedule(schedule.name)
    stamped = schedule.model_copy(
        update={
            "create_time": existing.get("createTime") if existing else now,
            "created_by": existing.get("createdBy") if existing else "",
            "updated_time": now,
            "updated_by": "",
            "next_run_time": None,
        }
    )
    following = None if stamped.paused else next_run(stamped, cron, now, now)
    wire = stamped.to_wire()
    await context.store.save_schedule(stamped.name, wire, following)
    if following is not None:
        wire["nextRunTime"] = following
    return wire


async def existing_schedule(context: GatewayContext, name: str) -> dict[str, Any]:
    found = await context.store.get_schedule(name)
    if found is None:
        raise _schedule_not_found(name)
    return found


@routes.post("/api/scheduler/schedules")
async def create_or_update(request: web.Request) -> web.Response:
    """Create or update a workflow schedule."""
    schedule = await read_model(request, WorkflowSchedule, "workflow schedule")
    return json_response(await save_schedule(context_of(request), schedule))


@routes.get("/api/scheduler/schedules")
async def all_schedules(request: web.Request) -> web.Response:
    """Every schedule, or those of one workflow (`workflowName`)."""
    workflow_name = (request.query.get("workflowName") or "").strip()
    found = await context_of(request).store.all_schedules()
    if workflow_name:
        found = [s for s in found if (s.get("startWorkflowRequest") or {}).get("name") == workflow_name]
    return json_response(found)


@routes.get("/api/scheduler/schedules/search")
async def search_schedules(request: web.Request) -> web.Response:
    """Search schedules by workflow, name, paused state and free text."""
    workflow_name = request.query.get("workflowName")
    schedule_name = request.query.get("scheduleName")
    paused = bool_param(request, "paused", False) if request.query.get("paused") else None
    free_text = request.query.get("freeText", "*")
    start = int_param(request, "start", 0) or 0
    size = int_param(request, "size", 100) or 0
    if start < 0 or size < 0:
        raise bad_request("start and size must not be negative")
    found = []
    for schedule in await context_of(request).store.all_schedules():
        workflow = (schedule.get("startWorkflowRequest") or {}).get("name") or ""
        if workflow_name and workflow != workflow_name:
            continue
        if schedule_name and schedule_name.lower() not in schedule["name"].lower():
            continue
        if paused is not None and bool(schedule.get("paused")) != paused:
            continue
        if free_text not in ("", "*"):
            text = free_text.lower()
            if not any(text in str(v or "").lower() for v in (schedule["name"], workflow, schedule.get("description"))):
                continue
        found.append(schedule)
    return json_response({"totalHits": len(found), "results": found[start : start + size]})


@routes.get("/api/scheduler/schedules/{name}")
async def get_schedule(request: web.Request) -> web.Response:
    """A schedule by name, with its next run time."""
    return json_response(await existing_schedule(context_of(request), request.match_info["name"]))


@routes.delete("/api/scheduler/schedules/{name}")
async def delete_schedule(request: web.Request) -> web.Response:
    """Delete a schedule (the records of its fires stay)."""
    # As in Conductor, deleting a schedule that does not exist is no error.
    await context_of(request).store.delete_schedule(request.match_info["name"])
    return web.Response(status=204)


async def _pause(request: web.Request) -> web.Response:
    """Pause a schedule (`reason` optional): it fires no more until resumed."""
    context = context_of(request)
    name = request.match_info["name"]
    stored = await existing_schedule(context, name)
    stored.update({"paused": True, "pausedReason": request.query.get("reason"), "updatedTime": _now_ms()})
    stored.pop("nextRunTime", None)
    await context.store.save_schedule(name, {k: v for k, v in stored.items() if v is not None}, None)
    return json_response({})


async def _resume(request: web.Request) -> web.Response:
    """Resume a paused schedule from its next instant after now (instants missed while paused never run)."""
    context = context_of(request)
    name = request.match_info["name"]
    stored = await context.store.get_schedule(name)
    if stored is None or not stored.get("paused"):
        # Conductor answers a resume of a schedule that is not paused as one that does not exist.
        raise _schedule_not_found(name)
    stored.update({"paused": False, "pausedReason": None})
    schedule = WorkflowSchedule.model_validate(stored)
    await save_schedule(context, schedule)
    return json_response({})


# Conductor OSS maps these to PUT; Orkes Conductor and older SDKs use GET: both work.
for method in ("GET", "PUT"):
    routes.route(method, "/api/scheduler/schedules/{name}/pause")(_pause)
    routes.route(method, "/api/scheduler/schedules/{name}/resume")(_resume)


@routes.get("/api/scheduler/nextFewSchedules")
async def next_few_schedules(request: web.Request) -> web.Response:
    """The next (at most 5) instants of a cron expression, in UTC."""
    expression = request.query.get("cronExpression")
    if not expression:
        raise bad_request("Query parameter 'cronExpression' is required")
    start = int_param(request, "scheduleStartTime")
    end = int_param(request, "scheduleEndTime")
    limit = int_param(request, "limit", 5) or 0
    try:
        return json_response(next_runs(expression, _now_ms(), start, end, limit))
    except CronError as error:
        raise bad_request(str(error)) from None


@routes.get("/api/scheduler/search/executions")
async def search_executions(request: web.Request) -> web.Response:
    """The records of the fires of schedules: which workflow each started, or why it failed."""
    try:
        query = ExecutionQuery.parse(request.query.get("query"))
    except ScheduleError as error:
        raise bad_request(str(error)) from None
    free_text = request.query.get("freeText", "*")
    start = int_param(request, "start", 0) or 0
    size = int_param(request, "size", 100) or 0
    if start < 0 or size < 0:
        raise bad_request("start and size must not be negative")
    sort = [option for value in request.query.getall("sort", []) for option in value.split(",") if option]
    records = await context_of(request).store.schedule_runs(query.schedule_names or None)
    found = sort_records([r for r in records if query.matches(r, free_text)], sort)
    return json_response({"totalHits": len(found), "results": found[start : start + size]})
