"""`GET /api/admin/dashboard`: where the Ray dashboard is and how to sign in to it (Podium's own).

The dashboard shows Podium's actors (`podium-gateway-*`, `podium-shard-*`, pools). With
Ray's token authentication on, it asks for the cluster's token: the answer says which
command prints it and where Ray keeps it, never the token, which grants running code on
the cluster to whoever holds it.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from cluster.dashboard import dashboard_access
from gateway.http import json_response

routes = web.RouteTableDef()


@routes.get("/api/admin/dashboard")
async def ray_dashboard(request: web.Request) -> web.Response:
    """The Ray dashboard's URL (null when it is not running) and how to authenticate to it."""
    # Reading the URL is a synchronous call to Ray's GCS: keep it off the event loop.
    access = await asyncio.to_thread(dashboard_access)
    return json_response(access.to_wire())
