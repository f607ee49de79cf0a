"""What every handler needs: settings, the store and the shard router."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiohttp import web

from cluster.config import Settings
from cluster.store import Store
from gateway.queue_waker import QueueWaker
from gateway.routing import PolledTasks, ShardRouter


class DefinitionCache:
    """Stored definition JSON by (name, version), kept for a second.

    Every start needs its definition; this saves a Redis round trip per start. Writes
    through this gateway clear it at once; another gateway's write is seen within TTL.
    """

    TTL_SECONDS = 1.0

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int | None], tuple[bytes, float]] = {}

    async def get(self, store: Store, name: str, version: int | None) -> bytes | None:
        key = (name, version)
        now = time.monotonic()
        cached = self._entries.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = await store.get_workflow_def_raw(name, version)
        if found is not None:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (found, now + self.TTL_SECONDS)
        return found

    def clear(self) -> None:
        self._entries.clear()


@dataclass
class GatewayContext:
    settings: Settings
    store: Store
    router: ShardRouter
    polled: PolledTasks = field(default_factory=PolledTasks)
    definitions: DefinitionCache = field(default_factory=DefinitionCache)
    waker: QueueWaker = field(init=False)

    def __post_init__(self) -> None:
        self.waker = QueueWaker(self.store)


CONTEXT_KEY = web.AppKey("podium", GatewayContext)


def context_of(request: web.Request) -> GatewayContext:
    return request.app[CONTEXT_KEY]
