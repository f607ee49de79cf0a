"""Workflow and task definitions (the `meta:wf:`, `meta:wfnames` and `meta:task` keys)."""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from cluster.store.base import StoreBase
from cluster.store.encoding import Json, dumps
from cluster.store.keys import Keys


class MetadataStore(StoreBase):
    """Definitions: what executions are started from."""

    async def put_workflow_def(self, definition: Json) -> None:
        name, version = definition["name"], int(definition.get("version") or 1)
        pipe = self.multi()
        pipe.hset(Keys.workflow_def(name), str(version), dumps(definition))
        pipe.sadd(Keys.workflow_names, name)
        await pipe.execute()

    async def put_workflow_defs(self, definitions: list[Json]) -> None:
        pipe = self.multi()
        for definition in definitions:
            name, version = definition["name"], int(definition.get("version") or 1)
            pipe.hset(Keys.workflow_def(name), str(version), dumps(definition))
            pipe.sadd(Keys.workflow_names, name)
        await pipe.execute()

    async def get_workflow_def(self, name: str, version: int | None = None) -> Json | None:
        key = Keys.workflow_def(name)
        if version is not None:
            raw = await self.redis.hget(key, str(version))
            return orjson.loads(raw) if raw else None
        versions = await self.redis.hgetall(key)
        if not versions:
            return None
        latest = max(versions, key=int)
        return orjson.loads(versions[latest])

    async def get_workflow_def_raw(self, name: str, version: int | None = None) -> bytes | None:
        """The stored JSON bytes, as a shard wants them (no parse on the start path)."""
        key = Keys.workflow_def(name)
        if version is not None:
            return await self.redis.hget(key, str(version))
        versions = await self.redis.hgetall(key)
        return versions[max(versions, key=int)] if versions else None

    async def workflow_def_versions(self, name: str) -> list[Json]:
        versions = await self.redis.hgetall(Keys.workflow_def(name))
        return [orjson.loads(versions[v]) for v in sorted(versions, key=int)]

    async def list_workflow_defs(self) -> list[Json]:
        names = sorted(n.decode() for n in await self.redis.smembers(Keys.workflow_names))
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(Keys.workflow_def(name))
        found: list[Json] = []
        for versions in await pipe.execute():
            found.extend(orjson.loads(versions[v]) for v in sorted(versions, key=int))
        return found

    async def delete_workflow_def(self, name: str, version: int) -> bool:
        key = Keys.workflow_def(name)
        removed = await self.redis.hdel(key, str(version))
        if removed and not await self.redis.exists(key):
            await self.redis.srem(Keys.workflow_names, name)
        return bool(removed)

    async def put_task_defs(self, task_defs: Iterable[Json]) -> None:
        mapping = {d["name"]: dumps(d) for d in task_defs}
        if mapping:
            await self.redis.hset(Keys.task_defs, mapping=mapping)

    async def get_task_def(self, name: str) -> Json | None:
        raw = await self.redis.hget(Keys.task_defs, name)
        return orjson.loads(raw) if raw else None

    async def list_task_defs(self) -> list[Json]:
        found = await self.redis.hgetall(Keys.task_defs)
        return [orjson.loads(found[name]) for name in sorted(found)]

    async def delete_task_def(self, name: str) -> bool:
        return bool(await self.redis.hdel(Keys.task_defs, name))
