"""The OpenAPI 3.1 document of the REST API at `/api-docs`, and Swagger UI at `/swagger-ui/`.

Conductor serves the same two paths (springdoc's `/api-docs`, `/swagger-ui/index.html`).
The document is built from the aiohttp router on each request, so a route added under
`/api` appears in it with no edit here: its methods and path parameters come from the
router, its summary from the handler's docstring, and what it reads from the request
from the handler's source. A handler (or a helper it hands `request` to) that reads

- `int_param(request, "count", 1)`, `bool_param(...)`, or any other `*_param(request, "name")`,
- `request.query.get("name")`, `.getall(...)`, `request.query["name"]`,

declares a query parameter; one that calls `read_model(request, Model, ...)`, or
`parse_model(s)(<the body from read_json(request)>, Model, ...)` (directly or in a function
it passes the body to), declares a body of that pydantic model. Reading the body in any
other way declares a JSON body of unknown shape. `json_response(..., status=N)`,
`text_response` and `web.Response(status=N)` declare the answers.

What the source cannot show (most handlers answer JSON straight from the store, not a
model) is in RESPONSE_MODELS and BODY_MODELS below; a test checks that each entry still
names a route.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from aiohttp import web
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from definitions.models import EventHandler, Task, TaskDef, Workflow, WorkflowDef
from gateway.http import json_response

routes = web.RouteTableDef()

API_PREFIX = "/api"
SWAGGER_PREFIX = "/swagger-ui"


Function = Callable[..., Any]


class ArrayOf(NamedTuple):
    model: type[BaseModel]


ModelRef = type[BaseModel] | ArrayOf

# Answers the handlers build from stored JSON rather than from a model, by (method, path).
RESPONSE_MODELS: dict[tuple[str, str], ModelRef] = {
    ("GET", "/api/workflow/{workflowId}"): Workflow,
    ("GET", "/api/tasks/{taskId}"): Task,
    ("GET", "/api/tasks/poll/{taskType}"): Task,
    ("GET", "/api/tasks/poll/batch/{taskType}"): ArrayOf(Task),
    ("GET", "/api/metadata/workflow"): ArrayOf(WorkflowDef),
    ("GET", "/api/metadata/workflow/latest-versions"): ArrayOf(WorkflowDef),
    ("GET", "/api/metadata/workflow/{name}"): WorkflowDef,
    ("GET", "/api/metadata/taskdefs"): ArrayOf(TaskDef),
    ("GET", "/api/metadata/taskdefs/{name}"): TaskDef,
    ("GET", "/api/event"): ArrayOf(EventHandler),
    ("GET", "/api/event/{event}"): ArrayOf(EventHandler),
}

# Bodies a handler validates in a way its source does not show (each item of a list).
BODY_MODELS: dict[tuple[str, str], ModelRef] = {
    ("PUT", "/api/metadata/workflow"): ArrayOf(WorkflowDef),
}


class ErrorBody(BaseModel):
    """Conductor's error body (gateway/errors.py), for every 4xx and 5xx."""

    status: int
    message: str
    instance: str
    retryable: bool
    validation_errors: list[dict[str, str]] | None = Field(None, alias="validationErrors")


# -- what a handler's source says ------------------------------------------------------------

PARAM_TYPES = {"int": "integer", "bool": "boolean", "float": "number"}
QUERY_READERS = {"get", "getone", "getall", "get_all"}
BODY_READERS = {"read", "text", "json", "post", "content"}


@dataclass
class QueryParam:
    type: str = "string"
    array: bool = False
    default: Any = None


@dataclass
class HandlerFacts:
    query: dict[str, QueryParam] = field(default_factory=dict)
    body: ModelRef | None = None
    any_body: bool = False
    responses: dict[int, str] = field(default_factory=dict)  # status -> "json" | "text" | "empty"


@functools.cache
def _function_node(function: Function) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return None
    node = ast.parse(source).body[0]
    return node if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else None


def _name_of(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _literal(node: ast.AST | None) -> Any:
    """The value of a literal (`10`, `"x"`, `[]`), or None for anything computed."""
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None


def _is_query(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "query"


def _resolve(function: Function, node: ast.AST) -> Any:
    """The object a name (or dotted name) in `function`'s source stands for, or None."""
    if isinstance(node, ast.Name):
        return function.__globals__.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(function, node.value)
        return getattr(owner, node.attr, None) if owner is not None else None
    return None


def _model(function: Function, node: ast.AST) -> type[BaseModel] | None:
    found = _resolve(function, node)
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [arg.arg for arg in (*node.args.posonlyargs, *node.args.args)]


class _Reader:
    """Walks a handler and the gateway functions it hands the request (or its body) to."""

    def __init__(self) -> None:
        self.facts = HandlerFacts()
        self._seen: set[tuple[Function, frozenset[str], frozenset[str]]] = set()

    def read(self, function: Function, request_names: set[str], body_names: set[str]) -> None:
        key = (function, frozenset(request_names), frozenset(body_names))
        node = _function_node(function)
        if key in self._seen or node is None:
            return
        self._seen.add(key)
        body_names = set(body_names)
        for statement in ast.walk(node):
            # `data = await read_json(request)`: `data` holds the body from here on.
            if isinstance(statement, ast.Assign) and self._holds_body(statement.value, request_names, body_names):
                body_names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
        for child in ast.walk(node):
            if isinstance(child, ast.Call):
                self._call(function, child, request_names, body_names)
            elif isinstance(child, ast.Subscript) and _is_query(child.value):
                self._query(_literal(child.slice))
            elif isinstance(child, ast.Compare) and any(_is_query(c) for c in child.comparators):
                self._query(_literal(child.left))

    def _holds_body(self, node: ast.AST, request_names: set[str], body_names: set[str]) -> bool:
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and child.id in body_names:
                return True
            if isinstance(child, ast.Call) and _name_of(child) == "read_json":
                return True
        return False

    def _query(self, name: Any, param: QueryParam | None = None) -> None:
        if isinstance(name, str) and name not in self.facts.query:
            self.facts.query[name] = param or QueryParam()

    def _call(self, function: Function, call: ast.Call, request_names: set[str], body_names: set[str]) -> None:
        name = _name_of(call)
        args = call.args
        if name is None:
            return
        if isinstance(call.func, ast.Attribute) and _is_query(call.func.value) and name in QUERY_READERS and args:
            default = _literal(args[1]) if len(args) > 1 else None
            array = name in ("getall", "get_all")
            self._query(_literal(args[0]), QueryParam(array=array, default=default))
        elif name.endswith("_param") and len(args) >= 2 and isinstance(_literal(args[1]), str):
            given = args[2] if len(args) > 2 else next((k.value for k in call.keywords if k.arg == "default"), None)
            kind = PARAM_TYPES.get(name.removesuffix("_param"), "string")
            self._query(_literal(args[1]), QueryParam(type=kind, default=_literal(given)))
        elif name == "read_model" and len(args) >= 2:
            self.facts.body = self.facts.body or _model(function, args[1])
        elif name in ("parse_model", "parse_models") and len(args) >= 2:
            if self._holds_body(args[0], request_names, body_names):
                model = _model(function, args[1])
                if model is not None and self.facts.body is None:
                    self.facts.body = ArrayOf(model) if name == "parse_models" else model
        elif name == "read_json" or (
            name in BODY_READERS
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id in request_names
        ):
            self.facts.any_body = True
        elif name in ("json_response", "text_response", "Response"):
            self._response(name, call)
        self._follow(function, call, request_names, body_names)

    def _response(self, name: str, call: ast.Call) -> None:
        status = next((_literal(k.value) for k in call.keywords if k.arg == "status"), None)
        if status is None and name == "json_response" and len(call.args) > 1:
            status = _literal(call.args[1])
        status = status if isinstance(status, int) else 200
        kind = {"json_response": "json", "text_response": "text"}.get(name, "empty" if status == 204 else "json")
        self.facts.responses.setdefault(status, kind)

    def _follow(self, function: Function, call: ast.Call, request_names: set[str], body_names: set[str]) -> None:
        """Read on into a gateway function (or one beside the caller) that gets the request or its body."""
        callee = _resolve(function, call.func)
        if not inspect.isfunction(callee):
            return
        if not (callee.__module__.startswith("gateway.") or callee.__module__ == function.__module__):
            return
        node = _function_node(callee)
        if node is None:
            return
        parameters = _parameters(node)
        passed = [(parameters[i], arg) for i, arg in enumerate(call.args) if i < len(parameters)]
        passed += [(k.arg, k.value) for k in call.keywords if k.arg]
        inner_request = {p for p, arg in passed if isinstance(arg, ast.Name) and arg.id in request_names}
        inner_body = {p for p, arg in passed if self._holds_body(arg, request_names, body_names)}
        if inner_request or inner_body:
            self.read(callee, inner_request, inner_body)


@functools.cache
def handler_facts(handler: Function) -> HandlerFacts:
    """What a handler reads and answers, from its source (and its helpers')."""
    node = _function_node(handler)
    reader = _Reader()
    if node is not None and _parameters(node):
        reader.read(handler, {_parameters(node)[0]}, set())
    return reader.facts


# -- the document -----------------------------------------------------------------------------

PATH_PARAMETER = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def api_routes(app: web.Application) -> Iterator[tuple[str, str, Function]]:
    """(method, path, handler) of every route under /api; aiohttp's implicit HEADs left out."""
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method in ("HEAD", "*") or not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            continue
        yield route.method, path, route.handler


def _name(handler: Function) -> str:
    return str(getattr(handler, "__name__", type(handler).__name__))


def _summary(handler: Function) -> tuple[str, str | None]:
    doc = inspect.getdoc(handler)
    if not doc:
        return _name(handler).replace("_", " ").capitalize(), None
    first, _, rest = doc.partition("\n\n")
    return " ".join(first.split()), rest.strip() or None


def _tag(handler: Function) -> str:
    # gateway/app.py serves one route under /api: the health check.
    return "health" if handler.__module__ == "gateway.app" else handler.__module__.rsplit(".", 1)[-1]


class _Schemas:
    """Collects the models the document names, then writes them once under components."""

    def __init__(self) -> None:
        # Each reference is filled in by components(): pydantic names the schemas only once it
        # sees them all (two models of one name get names of their own).
        self._references: list[tuple[type[BaseModel], dict[str, Any]]] = []

    def ref(self, model: ModelRef) -> dict[str, Any]:
        inner = model.model if isinstance(model, ArrayOf) else model
        reference: dict[str, Any] = {}
        self._references.append((inner, reference))
        return {"type": "array", "items": reference} if isinstance(model, ArrayOf) else reference

    def components(self) -> dict[str, Any]:
        models = list(dict.fromkeys(model for model, _ in self._references))
        references, schemas = models_json_schema(
            [(model, "validation") for model in models],
            by_alias=True,
            ref_template="#/components/schemas/{model}",
        )
        for model, reference in self._references:
            reference.update(references[(model, "validation")])
        return schemas.get("$defs", {})


def _parameters_of(path: str, facts: HandlerFacts) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in PATH_PARAMETER.findall(path)
    ]
    for name, param in facts.query.items():
        schema: dict[str, Any] = {"type": param.type}
        if param.array:
            schema = {"type": "array", "items": schema}
        if param.default is not None:
            schema["default"] = param.default
        parameters.append({"name": name, "in": "query", "required": False, "schema": schema})
    return parameters


def _operation(method: str, path: str, handler: Function, schemas: _Schemas) -> dict[str, Any]:
    facts = handler_facts(handler)
    summary, description = _summary(handler)
    operation: dict[str, Any] = {"tags": [_tag(handler)], "summary": summary, "operationId": _name(handler)}
    if description:
        operation["description"] = description
    parameters = _parameters_of(path, facts)
    if parameters:
        operation["parameters"] = parameters
    body = BODY_MODELS.get((method, path)) or facts.body
    if body is not None:
        content = {"application/json": {"schema": schemas.ref(body)}}
        operation["requestBody"] = {"required": True, "content": content}
    elif facts.any_body:
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": {}}}}
    responses: dict[str, Any] = {}
    model = RESPONSE_MODELS.get((method, path))
    for status, kind in sorted((facts.responses or {200: "json"}).items()):
        answer: dict[str, Any] = {"description": "No content" if kind == "empty" else "OK"}
        if kind == "json":
            schema = schemas.ref(model) if model is not None and status == 200 else {}
            answer["content"] = {"application/json": {"schema": schema}}
        elif kind == "text":
            answer["content"] = {"text/plain": {"schema": {"type": "string"}}}
        responses[str(status)] = answer
    responses["default"] = {
        "description": "An error, in Conductor's error body",
        "content": {"application/json": {"schema": schemas.ref(ErrorBody)}},
    }
    operation["responses"] = responses
    return operation


def _version() -> str:
    try:
        return importlib.metadata.version("podium")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


def build_document(app: web.Application) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    tags: dict[str, str | None] = {}
    for method, path, handler in api_routes(app):
        operation = _operation(method, path, handler, schemas)
        # operationId must be unique; two modules may name a handler alike.
        base, suffix = operation["operationId"], 2
        while operation["operationId"] in operation_ids:
            operation["operationId"], suffix = f"{base}_{suffix}", suffix + 1
        operation_ids.add(operation["operationId"])
        tag = operation["tags"][0]
        if tag not in tags:
            # A module of gateway/api/ is one group of endpoints: its docstring describes them.
            in_api = handler.__module__.startswith("gateway.api.")
            module_doc = inspect.getdoc(inspect.getmodule(handler)) if in_api else None
            tags[tag] = " ".join(module_doc.split("\n\n")[0].split()) if module_doc else None
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Podium REST API",
            "version": _version(),
            "description": "Conductor's REST API as Podium serves it; docs/api.md describes each endpoint.",
        },
        "tags": [{"name": name, "description": doc} if doc else {"name": name} for name, doc in sorted(tags.items())],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas.components()},
    }


@routes.get("/api-docs")
async def api_docs(request: web.Request) -> web.Response:
    return json_response(build_document(request.app))


# -- Swagger UI -------------------------------------------------------------------------------


def _swagger_files() -> dict[str, Path]:
    from swagger_ui_bundle import swagger_ui_path

    return {entry.name: Path(str(entry)) for entry in swagger_ui_path.iterdir() if entry.is_file()}


SWAGGER_FILES = _swagger_files()

# The bundle's own index.html and initializer open the Petstore example; these open /api-docs.
SWAGGER_INDEX = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Podium REST API</title>
  <link rel="stylesheet" href="./swagger-ui.css">
  <link rel="stylesheet" href="./index.css">
  <link rel="icon" type="image/png" href="./favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="./swagger-ui-bundle.js"></script>
  <script src="./swagger-ui-standalone-preset.js"></script>
  <script src="./swagger-initializer.js"></script>
</body>
</html>
"""

SWAGGER_INITIALIZER = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/api-docs",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
  });
};
"""


@routes.get("/swagger-ui.html")
@routes.get(SWAGGER_PREFIX)
@routes.get(SWAGGER_PREFIX + "/")
async def swagger_redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound(SWAGGER_PREFIX + "/index.html")


@routes.get(SWAGGER_PREFIX + "/index.html")
async def swagger_index(request: web.Request) -> web.Response:
    return web.Response(text=SWAGGER_INDEX, content_type="text/html")


@routes.get(SWAGGER_PREFIX + "/swagger-initializer.js")
async def swagger_initializer(request: web.Request) -> web.Response:
    return web.Response(text=SWAGGER_INITIALIZER, content_type="application/javascript")


@routes.get(SWAGGER_PREFIX + "/{name}")
async def swagger_asset(request: web.Request) -> web.StreamResponse:
    # Only the bundle's own files, by exact name: nothing else on disk is reachable.
    found = SWAGGER_FILES.get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    return web.FileResponse(found)
