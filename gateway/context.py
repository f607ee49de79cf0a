"""What every handler needs: settings, the store and the shard router."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from cluster.config import Settings
from cluster.store import Store
from gateway.routing import PolledTasks, ShardRouter


@dataclass
class GatewayContext:
    settings: Settings
    store: Store
    router: ShardRouter
    polled: PolledTasks = field(default_factory=PolledTasks)


CONTEXT_KEY = web.AppKey("podium", GatewayContext)


def context_of(request: web.Request) -> GatewayContext:
    return request.app[CONTEXT_KEY]
