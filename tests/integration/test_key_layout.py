"""Keys written before the hash tags existed are renamed at start, and nothing in them is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import redis

from cluster.redis_server import EmbeddedRedis
from cluster.store import Keys, Store
from cluster.store.layout import tag_old_keys


def test_untagged_queues_and_indexes_are_renamed_and_still_serve(tmp_path: Path) -> None:
    task = {"taskId": "t-1", "taskType": "resize", "workflowInstanceId": "wf-1", "status": "SCHEDULED"}
    with EmbeddedRedis(tmp_path / "redis") as server:
        client = redis.Redis.from_url(server.url)
        client.zadd("podium:queue:blue:resize", {"t-1": 1})
        client.hset("podium:queued:blue:resize", "t-1", orjson.dumps(task))
        client.zadd("podium:queuedelay:resize", {"t-2": 5})
        client.sadd("podium:inflight:resize", "t-9")
        client.zadd("podium:poolqueue:0:py_limited", {"a": 1})
        client.zadd("podium:poolqueue:1:py_limited", {"b": 2})
        client.zadd("podium:ix:wf:all", {"wf-1": 10})
        client.hset("podium:ix:wf:sum", "wf-1", "[]")
        client.set("podium:meta:unrelated", "kept")

        assert tag_old_keys(client) == 8
        assert tag_old_keys(client) == 0, "a second start renames nothing"
        assert client.zrange(Keys.queue("resize", "blue"), 0, -1) == [b"t-1"]
        assert client.zrange(Keys.queue_delayed(Keys.queue("resize")), 0, -1) == [b"t-2"]
        assert client.smembers(Keys.in_flight("resize")) == {b"t-9"}
        assert client.zrange(Keys.pool_queue("py_limited"), 0, -1) == [b"a", b"b"], "per-shard pool queues merged"
        assert client.zrange(Keys.workflow_index_all, 0, -1) == [b"wf-1"]
        assert client.hget(Keys.workflow_summaries, "wf-1") == b"[]"
        assert client.get("podium:meta:unrelated") == b"kept"
        assert not list(client.scan_iter(match="podium:ix:*"))
        client.close()

        async def poll() -> list[dict[str, object]]:
            store = Store(server.url, 4)
            try:
                return await store.poll("resize", "blue", 10, now=100)
            finally:
                await store.close()

        assert [t["taskId"] for t in asyncio.run(poll())] == ["t-1"]
