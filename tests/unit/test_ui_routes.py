"""The UI's routes on a bare aiohttp app: every Conductor UI path answers the app's
index.html, assets come from the build's ui-assets/ only, and a gateway without a build
says how to make one instead of failing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway import ui
from gateway.errors import error_middleware

PAGES = [
    "/",
    "/executions",
    "/execution/0b6d3c1e-some-id",
    "/workflowDefs",
    "/workflowDef/orders",
    "/workflowDef/orders/3",
    "/taskDefs",
    "/taskDef/resize",
    "/eventHandlerDefs",
    "/taskQueue",
    "/taskQueue/resize",
    "/workbench",
]


# The tests run on their own loop; the fixture must share it (fixtures default to the session's).
@pytest_asyncio.fixture(loop_scope="function")
async def client_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[tuple[TestClient, Path]]:
    monkeypatch.setattr(ui, "DIST", tmp_path / "dist")
    app = web.Application(middlewares=[error_middleware])
    app.add_routes(ui.routes)
    async with TestClient(TestServer(app)) as client:
        yield client, tmp_path / "dist"


def build(dist: Path) -> None:
    (dist / "ui-assets").mkdir(parents=True)
    (dist / "index.html").write_text('<div id="root"></div><script src="/ui-assets/index-abc.js"></script>')
    (dist / "ui-assets" / "index-abc.js").write_text("console.log('podium')")


async def test_every_conductor_ui_path_answers_the_apps_index(client_for: tuple[TestClient, Path]) -> None:
    client, dist = client_for
    build(dist)
    for path in PAGES:
        response = await client.get(path)
        assert response.status == 200, path
        assert response.content_type == "text/html", path
        assert '<div id="root">' in await response.text(), path


async def test_assets_are_served_from_the_build_and_nothing_outside_it(client_for: tuple[TestClient, Path]) -> None:
    client, dist = client_for
    build(dist)
    (dist / "secret.txt").write_text("not an asset")
    response = await client.get("/ui-assets/index-abc.js")
    assert response.status == 200
    assert "immutable" in response.headers["Cache-Control"]
    assert await response.text() == "console.log('podium')"
    for path in ("/ui-assets/missing.js", "/ui-assets/../secret.txt", "/ui-assets/%2e%2e/secret.txt"):
        response = await client.get(path)
        assert response.status == 404, path
        assert (await response.json())["status"] == 404


async def test_without_a_build_the_pages_say_how_to_build_it(client_for: tuple[TestClient, Path]) -> None:
    client, _ = client_for
    response = await client.get("/executions")
    assert response.status == 503
    assert response.content_type == "text/html"
    text = await response.text()
    assert "make ui" in text and "npm ci" in text


async def test_paths_under_api_are_not_taken_by_the_ui(client_for: tuple[TestClient, Path]) -> None:
    client, dist = client_for
    build(dist)
    response = await client.get("/api/workflowDefs")
    assert response.status == 404
    assert (await response.json())["message"] == "No API at GET /api/workflowDefs"
