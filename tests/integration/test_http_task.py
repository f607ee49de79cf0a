"""HTTP tasks end to end: the shard calls a real local aiohttp server."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from tests.integration.client import PodiumClient


class LocalServer:
    """An aiohttp server on its own thread; counts calls per path."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/{name}", self._handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        self.loop.run_forever()

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        count = self.calls[name] = self.calls.get(name, 0) + 1
        if name.startswith("flaky") and count < 3:
            return web.json_response({"attempt": count}, status=500)
        if name.startswith("missing"):
            return web.json_response({"error": "not here"}, status=404)
        if name.startswith("slow"):
            await asyncio.sleep(3)
        body = await request.json() if request.can_read_body else None
        return web.json_response({"path": name, "method": request.method, "sent": body, "attempt": count})

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    local = LocalServer()
    yield local
    local.stop()


def _http_workflow(name: str, request: dict[str, Any], task_name: str = "call") -> dict[str, Any]:
    return {
        "name": name,
        "tasks": [
            {
                "name": task_name,
                "taskReferenceName": "call",
                "type": "HTTP",
                "inputParameters": {"http_request": request},
            }
        ],
        "outputParameters": {"status": "${call.output.response.statusCode}", "body": "${call.output.response.body}"},
    }


def test_an_http_task_completes_with_the_response(client: PodiumClient, server: LocalServer) -> None:
    uid = uuid.uuid4().hex[:8]
    name = f"http_ok_{uid}"
    request = {"uri": server.url(f"ok{uid}"), "method": "POST", "body": {"order": "${workflow.input.order}"}}
    client.register(_http_workflow(name, request))
    workflow = client.wait(client.start(name, {"order": 42}))
    assert workflow["status"] == "COMPLETED"
    assert workflow["output"] == {
        "status": 200,
        "body": {"path": f"ok{uid}", "method": "POST", "sent": {"order": 42}, "attempt": 1},
    }
    [task] = workflow["tasks"]
    assert task["taskType"] == "HTTP" and task["status"] == "COMPLETED"
    assert task["outputData"]["response"]["reasonPhrase"] == "OK"


def test_a_non_2xx_answer_fails_the_task_and_the_workflow(client: PodiumClient, server: LocalServer) -> None:
    uid = uuid.uuid4().hex[:8]
    name = f"http_404_{uid}"
    client.register(_http_workflow(name, {"uri": server.url(f"missing{uid}"), "method": "GET"}, f"lookup_{uid}"))
    workflow = client.wait(client.start(name))
    assert workflow["status"] == "FAILED"
    [task] = workflow["tasks"]
    assert task["status"] == "FAILED"
    assert task["outputData"]["response"]["statusCode"] == 404
    assert task["reasonForIncompletion"] == '{"error":"not here"}'


def test_failed_calls_are_retried_per_the_task_definition(client: PodiumClient, server: LocalServer) -> None:
    uid = uuid.uuid4().hex[:8]
    name, task_name = f"http_retry_{uid}", f"flaky_call_{uid}"
    client.register(
        _http_workflow(name, {"uri": server.url(f"flaky{uid}"), "method": "GET"}, task_name),
        [{"name": task_name, "retryCount": 3, "retryDelaySeconds": 0}],
    )
    workflow = client.wait(client.start(name))
    assert workflow["status"] == "COMPLETED"
    assert [t["status"] for t in workflow["tasks"]] == ["FAILED", "FAILED", "COMPLETED"]
    assert workflow["output"]["body"]["attempt"] == 3
    assert server.calls[f"flaky{uid}"] == 3


def test_a_read_timeout_fails_the_call(client: PodiumClient, server: LocalServer) -> None:
    uid = uuid.uuid4().hex[:8]
    name = f"http_slow_{uid}"
    client.register(_http_workflow(name, {"uri": server.url(f"slow{uid}"), "method": "GET", "readTimeOut": 300}))
    workflow = client.wait(client.start(name))
    assert workflow["status"] == "FAILED"
    assert "timed out" in workflow["tasks"][0]["reasonForIncompletion"]


def test_async_complete_waits_for_an_outside_update(client: PodiumClient, server: LocalServer) -> None:
    uid = uuid.uuid4().hex[:8]
    name = f"http_async_{uid}"
    definition = _http_workflow(name, {"uri": server.url(f"ok{uid}"), "method": "GET"})
    definition["tasks"][0]["asyncComplete"] = True
    client.register(definition)
    workflow_id = client.start(name)
    # The call is made, the task stays IN_PROGRESS with the response until completed.
    deadline = time.monotonic() + 30
    while "response" not in client.workflow(workflow_id)["tasks"][0]["outputData"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    task = client.workflow(workflow_id)["tasks"][0]
    assert task["status"] == "IN_PROGRESS"
    client.complete(task, {"confirmed": True})
    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert workflow["tasks"][0]["outputData"]["confirmed"] is True
