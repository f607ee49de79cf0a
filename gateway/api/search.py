"""Search: `GET /api/workflow/search[-v2]` and `GET /api/tasks/search[-v2]` (cluster/search.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cluster.search import QueryError, search_tasks, search_workflows
from gateway.context import context_of
from gateway.errors import bad_request
from gateway.http import int_param, json_response

routes = web.RouteTableDef()


def _params(request: web.Request) -> dict[str, Any]:
    """Conductor's parameters; others it takes (queryId, skipCache, classifier, ...) are ignored."""
    return {
        "start": int_param(request, "start", 0),
        "size": int_param(request, "size", 100),
        "sort": request.query.get("sort"),
        "free_text": request.query.get("freeText", "*"),
        "query": request.query.get("query"),
    }


async def _answer(request: web.Request, tasks: bool, full: bool) -> web.Response:
    store = context_of(request).store
    try:
        if tasks:
            return json_response(await search_tasks(store, full, **_params(request)))
        return json_response(await search_workflows(store, full, **_params(request)))
    except QueryError as error:
        raise bad_request(str(error)) from None


@routes.get("/api/workflow/search")
async def search_workflow_summaries(request: web.Request) -> web.Response:
    return await _answer(request, tasks=False, full=False)


@routes.get("/api/workflow/search-v2")
async def search_workflows_v2(request: web.Request) -> web.Response:
    return await _answer(request, tasks=False, full=True)


@routes.get("/api/tasks/search")
async def search_task_summaries(request: web.Request) -> web.Response:
    return await _answer(request, tasks=True, full=False)


@routes.get("/api/tasks/search-v2")
async def search_tasks_v2(request: web.Request) -> web.Response:
    return await _answer(request, tasks=True, full=True)
