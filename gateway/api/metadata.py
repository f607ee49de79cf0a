"""`/api/metadata`: workflow and task definitions."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from actors.workflow.definition_checks import review_workflow_def
from definitions.models import TaskDef, WorkflowDef
from gateway.context import GatewayContext, context_of
from gateway.errors import bad_request, conflict, not_found, workflow_def_not_found
from gateway.http import bool_param, int_param, json_response, parse_model, parse_models, read_json

routes = web.RouteTableDef()


async def checked_definition(context: GatewayContext, data: Any, what: str = "workflow definition") -> WorkflowDef:
    """Parse and validate; a 400 lists every problem, each naming its task."""
    definition, _ = await reviewed_definition(context, data, what)
    return definition


async def reviewed_definition(
    context: GatewayContext, data: Any, what: str = "workflow definition"
) -> tuple[WorkflowDef, list[str]]:
    """Parse and validate, refusing only what Conductor refuses; also Podium's warnings."""
    definition = parse_model(data, WorkflowDef, what)
    task_defs = {d["name"]: TaskDef.model_validate(d) for d in await context.store.list_task_defs()}
    findings = review_workflow_def(definition, task_defs)
    problems = findings.errors
    if problems:
        raise bad_request(
            f"Invalid workflow definition '{definition.name}': " + "; ".join(problems),
            [{"path": definition.name, "message": problem} for problem in problems],
        )
    return definition, findings.warnings


def _stamped(definition: WorkflowDef, previous: dict[str, Any] | None) -> dict[str, Any]:
    now = int(time.time() * 1000)
    wire = definition.to_wire()
    wire["createTime"] = (previous or {}).get("createTime") or wire.get("createTime") or now
    if previous is not None:
        wire["updateTime"] = now
    return wire


@routes.post("/api/metadata/workflow")
async def create_workflow_def(request: web.Request) -> web.Response:
    context = context_of(request)
    definition = await checked_definition(context, await read_json(request))
    # Conductor's default: an existing name and version is a conflict unless overwrite=true.
    overwrite = bool_param(request, "overwrite", False)
    previous = await context.store.get_workflow_def(definition.name, definition.version)
    if previous is not None and not overwrite:
        raise conflict(f"Workflow with {definition.name}.{definition.version} already exists!")
    await context.store.put_workflow_def(_stamped(definition, previous))
    context.definitions.clear()
    return json_response({})


@routes.put("/api/metadata/workflow")
async def update_workflow_defs(request: web.Request) -> web.Response:
    context = context_of(request)
    data = await read_json(request)
    if not isinstance(data, list):
        raise bad_request("Expected a JSON array of workflow definitions")
    definitions = [await checked_definition(context, item, f"workflow definition #{i}") for i, item in enumerate(data)]
    stamped = []
    for definition in definitions:
        previous = await context.store.get_workflow_def(definition.name, definition.version)
        stamped.append(_stamped(definition, previous))
    await context.store.put_workflow_defs(stamped)
    context.definitions.clear()
    return json_response({"bulkErrorResults": {}, "bulkSuccessfulResults": [d.name for d in definitions]})


@routes.post("/api/metadata/workflow/validate")
async def validate_workflow_def_route(request: web.Request) -> web.Response:
    # Conductor answers 200 with no body; Podium adds the findings it registers anyway.
    _, warnings = await reviewed_definition(context_of(request), await read_json(request))
    return json_response({"warnings": warnings} if warnings else {})


def classifier_of(definition: dict[str, Any]) -> str:
    """Conductor's WorkflowClassifiers.classifierOf: read from the definition's `metadata`."""
    metadata = definition.get("metadata")
    if not isinstance(metadata, dict) or not metadata:
        return "workflow"
    explicit = metadata.get("classifier")
    if isinstance(explicit, str) and explicit.strip():
        return explicit
    if metadata.get("agent_sdk") is not None or metadata.get("agentDef") is not None:
        return "agent"
    return "workflow"


@routes.get("/api/metadata/workflow")
async def list_workflow_defs(request: web.Request) -> web.Response:
    definitions = await context_of(request).store.list_workflow_defs()
    wanted = request.query.get("classifier", "").strip()
    if wanted:
        definitions = [d for d in definitions if classifier_of(d).lower() == wanted.lower()]
    return json_response(definitions)


# Registered before `/api/metadata/workflow/{name}`, which would otherwise take these paths.
@routes.get("/api/metadata/workflow/names-and-versions")
async def workflow_names_and_versions(request: web.Request) -> web.Response:
    """Conductor's `{name: [WorkflowDefSummary {name, version, createTime, updateTime}]}`."""
    summaries: dict[str, list[dict[str, Any]]] = {}
    for definition in await context_of(request).store.list_workflow_defs():
        summary = {key: definition.get(key) for key in ("name", "version", "createTime", "updateTime")}
        summary["version"] = summary["version"] or 1
        summaries.setdefault(definition["name"], []).append({k: v for k, v in summary.items() if v is not None})
    return json_response(summaries)


@routes.get("/api/metadata/workflow/names")
async def workflow_names(request: web.Request) -> web.Response:
    """Every workflow definition name, once each, sorted."""
    names = {definition["name"] for definition in await context_of(request).store.list_workflow_defs()}
    return json_response(sorted(names))


@routes.get("/api/metadata/workflow/{name}/versions")
async def workflow_versions(request: web.Request) -> web.Response:
    """Conductor's `[{name, version, createTime}]` of one name, ascending; `[]` for an unknown name."""
    name = request.match_info["name"]
    summaries = [
        {key: value for key in ("name", "version", "createTime") if (value := definition.get(key)) is not None}
        for definition in await context_of(request).store.workflow_def_versions(name)
    ]
    return json_response(summaries)


@routes.get("/api/metadata/workflow/latest-versions")
async def latest_workflow_versions(request: web.Request) -> web.Response:
    """The latest version of every workflow definition."""
    latest: dict[str, dict[str, Any]] = {}
    for definition in await context_of(request).store.list_workflow_defs():  # versions in ascending order
        latest[definition["name"]] = definition
    return json_response(list(latest.values()))


@routes.get("/api/metadata/workflow/{name}")
async def get_workflow_def(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    version = int_param(request, "version")
    found = await context_of(request).store.get_workflow_def(name, version)
    if found is None:
        raise workflow_def_not_found(name, version)
    return json_response(found)


@routes.delete("/api/metadata/workflow/{name}/{version}")
async def delete_workflow_def(request: web.Request) -> web.Response:
    name, raw_version = request.match_info["name"], request.match_info["version"]
    if not raw_version.isdigit():
        raise bad_request(f"Version must be an integer, got {raw_version!r}")
    context = context_of(request)
    if not await context.store.delete_workflow_def(name, int(raw_version)):
        raise workflow_def_not_found(name, raw_version)
    context.definitions.clear()
    return json_response({})


def _checked_task_def(task_def: TaskDef, what: str) -> dict[str, Any]:
    if not task_def.name.strip():
        raise bad_request(f"Invalid {what}: name is required")
    if task_def.retry_count < 0:
        raise bad_request(f"Invalid {what} '{task_def.name}': retryCount must not be negative")
    if task_def.timeout_seconds and task_def.response_timeout_seconds > task_def.timeout_seconds:
        raise bad_request(
            f"Invalid {what} '{task_def.name}': responseTimeoutSeconds "
            f"({task_def.response_timeout_seconds}) must not exceed timeoutSeconds ({task_def.timeout_seconds})"
        )
    wire = task_def.to_wire()
    wire.setdefault("createTime", int(time.time() * 1000))
    return wire


@routes.post("/api/metadata/taskdefs")
async def create_task_defs(request: web.Request) -> web.Response:
    context = context_of(request)
    task_defs = parse_models(await read_json(request), TaskDef, "task definition")
    await context.store.put_task_defs([_checked_task_def(d, "task definition") for d in task_defs])
    await context.router.broadcast_refresh()
    return json_response({})


@routes.put("/api/metadata/taskdefs")
async def update_task_def(request: web.Request) -> web.Response:
    context = context_of(request)
    task_def = parse_model(await read_json(request), TaskDef, "task definition")
    checked = _checked_task_def(task_def, "task definition")
    existing = await context.store.get_task_def(task_def.name)
    if existing is None:
        raise not_found(f"No such task by name {task_def.name}")
    # As Conductor: an update keeps the creation time and stamps its own.
    checked["createTime"] = existing.get("createTime", checked["createTime"])
    checked["updateTime"] = int(time.time() * 1000)
    await context.store.put_task_defs([checked])
    await context.router.broadcast_refresh()
    return json_response({})


@routes.get("/api/metadata/taskdefs")
async def list_task_defs(request: web.Request) -> web.Response:
    return json_response(await context_of(request).store.list_task_defs())


@routes.get("/api/metadata/taskdefs/{name}")
async def get_task_def(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    found = await context_of(request).store.get_task_def(name)
    if found is None:
        raise not_found(f"No such taskType found by name: {name}")
    return json_response(found)


@routes.delete("/api/metadata/taskdefs/{name}")
async def delete_task_def(request: web.Request) -> web.Response:
    context = context_of(request)
    name = request.match_info["name"]
    if not await context.store.delete_task_def(name):
        raise not_found("Cannot remove the task - no such task definition")
    await context.router.broadcast_refresh()
    return json_response({})
