"""When no shard serves a workflow's partition for longer than the gateway keeps trying,
the client gets a 503 that says so, with Retry-After, and nothing is written."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cluster.config import Settings
from cluster.store import Store
from gateway import routing
from gateway.app import build_app
from gateway.context import GatewayContext
from gateway.routing import ShardRouter

DEFINITION = {"name": "unserved", "version": 1, "tasks": [{"name": "unserved_task", "taskReferenceName": "only"}]}


async def _start_with_no_shard(redis_url: str, home: Path) -> tuple[int, str, dict[str, str], list[str]]:
    settings = Settings(home=home, port=0, partitions=4)
    store = Store(redis_url, settings.partitions)
    context = GatewayContext(settings, store, ShardRouter(store, settings.namespace, settings.lease_ms))
    async with TestClient(TestServer(build_app(context))) as http:
        registered = await http.post("/api/metadata/workflow", json=DEFINITION)
        assert registered.status < 300, await registered.text()
        response = await http.post("/api/workflow/unserved", json={})
        body = await response.json()
        running = await http.get("/api/workflow/running/unserved")
        ids = await running.json()
    await store.close()
    return response.status, body["message"], dict(response.headers), ids


def test_a_start_no_shard_takes_is_a_503_with_retry_after(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No shard holds any lease here; the gateway gives up after this long instead of 30 s.
    monkeypatch.setattr(routing, "REROUTE_DEADLINE_SECONDS", 0.5)
    status, message, headers, running = asyncio.run(_start_with_no_shard(redis_url, tmp_path))
    assert status == 503
    assert "no shard serves workflow" in message and "retry later" in message
    assert headers.get("Retry-After") == "1"
    assert running == [], "nothing was started"
