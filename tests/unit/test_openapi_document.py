"""The OpenAPI document from a router: a new route is documented with no declaration."""

from __future__ import annotations

from typing import Any, cast

from aiohttp import web
from openapi_spec_validator import validate

from cluster.config import Settings
from definitions.models import TaskDef
from gateway import openapi
from gateway.app import build_app
from gateway.context import GatewayContext
from gateway.http import bool_param, int_param, json_response, read_model

routes = web.RouteTableDef()


def _limit(request: web.Request) -> int:
    return int_param(request, "limit", 10) or 10


@routes.put("/api/example/{name}/things")
async def put_things(request: web.Request) -> web.Response:
    """Replace the things of one example.

    A longer description, for the page.
    """
    task_def = await read_model(request, TaskDef, "task definition")
    dry_run = bool_param(request, "dryRun", False)
    tags = request.query.getall("tag", [])
    return json_response({"name": task_def.name, "limit": _limit(request), "dryRun": dry_run, "tags": tags}, 202)


@routes.get("/not-api/elsewhere")
async def elsewhere(request: web.Request) -> web.Response:
    return json_response({})


def _document() -> dict[str, Any]:
    app = web.Application()
    app.add_routes(routes)
    return openapi.build_document(app)


def test_a_new_route_is_documented_from_its_code_alone() -> None:
    document = _document()
    validate(document)
    assert list(document["paths"]) == ["/api/example/{name}/things"], "only routes under /api"
    operation = document["paths"]["/api/example/{name}/things"]["put"]
    assert operation["summary"] == "Replace the things of one example."
    assert operation["description"] == "A longer description, for the page."
    assert operation["operationId"] == "put_things"
    parameters = {(p["in"], p["name"]): p["schema"] for p in operation["parameters"]}
    assert parameters == {
        ("path", "name"): {"type": "string"},
        ("query", "dryRun"): {"type": "boolean", "default": False},
        ("query", "tag"): {"type": "array", "items": {"type": "string"}, "default": []},
        ("query", "limit"): {"type": "integer", "default": 10},  # read in a helper given the request
    }
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TaskDef"
    }
    assert set(operation["responses"]) == {"202", "default"}
    assert "TaskDef" in document["components"]["schemas"]


class _BareContext:
    settings = Settings()


def test_the_tables_of_what_code_cannot_show_name_served_routes() -> None:
    app = build_app(cast(GatewayContext, _BareContext()))
    served = {(method, path) for method, path, _ in openapi.api_routes(app)}
    stale = (set(openapi.RESPONSE_MODELS) | set(openapi.BODY_MODELS)) - served
    assert stale == set(), "entries for routes that no longer exist"
