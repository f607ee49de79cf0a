"""The pure parts of authentication: key hashing, Podium's tokens (time as an argument),
and the route policy, checked against every route of the API."""

from __future__ import annotations

import pytest
from aiohttp import web

from gateway.api import admin, auth, cluster, event_handlers, lifecycle, metadata, scheduler, search, tasks, workflows
from gateway.api.dashboard import routes as dashboard_routes
from gateway.auth import keys, policy, tokens
from gateway.auth.errors import EXPIRED_TOKEN, INVALID_TOKEN, AuthError

SIGNING_KEY = "k" * 48
NOW = 1_800_000_000.0


def test_a_secret_matches_its_hash_and_nothing_else() -> None:
    secret = keys.new_secret()
    stored = keys.hash_secret(secret)
    assert secret not in stored
    assert keys.secret_matches(secret, stored)
    assert not keys.secret_matches(secret + "x", stored)
    assert not keys.secret_matches(secret, "not$a$hash")
    assert keys.hash_secret(secret) != stored, "each hash has its own salt"


def test_a_token_names_its_key_and_role_until_it_expires() -> None:
    token = tokens.issue("key_1", "worker", SIGNING_KEY, NOW, ttl_seconds=60)
    assert tokens.is_ours(token)
    principal = tokens.verify(token, SIGNING_KEY, NOW + 59)
    assert (principal.subject, principal.roles, principal.via) == ("key_1", frozenset({"worker"}), "key")
    with pytest.raises(AuthError) as expired:
        tokens.verify(token, SIGNING_KEY, NOW + 60)
    assert expired.value.code == EXPIRED_TOKEN


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = tokens.issue("key_1", "admin", "another-key" * 4, NOW, ttl_seconds=60)
    with pytest.raises(AuthError) as refused:
        tokens.verify(token, SIGNING_KEY, NOW)
    assert refused.value.code == INVALID_TOKEN
    assert "signature" in refused.value.message


def _api_routes() -> list[tuple[str, str]]:
    app = web.Application()
    for table in (metadata, search, lifecycle, workflows, tasks, event_handlers, cluster, scheduler, admin, auth):
        app.add_routes(table.routes)
    app.add_routes(dashboard_routes)
    return [
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    ]


def test_every_api_route_is_named_by_the_policy() -> None:
    unnamed = [
        (method, path)
        for method, path in _api_routes()
        if not policy.is_public(path) and policy.rule_for(method, path) is None
    ]
    assert unnamed == [], "add these routes to gateway/auth/policy.py RULES"


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("worker", "GET", "/api/tasks/poll/batch/{taskType}", True),
        ("worker", "POST", "/api/tasks", True),
        ("worker", "POST", "/api/tasks/update-v2", True),
        ("worker", "GET", "/api/metadata/taskdefs/{name}", True),
        ("worker", "POST", "/api/workflow", False),
        ("worker", "GET", "/api/workflow/{workflowId}", False),
        ("user", "POST", "/api/workflow", True),
        ("user", "PUT", "/api/workflow/{workflowId}/pause", True),
        ("user", "DELETE", "/api/workflow/{workflowId}", True),
        ("user", "POST", "/api/tasks/{workflowId}/{status}/signal", True),
        ("user", "GET", "/api/metadata/workflow", True),
        ("user", "POST", "/api/metadata/workflow", False),
        ("user", "GET", "/api/scheduler/schedules/{name}/pause", False),
        ("user", "GET", "/api/auth/keys", False),
        ("metadata", "POST", "/api/metadata/taskdefs", True),
        ("metadata", "DELETE", "/api/event/{name}", True),
        ("metadata", "POST", "/api/scheduler/schedules", True),
        ("metadata", "POST", "/api/workflow", False),
        ("metadata", "PUT", "/api/admin/shards", False),
        ("admin", "PUT", "/api/admin/shards", True),
        ("admin", "POST", "/api/auth/keys", True),
    ],
)
def test_roles_allow_what_the_docs_say(role: str, method: str, path: str, allowed: bool) -> None:
    assert policy.allowed(frozenset({role}), method, path) is allowed


def test_health_token_and_the_ui_are_public() -> None:
    public = ("/health", "/api/health", "/api/token", "/", "/execution/{workflowId}", "/api-docs", "/ui-assets/{path}")
    for path in public:
        assert policy.is_public(path), path
    assert not policy.is_public("/api/workflow")
