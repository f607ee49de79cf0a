"""Conductor's error shape, and a middleware that turns every failure into it.

Conductor answers errors as `{"status", "message", "instance", "retryable",
"validationErrors": [{"path", "message"}]}`. Anything unexpected is a 500 with the
same shape, logged with its stack trace, never an HTML page.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from actors.shard import Answer, HandedOver, Outcome, Refused
from gateway.routing import ShardUnavailable

log = logging.getLogger("podium.gateway")
_HOST = socket.gethostname()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, message: str, validation_errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.validation_errors = validation_errors or []


def bad_request(message: str, validation_errors: list[dict[str, str]] | None = None) -> ApiError:
    return ApiError(400, message, validation_errors)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


# Conductor's texts for the two misses users and SDK code match on (WorkflowServiceImpl,
# MetadataServiceImpl): one place, so every endpoint says the same.
def workflow_not_found(workflow_id: str) -> ApiError:
    return ApiError(404, f"Workflow with id: {workflow_id} not found.")


def workflow_def_not_found(name: str, version: int | str | None) -> ApiError:
    # Conductor formats an absent version (the latest was asked for) as Java's `null`.
    shown = "null" if version is None else version
    return ApiError(404, f"No such workflow found by name: {name}, version: {shown}")


def raise_for_answer(answer: Answer, workflow_id: str, task_id: str | None = None) -> Outcome:
    """The one place a shard's answer becomes the API's: an unknown workflow or task is
    Conductor's 404, a refused operation its own status. OK and IGNORED are returned for
    the caller to read: doing nothing is success for some operations, a conflict for others."""
    if isinstance(answer, Refused):
        raise ApiError(answer.status, answer.message)
    if answer is Outcome.NOT_FOUND:
        raise workflow_not_found(workflow_id)
    if answer is Outcome.TASK_NOT_FOUND:
        raise not_found(f"No such task found by id: {task_id}")
    if isinstance(answer, HandedOver):
        return Outcome.OK
    return answer


def from_validation_error(error: ValidationError, what: str) -> ApiError:
    problems = [
        {"path": ".".join(str(part) for part in issue["loc"]) or what, "message": issue["msg"]}
        for issue in error.errors()
    ]
    summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
    return bad_request(f"Invalid {what}: {summary}", problems)


def error_response(status: int, message: str, validation_errors: list[dict[str, str]] | None = None) -> web.Response:
    body: dict[str, Any] = {
        "status": status,
        "message": message,
        "instance": _HOST,
        "retryable": status >= 500,
    }
    if validation_errors:
        body["validationErrors"] = validation_errors
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def unavailable(message: str) -> web.Response:
    """503, with the Retry-After Conductor's clients and proxies understand."""
    response = error_response(503, message)
    response.headers["Retry-After"] = "1"
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error.status, error.message, error.validation_errors)
    except web.HTTPRequestEntityTooLarge as error:
        return error_response(
            413, f"Request body is too large: {error.text} (the limit is set by PODIUM_MAX_PAYLOAD_BYTES)"
        )
    except web.HTTPException as error:
        if error.status < 400:
            raise
        message = error.text or error.reason
        if error.status == 404:
            message = f"No API at {request.method} {request.path}"
        elif error.status == 405:
            message = f"{request.method} is not allowed on {request.path}"
        return error_response(error.status, message)
    except ShardUnavailable as error:
        return unavailable(str(error))
    except (RedisConnectionError, RedisTimeoutError) as error:
        log.warning("Redis unavailable on %s %s: %s", request.method, request.path, error)
        return unavailable(f"Redis is unavailable ({type(error).__name__}); retry later")
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Internal error; the server log has the details")
