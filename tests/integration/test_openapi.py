"""`/api-docs` and Swagger UI as a running gateway serves them; `/api/admin/dashboard`."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any, cast
from urllib.parse import urljoin

import pytest
import requests
from openapi_spec_validator import validate

from cluster.config import Settings
from cluster.dashboard import token_auth_enabled
from cluster.runtime import Runtime
from gateway.app import build_app
from gateway.context import GatewayContext


def _base(podium: Runtime) -> str:
    return podium.api_url.removesuffix("/api")


@pytest.fixture(scope="module")
def document(podium: Runtime) -> dict[str, Any]:
    answer = requests.get(f"{_base(podium)}/api-docs", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    return cast(dict[str, Any], answer.json())


def _served_api_routes() -> set[tuple[str, str]]:
    """(method, path) of every route under /api in the app the gateway serves (the router
    does not look at the context, so a bare one builds the same routes)."""
    app = build_app(cast(GatewayContext, _BareContext()))
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"  # aiohttp adds one to each GET
    }


class _BareContext:
    settings = Settings()


def test_every_route_under_api_is_in_the_document_with_its_methods(document: dict[str, Any]) -> None:
    served = _served_api_routes()
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert len(served) > 50
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"


def test_the_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    validate(document)


def test_path_parameters_bodies_and_query_parameters_come_from_the_handlers(document: dict[str, Any]) -> None:
    def operation(method: str, path: str) -> dict[str, Any]:
        return cast(dict[str, Any], document["paths"][path][method])

    def query(method: str, path: str) -> dict[str, str]:
        params = operation(method, path).get("parameters", [])
        return {p["name"]: p["schema"]["type"] for p in params if p["in"] == "query"}

    def body(method: str, path: str) -> Any:
        return operation(method, path)["requestBody"]["content"]["application/json"]["schema"]

    get_workflow = operation("get", "/api/workflow/{workflowId}")
    assert {"name": "workflowId", "in": "path", "required": True, "schema": {"type": "string"}} in get_workflow[
        "parameters"
    ]
    assert query("get", "/api/workflow/{workflowId}") == {"includeTasks": "boolean"}
    assert body("post", "/api/workflow") == {"$ref": "#/components/schemas/StartWorkflowRequest"}
    # The body goes from the handler through checked_definition to parse_model(..., WorkflowDef).
    assert body("post", "/api/metadata/workflow") == {"$ref": "#/components/schemas/WorkflowDef"}
    assert query("post", "/api/metadata/workflow")["overwrite"] == "boolean"
    assert body("post", "/api/metadata/taskdefs") == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/TaskDef"},
    }
    assert body("post", "/api/tasks") == {"$ref": "#/components/schemas/TaskResult"}
    # Read by a helper the handler hands the request to (_poll_arguments), and by the handler.
    assert query("get", "/api/tasks/poll/batch/{taskType}").items() >= {
        "count": "integer", "timeout": "integer", "workerid": "string", "domain": "string",
    }.items()
    assert query("get", "/api/workflow/search").items() >= {
        "start": "integer", "size": "integer", "sort": "string", "freeText": "string", "query": "string",
    }.items()
    assert query("get", "/api/tasks/queue/sizes") == {"taskType": "array"}
    # Summaries are the handlers' docstrings.
    assert operation("post", "/api/tasks/update-v2")["summary"] == (
        "Record a result and hand back the next task of the same type in one round trip."
    )
    poll_one = operation("get", "/api/tasks/poll/{taskType}")["responses"]
    assert poll_one["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Task"}
    assert "content" not in poll_one["204"]
    assert operation("post", "/api/workflow")["responses"]["200"]["content"] == {
        "text/plain": {"schema": {"type": "string"}}
    }
    schemas = document["components"]["schemas"]
    assert "taskReferenceName" in schemas["WorkflowTask"]["properties"], "models use Conductor's JSON names"
    assert set(schemas["ErrorBody"]["properties"]) >= {"status", "message", "instance", "retryable"}


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        url = found.get("src") if tag == "script" else found.get("href") if tag == "link" else None
        if url:
            self.urls.append(url)


def test_swagger_ui_page_loads_its_assets_from_the_gateway(podium: Runtime) -> None:
    base = _base(podium)
    for entry in ("/swagger-ui.html", "/swagger-ui/"):
        moved = requests.get(base + entry, allow_redirects=False, timeout=30)
        assert moved.status_code == 302 and moved.headers["Location"] == "/swagger-ui/index.html", entry
    page_url = f"{base}/swagger-ui/index.html"
    page = requests.get(page_url, timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assets = _Assets()
    assets.feed(page.text)
    assert any(url.endswith("swagger-ui-bundle.js") for url in assets.urls), assets.urls
    for url in assets.urls:
        asset_url = urljoin(page_url, url)
        assert asset_url.startswith(base), f"{url} is not served by the gateway"
        answer = requests.get(asset_url, timeout=30)
        assert answer.status_code == 200 and answer.content, f"{asset_url}: {answer.status_code}"
    initializer = requests.get(f"{base}/swagger-ui/swagger-initializer.js", timeout=30).text
    assert re.search(r"url:\s*\"/api-docs\"", initializer), initializer
    assert requests.get(f"{base}/swagger-ui/..%2Fpyproject.toml", timeout=30).status_code == 404


def test_dashboard_endpoint_says_where_the_dashboard_is_and_how_to_sign_in(podium: Runtime) -> None:
    # The session's Ray runs without a dashboard (conftest), with Ray's default authentication.
    answer = requests.get(f"{podium.api_url}/admin/dashboard", timeout=30)
    assert answer.status_code == 200, answer.text
    access = answer.json()
    assert access["url"] is None
    if token_auth_enabled():
        assert access["authentication"] == "token"
        assert access["tokenCommand"].endswith("ray get-auth-token")
        assert access["tokenSource"]
    else:
        assert access == {"url": None, "authentication": "disabled", "tokenSource": None, "tokenCommand": None}
