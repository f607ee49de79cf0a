"""Authentication endpoints: `POST /api/token` (an application key for a token, as
conductor-python asks for one) and the admin API for application keys."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from pydantic import Field

from cluster.store import AppKey
from definitions.models import ConductorModel
from gateway.auth import keys
from gateway.auth.authenticator import TooManyAttempts
from gateway.auth.errors import AuthError
from gateway.auth.middleware import AUTHENTICATOR_KEY
from gateway.errors import ApiError, bad_request, not_found
from gateway.http import json_response, read_model

routes = web.RouteTableDef()


class TokenRequest(ConductorModel):
    key_id: str = Field(min_length=1, max_length=200)
    key_secret: str = Field(min_length=1, max_length=500)


class KeyRequest(ConductorModel):
    name: str = Field(min_length=1, max_length=200)
    role: str


def _authenticator(request: web.Request) -> Any:
    authenticator = request.app.get(AUTHENTICATOR_KEY)
    if authenticator is None:
        raise not_found("authentication is off on this Podium (PODIUM_AUTH=off): no token is needed")
    return authenticator


@routes.post("/api/token")
async def token(request: web.Request) -> web.Response:
    authenticator = _authenticator(request)
    asked = await read_model(request, TokenRequest, "token request")
    try:
        issued = await authenticator.exchange(asked.key_id, asked.key_secret, request.remote or "?")
    except TooManyAttempts as refused:
        response = json_response({"status": 429, "message": str(refused), "retryable": True}, 429)
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    except AuthError as error:
        raise ApiError(401, error.message) from None
    return json_response({"token": issued})


@routes.post("/api/auth/keys")
async def create_key(request: web.Request) -> web.Response:
    authenticator = _authenticator(request)
    asked = await read_model(request, KeyRequest, "application key")
    if asked.role not in keys.ROLES:
        raise bad_request(f"role must be one of {', '.join(keys.ROLES)}, got {asked.role!r}")
    secret = keys.new_secret()
    key = AppKey(keys.new_key_id(), asked.name, asked.role, keys.hash_secret(secret), int(time.time() * 1000))
    await authenticator.store.put_app_key(key)
    # The secret is shown once, here; Redis keeps only its hash.
    return json_response({**key.public(), "secret": secret})


@routes.get("/api/auth/keys")
async def list_keys(request: web.Request) -> web.Response:
    authenticator = _authenticator(request)
    return json_response([key.public() for key in await authenticator.store.list_app_keys()])


@routes.delete("/api/auth/keys/{keyId}")
async def revoke_key(request: web.Request) -> web.Response:
    authenticator = _authenticator(request)
    key_id = request.match_info["keyId"]
    if not await authenticator.store.revoke_app_key(key_id):
        raise not_found(f"No application key with id {key_id}")
    return web.Response(status=204)
