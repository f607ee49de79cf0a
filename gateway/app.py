"""The aiohttp application: Conductor's REST API under /api."""

from __future__ import annotations

from aiohttp import web

from gateway.api import admin, auth, cluster, event_handlers, lifecycle, metadata, scheduler, search, tasks, workflows
from gateway.api.dashboard import routes as dashboard_routes
from gateway.auth.authenticator import Authenticator
from gateway.auth.middleware import AUTHENTICATOR_KEY, auth_middleware
from gateway.context import CONTEXT_KEY, GatewayContext, context_of
from gateway.errors import error_middleware
from gateway.http import json_response
from gateway.openapi import routes as openapi_routes
from gateway.ui import routes as ui_routes

health_routes = web.RouteTableDef()


@health_routes.get("/health")
@health_routes.get("/api/health")
async def health(request: web.Request) -> web.Response:
    context = context_of(request)
    redis_ok = bool(await context.store.redis.ping())
    shards = await context.router.stats()
    # Conductor's HealthCheckStatus shape (healthResults as runtime-health's Health), with
    # Podium's own `redis` and `shards` beside it for `podium status` and probes.
    results = [{"healthy": redis_ok, "details": {"name": "redis"}}]
    return json_response(
        {
            "healthy": redis_ok,
            "healthResults": results,
            "suppressedHealthResults": [],
            "redis": redis_ok,
            "shards": shards,
        }
    )


def build_app(context: GatewayContext, authenticator: Authenticator | None = None) -> web.Application:
    """The API; with an `authenticator` (PODIUM_AUTH=on) every route outside the public ones
    asks for a credential (gateway/auth/)."""
    app = web.Application(
        middlewares=[error_middleware, auth_middleware], client_max_size=context.settings.max_payload_bytes
    )
    app[CONTEXT_KEY] = context
    if authenticator is not None:
        app[AUTHENTICATOR_KEY] = authenticator
    app.add_routes(health_routes)
    app.add_routes(auth.routes)
    app.add_routes(metadata.routes)
    # aiohttp tries routes under the longest literal prefix first: `bulk/pause`,
    # `decide/{workflowId}` and `running/{name}` are never taken for a `{workflowId}`.
    # Under one prefix it tries them in registration order (see the signal routes in tasks.py).
    app.add_routes(search.routes)  # before `{workflowId}` and `{taskId}`: `search` is not an id
    app.add_routes(lifecycle.routes)
    app.add_routes(workflows.routes)
    app.add_routes(tasks.routes)
    app.add_routes(event_handlers.routes)
    app.add_routes(cluster.routes)
    app.add_routes(scheduler.routes)  # `schedules/search` before `schedules/{name}`
    app.add_routes(admin.routes)  # Conductor's /admin, /queue, /version, /environment and /secrets
    app.add_routes(dashboard_routes)
    app.add_routes(openapi_routes)  # /api-docs and Swagger UI at /swagger-ui/, as Conductor serves them
    app.add_routes(ui_routes)  # the web UI's pages and assets, outside /api
    return app
