"""The HTTP system task's call: one request on the shard's aiohttp connection pool.

`perform(session, task)` reads Conductor's HTTP task input (`http_request: {...}`, or the
same fields at the top level of the input) and answers a TaskResult-shaped dict: the
task COMPLETED with `response: {statusCode, body, headers, reasonPhrase}` for a 2xx
(IN_PROGRESS instead when `asyncComplete`), FAILED for any other status or when the
call could not be made. Nothing here blocks: the shard awaits it beside its loop.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import aiohttp
import orjson

# Conductor's own defaults (100 ms / 150 ms) suit calls inside one data centre; these
# suit calls across the internet. A task's connectionTimeOut / readTimeOut win.
DEFAULT_CONNECT_TIMEOUT_MS = 5_000
DEFAULT_READ_TIMEOUT_MS = 30_000
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def request_of(task: dict[str, Any]) -> dict[str, Any]:
    inputs = task.get("inputData") or {}
    request = inputs.get("http_request")
    return request if isinstance(request, dict) else inputs


def _result(task: dict[str, Any], status: str, output: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
    result = {
        "taskId": task["taskId"],
        "workflowInstanceId": task["workflowInstanceId"],
        "status": status,
        "outputData": output,
        "workerId": "podium-http",
    }
    if reason is not None:
        result["reasonForIncompletion"] = reason
    return result


def _timeout_ms(value: Any, default: int) -> float:
    return (value if isinstance(value, int | float) and value > 0 else default) / 1000


def _body_of(raw: bytes) -> Any:
    """JSON when it parses as JSON (as Conductor's extractBody does), else the text."""
    if not raw.strip():
        return raw.decode(errors="replace") or None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode(errors="replace")


async def perform(session: aiohttp.ClientSession, task: dict[str, Any], async_complete: bool = False) -> dict[str, Any]:
    """Make the task's request; `async_complete` keeps a successful task IN_PROGRESS for an
    outside update to finish, as Conductor's asyncComplete does."""
    request = request_of(task)
    uri = request.get("uri")
    if not isinstance(uri, str) or not uri.strip():
        return _result(task, "FAILED", {}, "Missing HTTP URI: set inputParameters.http_request.uri")
    method = str(request.get("method") or "GET").upper()
    if method not in METHODS:
        return _result(task, "FAILED", {}, f"Unsupported HTTP method {method!r}")
    content_type = str(request.get("contentType") or "application/json")
    headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items() if v is not None}
    headers.setdefault("Content-Type", content_type)
    accept = request.get("accept") or "application/json"
    headers.setdefault("Accept", ", ".join(accept) if isinstance(accept, list) else str(accept))
    body = request.get("body")
    data: bytes | None = None
    if body is not None and method not in ("GET", "HEAD"):
        data = body.encode() if isinstance(body, str) else orjson.dumps(body)
    timeout = aiohttp.ClientTimeout(
        sock_connect=_timeout_ms(request.get("connectionTimeOut"), DEFAULT_CONNECT_TIMEOUT_MS),
        sock_read=_timeout_ms(request.get("readTimeOut"), DEFAULT_READ_TIMEOUT_MS),
    )
    try:
        async with session.request(method, uri, data=data, headers=headers, timeout=timeout) as response:
            raw = await response.read()
            status = response.status
            response_headers: dict[str, Any] = {}
            for key, value in response.headers.items():
                # str(): the keys are multidict's istr, which orjson will not take as keys.
                response_headers.setdefault(str(key), []).append(str(value))
    except TimeoutError:
        return _result(task, "FAILED", {}, f"Failed to invoke HTTP task due to: timed out calling {method} {uri}")
    except (aiohttp.ClientError, ValueError, OSError) as error:
        reason = f"Failed to invoke HTTP task due to: {type(error).__name__}: {error}"
        return _result(task, "FAILED", {"response": str(error)}, reason)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    response_body = _body_of(raw)
    output = {
        "response": {"statusCode": status, "body": response_body, "headers": response_headers, "reasonPhrase": phrase}
    }
    if 200 <= status < 300:
        return _result(task, "IN_PROGRESS" if async_complete else "COMPLETED", output)
    if isinstance(response_body, str) and response_body:
        reason = response_body
    elif response_body is not None:
        reason = orjson.dumps(response_body).decode()
    else:
        reason = f"HTTP {status} {phrase}".strip()
    return _result(task, "FAILED", output, reason)
