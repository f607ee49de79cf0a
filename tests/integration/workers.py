"""Python actor workers the integration tests run on Podium's pools."""

from __future__ import annotations

import os
import time
from typing import Any

import redis

from actors.workers import TerminalError, worker_task


@worker_task("py_echo", pool_size=2)
def echo(**inputs: Any) -> dict[str, Any]:
    return {"echo": inputs, "pid": os.getpid()}


@worker_task("py_add", pool_size=2)
async def add(a: int, b: int) -> dict[str, Any]:
    return {"sum": a + b}


@worker_task("py_rendezvous", pool_size=2)
def rendezvous(redisUrl: str, key: str, parties: int) -> dict[str, Any]:  # Conductor-style input names
    """Returns only once `parties` tasks have arrived: proves they ran at the same time."""
    client = redis.Redis.from_url(redisUrl)
    try:
        client.incr(key)
        deadline = time.monotonic() + 30
        while int(client.get(key) or 0) < parties:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {int(client.get(key) or 0)} of {parties} tasks arrived together")
            time.sleep(0.01)
    finally:
        client.close()
    return {"pid": os.getpid()}


@worker_task("py_terminal_failure", pool_size=1)
def terminal_failure(**inputs: Any) -> dict[str, Any]:
    raise TerminalError("this input can never succeed")


@worker_task("py_gate", pool_size=2, max_concurrency=200)
async def gate(redisUrl: str, gate: str, item: int) -> dict[str, Any]:  # Conductor-style input names
    """Waits until the test opens the gate (sets the key), then echoes its item."""
    import asyncio

    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redisUrl)
    try:
        deadline = time.monotonic() + 120
        while not await client.exists(gate):
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {gate} never opened")
            await asyncio.sleep(0.02)
        await client.incr(f"{gate}:runs:{item}")
    finally:
        await client.aclose()
    return {"item": item}


@worker_task("py_fail_first_attempt", pool_size=1)
def fail_first_attempt(task: dict[str, Any]) -> dict[str, Any]:
    """Counts its executions in Redis under the input `key`; the first one raises.

    Takes the whole task so it can also report the retryCount the engine gave it.
    """
    inputs = task["inputData"]
    client = redis.Redis.from_url(inputs["redisUrl"])
    try:
        count: Any = client.incr(inputs["key"])  # redis-py types it as possibly awaitable
        attempt = int(count)
    finally:
        client.close()
    if attempt == 1:
        raise RuntimeError(f"attempt {attempt} fails on purpose")
    return {"attempt": attempt, "retryCountSeen": task["retryCount"]}


@worker_task("py_gate_marked", pool_size=1, max_concurrency=10)
async def gate_marked(redisUrl: str, gate: str) -> dict[str, Any]:  # Conductor-style input names
    """Marks that it started (`{gate}:entered`), then waits for the gate like py_gate."""
    import asyncio

    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redisUrl)
    try:
        await client.incr(f"{gate}:entered")
        deadline = time.monotonic() + 120
        while not await client.exists(gate):
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {gate} never opened")
            await asyncio.sleep(0.02)
    finally:
        await client.aclose()
    return {"passed": True, "pid": os.getpid()}


_RAISE_TO = (
    "if tonumber(redis.call('GET', KEYS[1]) or 0) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end"
)


@worker_task("py_limited", pool_size=2, max_concurrency=10)
async def limited(redisUrl: str, key: str) -> dict[str, Any]:  # Conductor-style input names
    """Records how many of its executions overlap (`{key}:max`) while each holds for a moment."""
    import asyncio

    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redisUrl)
    try:
        running = await client.incr(f"{key}:running")
        await client.eval(_RAISE_TO, 1, f"{key}:max", running)
        # Long enough that a second execution, were the limit ignored, would overlap this one.
        await asyncio.sleep(0.3)
        await client.decr(f"{key}:running")
        await client.incr(f"{key}:done")
    finally:
        await client.aclose()
    return {"overlapping": running}


@worker_task("py_here", pool_size=1, colocated=True)
async def here(n: int = 0) -> dict[str, Any]:
    """Run by each shard in its own process (colocated): no pool actor hop."""
    return {"n": n + 1, "pid": os.getpid()}


@worker_task("py_here_not_json", pool_size=1, colocated=True)
async def here_not_json() -> dict[str, Any]:
    return {"value": object()}
