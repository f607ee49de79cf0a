"""`/api/admin/shards`: Podium's own view and control of its shards (Conductor has none).

`GET` lists every shard with its node, the partitions it serves and hands over, and how
many shards are wanted; `PUT {"shards": N}` or `PUT {"shardsPerNode": K}` changes how many
are wanted, and `podium up`'s controller follows within a second: new shards take their
share of partitions, retired ones hand theirs over first (docs/scaling.md).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cluster.leases import WantedShards, set_wanted_shards, wanted_shards
from gateway.context import context_of
from gateway.http import json_response, read_model

routes = web.RouteTableDef()
MAX_SHARDS = 4096


class ShardScale(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shards: int | None = Field(None, ge=1, le=MAX_SHARDS, strict=True)
    shardsPerNode: int | None = Field(None, ge=1, le=256, strict=True)

    @model_validator(mode="after")
    def one_of_them(self) -> ShardScale:
        if (self.shards is None) == (self.shardsPerNode is None):
            raise ValueError("give exactly one of 'shards' (a total) and 'shardsPerNode'")
        return self


async def _view(request: web.Request) -> dict[str, object]:
    context = context_of(request)
    wanted = await wanted_shards(context.store.redis)
    await context.router.refresh_owners(0)
    shards = await context.router.stats()
    return {
        "partitions": context.store.partitions,
        "wanted": {"shards": wanted.shards, "shardsPerNode": wanted.per_node},
        "unowned": [p for p, owner in enumerate(context.router.owners) if not owner],
        "shards": sorted(shards, key=lambda s: str(s.get("name"))),
    }


@routes.get("/api/admin/shards")
async def list_shards(request: web.Request) -> web.Response:
    return json_response(await _view(request))


@routes.put("/api/admin/shards")
async def scale_shards(request: web.Request) -> web.Response:
    scale = await read_model(request, ShardScale, "shard scale")
    await set_wanted_shards(context_of(request).store.redis, WantedShards(scale.shards, scale.shardsPerNode))
    return json_response({"shards": scale.shards, "shardsPerNode": scale.shardsPerNode}, status=202)
