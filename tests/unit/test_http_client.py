"""The HTTP task's request against a real local aiohttp server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from actors.http_client import perform


def _task(request: dict[str, Any]) -> dict[str, Any]:
    return {"taskId": "t-1", "workflowInstanceId": "wf-1", "inputData": {"http_request": request}}


def _serve(check: Callable[[str], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        seen: list[Any] = []

        async def echo(request: web.Request) -> web.Response:
            seen.append({"method": request.method, "body": await request.text(), "auth": request.headers.get("X-Auth")})
            return web.json_response({"hello": "world", "got": await request.text()})

        async def missing(request: web.Request) -> web.Response:
            return web.json_response({"error": "no such order"}, status=404)

        async def plain_error(request: web.Request) -> web.Response:
            return web.Response(text="upstream down", status=503)

        async def slow(request: web.Request) -> web.Response:
            await asyncio.sleep(2)
            return web.json_response({})

        app = web.Application()
        app.router.add_route("*", "/echo", echo)
        app.router.add_get("/missing", missing)
        app.router.add_get("/down", plain_error)
        app.router.add_get("/slow", slow)
        async with TestServer(app) as server:
            result = await check(str(server.make_url("")))
        result["seen"] = seen
        return result

    return asyncio.run(main())


def _call(request: dict[str, Any], async_complete: bool = False) -> Callable[[str], Awaitable[dict[str, Any]]]:
    async def check(base: str) -> dict[str, Any]:
        request["uri"] = base + request["uri"] if request.get("uri", "").startswith("/") else request.get("uri")
        async with aiohttp.ClientSession() as session:
            return await perform(session, _task(request), async_complete)

    return check


def test_a_2xx_completes_with_the_parsed_body_status_headers_and_reason_phrase() -> None:
    result = _serve(_call({"uri": "/echo", "method": "POST", "body": {"a": 1}, "headers": {"X-Auth": "k"}}))
    assert result["status"] == "COMPLETED"
    response = result["outputData"]["response"]
    assert response["statusCode"] == 200
    assert response["reasonPhrase"] == "OK"
    assert response["body"] == {"hello": "world", "got": '{"a":1}'}
    assert response["headers"]["Content-Type"] == ["application/json; charset=utf-8"]
    assert result["seen"] == [{"method": "POST", "body": '{"a":1}', "auth": "k"}]
    # The result goes into a checkpoint as it is: it must serialise.
    del result["seen"]
    assert orjson.loads(orjson.dumps(result)) == result


def test_a_non_2xx_fails_with_the_body_as_reason_and_keeps_the_response() -> None:
    result = _serve(_call({"uri": "/missing", "method": "GET"}))
    assert result["status"] == "FAILED"
    assert result["outputData"]["response"]["statusCode"] == 404
    assert result["reasonForIncompletion"] == '{"error":"no such order"}'
    text = _serve(_call({"uri": "/down", "method": "GET"}))
    assert text["status"] == "FAILED" and text["reasonForIncompletion"] == "upstream down"


def test_a_read_timeout_fails_the_task() -> None:
    result = _serve(_call({"uri": "/slow", "method": "GET", "readTimeOut": 200}))
    assert result["status"] == "FAILED"
    assert "timed out" in result["reasonForIncompletion"]


def test_async_complete_keeps_a_successful_task_in_progress() -> None:
    result = _serve(_call({"uri": "/echo", "method": "GET"}, async_complete=True))
    assert result["status"] == "IN_PROGRESS"
    assert result["outputData"]["response"]["statusCode"] == 200


def test_bad_requests_fail_with_a_reason_naming_the_problem() -> None:
    missing_uri = _serve(_call({"method": "GET"}))
    assert missing_uri["status"] == "FAILED" and "Missing HTTP URI" in missing_uri["reasonForIncompletion"]
    bad_method = _serve(_call({"uri": "/echo", "method": "FETCH"}))
    assert bad_method["status"] == "FAILED" and "FETCH" in bad_method["reasonForIncompletion"]
    unreachable = _serve(_call({"uri": "http://127.0.0.1:9/", "method": "GET", "connectionTimeOut": 500}))
    assert unreachable["status"] == "FAILED"
    assert unreachable["reasonForIncompletion"].startswith("Failed to invoke HTTP task due to")


def test_inputs_at_the_top_level_work_like_http_request() -> None:
    async def check(base: str) -> dict[str, Any]:
        task = {"taskId": "t", "workflowInstanceId": "w", "inputData": {"uri": base + "/echo", "method": "GET"}}
        async with aiohttp.ClientSession() as session:
            return await perform(session, task)

    assert _serve(check)["status"] == "COMPLETED"
