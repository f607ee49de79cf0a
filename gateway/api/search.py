"""Search: `GET /api/workflow/search[-v2]`, `search-by-tasks[-v2]` and `GET /api/tasks/search[-v2]`
(cluster/search.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cluster.search import TASKS, QueryError, Searcher, search_tasks, search_workflows, workflow_summary
from cluster.store import Store
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


async def search_workflows_by_tasks(store: Store, full: bool, **params: Any) -> dict[str, Any]:
    """The executions of the tasks a task search finds (Conductor's ExecutionService.searchWorkflowByTasks).

    One entry per execution, in the order of its first task found. As in Conductor, the page
    and `totalHits` are the task search's, less the tasks whose execution is gone.
    """
    found = await Searcher(store).search(TASKS, **params)
    tasks = await store.get_tasks(found.ids)
    owners = [task["workflowInstanceId"] for task in tasks if task is not None]
    unique = list(dict.fromkeys(owners))
    workflows = dict(zip(unique, await store.get_workflows(unique, with_definition=full), strict=True))
    present = [w for w in (workflows[o] for o in owners) if w is not None]
    missing = len(found.ids) - len(present)
    results = [w if full else workflow_summary(w) for w in (workflows[i] for i in unique) if w is not None]
    return {"totalHits": found.total - missing, "results": results}


async def _answer_by_tasks(request: web.Request, full: bool) -> web.Response:
    try:
        return json_response(await search_workflows_by_tasks(context_of(request).store, full, **_params(request)))
    except QueryError as error:
        raise bad_request(str(error)) from None


@routes.get("/api/workflow/search-by-tasks")
async def search_workflows_by_task_summaries(request: web.Request) -> web.Response:
    return await _answer_by_tasks(request, full=False)


@routes.get("/api/workflow/search-by-tasks-v2")
async def search_workflows_by_tasks_v2(request: web.Request) -> web.Response:
    return await _answer_by_tasks(request, full=True)
