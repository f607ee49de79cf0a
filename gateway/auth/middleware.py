"""The gateway's door: every request outside the public routes carries a credential
(`X-Authorization: <token>`, as conductor-python sends it, or `Authorization: Bearer
<token>`) whose roles allow the route (gateway/auth/policy.py)."""

from __future__ import annotations

from aiohttp import web

from gateway.auth import policy
from gateway.auth.authenticator import Authenticator
from gateway.auth.errors import AuthError
from gateway.errors import Handler
from gateway.http import json_response

AUTHENTICATOR_KEY = web.AppKey("podium-auth", Authenticator)
PRINCIPAL_KEY = "podium.principal"


def route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


def credential_of(request: web.Request) -> str | None:
    token = request.headers.get("X-Authorization", "").strip()
    if token:
        return token
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _refused(status: int, message: str, code: str | None = None) -> web.Response:
    body = {"status": status, "message": message, "retryable": False}
    if code:
        body["error"] = code
    response = json_response(body, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="podium"'
    return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    authenticator = request.app.get(AUTHENTICATOR_KEY)
    template = route_template(request)
    if authenticator is None or policy.is_public(template):
        return await handler(request)
    credential = credential_of(request)
    if credential is None:
        return _refused(
            401, "no credential: send a token in X-Authorization (or Authorization: Bearer); "
            "POST /api/token trades an application key for one", "INVALID_TOKEN",
        )
    try:
        principal = await authenticator.principal(credential)
    except AuthError as error:
        return _refused(401, error.message, error.code)
    if not policy.allowed(principal.roles, request.method, template):
        roles = ", ".join(sorted(principal.roles))
        needed = ", ".join(policy.who_may(request.method, template))
        return _refused(403, f"role {roles} may not {request.method} {template}; it needs one of: {needed}")
    request[PRINCIPAL_KEY] = principal
    return await handler(request)
