"""Load drivers: keep N workflows in flight, run lean external pollers, time starts."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis

from cluster.store import Keys


@dataclass
class Throughput:
    completed: int
    seconds: float
    # Statuses of a sample of the started executions, checked after the run.
    sample_statuses: dict[str, int]
    # Executions of the run (started in it) that ended FAILED, TIMED_OUT or TERMINATED, or
    # were still running after the drain: a run with any is a failed run, not throughput.
    unsuccessful: int = 0

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0


async def register(api: str, workflows: list[dict[str, Any]], task_defs: list[dict[str, Any]]) -> None:
    async with aiohttp.ClientSession() as http:
        if task_defs:
            async with http.post(f"{api}/metadata/taskdefs", json=task_defs) as response:
                response.raise_for_status()
        async with http.put(f"{api}/metadata/workflow", json=workflows) as response:
            response.raise_for_status()


async def sustain(
    api: str, redis_url: str, name: str, in_flight: int, warmup: float, seconds: float
) -> Throughput:
    """Keep `in_flight` executions of `name` running; count completions in the window."""
    redis = aioredis.Redis.from_url(redis_url)
    running_key = Keys.running(name)
    started = 0
    started_ids: list[str] = []
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def start_one() -> None:
            body = orjson.dumps({"name": name, "input": {"i": 1}})
            async with http.post(f"{api}/workflow", data=body, headers={"Content-Type": "application/json"}) as r:
                r.raise_for_status()
                started_ids.append((await r.read()).decode())

        async def feed(until: float) -> None:
            nonlocal started
            while time.monotonic() < until:
                running = int(await redis.scard(running_key))
                missing = in_flight - running
                if missing > 0:
                    batch = min(missing, 64)
                    await asyncio.gather(*(start_one() for _ in range(batch)))
                    started += batch
                else:
                    await asyncio.sleep(0.005)

        begin = time.monotonic()
        begin_ms = int(time.time() * 1000)
        await feed(begin + warmup)
        started_at_window, running_at_window = started, int(await redis.scard(running_key))
        window_start = time.monotonic()
        await feed(window_start + seconds)
        window = time.monotonic() - window_start
        running_at_end = int(await redis.scard(running_key))
    completed = (started - started_at_window) - (running_at_end - running_at_window)
    # Let the rest drain so the next scenario starts clean.
    deadline = time.monotonic() + 60
    while await redis.scard(running_key) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    still_running = int(await redis.scard(running_key))
    await redis.aclose()
    sample = await sample_statuses(api, started_ids[:: max(1, len(started_ids) // 50)])
    ended_badly = await count_ended_badly(api, name, begin_ms)
    return Throughput(completed, window, sample, ended_badly + still_running)


async def count_ended_badly(api: str, name: str, since_ms: int) -> int:
    """Executions of `name` started since `since_ms` that ended other than COMPLETED."""
    query = f"workflowType = '{name}' AND status IN (FAILED,TIMED_OUT,TERMINATED) AND startTime > {since_ms - 1}"
    async with aiohttp.ClientSession() as http, http.get(
        f"{api}/workflow/search", params={"query": query, "size": "1"}
    ) as response:
        response.raise_for_status()
        return int((await response.json())["totalHits"])


async def sample_statuses(api: str, workflow_ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with aiohttp.ClientSession() as http:
        for workflow_id in workflow_ids:
            async with http.get(f"{api}/workflow/{workflow_id}?includeTasks=false") as response:
                status = (await response.json())["status"]
            counts[status] = counts.get(status, 0) + 1
    return counts


@dataclass
class Latencies:
    target_rate: float
    achieved_rate: float
    millis: list[float]

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.millis)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


async def open_loop_starts(api: str, name: str, rate: float, seconds: float) -> Latencies:
    """Start `rate` workflows per second on a fixed schedule; time each POST."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=512)
    body = orjson.dumps({"name": name, "input": {"i": 1}})
    async with aiohttp.ClientSession(connector=connector) as http:

        async def start_one() -> None:
            sent = time.perf_counter()
            async with http.post(f"{api}/workflow", data=body, headers={"Content-Type": "application/json"}) as r:
                await r.read()
                r.raise_for_status()
            latencies.append((time.perf_counter() - sent) * 1000)

        begin = time.perf_counter()
        pending: list[asyncio.Task[None]] = []
        total = int(rate * seconds)
        for n in range(total):
            due = begin + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(start_one()))
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - begin
    return Latencies(rate, len(latencies) / elapsed, latencies)


async def wait_until_done(api: str, workflow_id: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(f"{api}/workflow/{workflow_id}?includeTasks=false") as response:
                workflow: dict[str, Any] = await response.json()
            if workflow["status"] not in ("RUNNING", "PAUSED") or time.monotonic() > deadline:
                return workflow
            await asyncio.sleep(0.05)


async def start(api: str, name: str, workflow_input: dict[str, Any]) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{api}/workflow", json={"name": name, "input": workflow_input}) as response,
    ):
        response.raise_for_status()
        return (await response.read()).decode()


async def start_many(api: str, name: str, count: int, concurrency: int = 256) -> None:
    body = orjson.dumps({"name": name, "input": {}})
    remaining = count
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def starter() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with http.post(f"{api}/workflow", data=body, headers={"Content-Type": "application/json"}) as r:
                    r.raise_for_status()
                    await r.read()

        await asyncio.gather(*(starter() for _ in range(concurrency)))
