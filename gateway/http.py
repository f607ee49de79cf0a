"""Small helpers for reading requests and writing Conductor-shaped responses."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.errors import bad_request, from_validation_error

Model = TypeVar("Model", bound=BaseModel)


# orjson's limit on writing nested arrays and objects.
MAX_NESTING = 254


async def read_json(request: web.Request) -> Any:
    body = await request.read()
    if not body.strip():
        raise bad_request("Request body is empty; expected JSON")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise bad_request(f"Malformed JSON: {error}") from None
    # Podium keeps what it accepts as JSON, and writes at most MAX_NESTING levels; only a
    # body with that many brackets can be deeper, so only those pay for the check.
    if body.count(b"[") + body.count(b"{") > MAX_NESTING:
        try:
            orjson.dumps(value)
        except orjson.JSONEncodeError:
            raise bad_request(f"JSON nested more than {MAX_NESTING} levels deep") from None
    return value


async def read_model(request: web.Request, model: type[Model], what: str) -> Model:
    return parse_model(await read_json(request), model, what)


def parse_model(data: Any, model: type[Model], what: str) -> Model:
    if not isinstance(data, dict):
        raise bad_request(f"Invalid {what}: expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise from_validation_error(error, what) from None


def parse_models(data: Any, model: type[Model], what: str) -> list[Model]:
    if not isinstance(data, list):
        raise bad_request(f"Invalid {what} list: expected a JSON array, got {type(data).__name__}")
    return [parse_model(item, model, f"{what} #{index}") for index, item in enumerate(data)]


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(value), content_type="application/json")


def text_response(value: str) -> web.Response:
    return web.Response(text=value, content_type="text/plain")


def int_param(request: web.Request, name: str, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"Query parameter '{name}' must be an integer, got {raw!r}") from None


def bool_param(request: web.Request, name: str, default: bool) -> bool:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise bad_request(f"Query parameter '{name}' must be true or false, got {raw!r}")
