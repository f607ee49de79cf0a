"""Scenario 6: search over 100 and over 10,000 executions.

Executions of two NOOP-only workflow types are started through the real start path
(`POST /api/workflow`, so their index entries are written by the shards' checkpoints),
100 first, then enough more to make 10,000. After each fill every query form is asked
`repeats` times and the median time of its first page (100 results, the API's default
size) is reported with its totalHits. The forms answered from the indexes alone should
take about as long at 10,000 as at 100; those that read summaries (a condition on a
field without an index of its own, a sort on one) grow with the number of matches.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import aiohttp
import orjson

FIRST, SECOND = "bench_search_a", "bench_search_b"
CORRELATIONS = 10


def _definition(name: str) -> dict[str, Any]:
    return {"name": name, "version": 1, "tasks": [{"name": "noop", "taskReferenceName": "noop", "type": "NOOP"}]}


async def _fill(http: aiohttp.ClientSession, api: str, begin: int, end: int, concurrency: int = 128) -> list[str]:
    """Start executions number begin..end-1: alternating types, CORRELATIONS correlation ids."""
    numbers = iter(range(begin, end))
    started: list[str] = []

    async def starter() -> None:
        for number in numbers:
            body = orjson.dumps(
                {
                    "name": FIRST if number % 2 == 0 else SECOND,
                    "input": {"n": number},
                    "correlationId": f"bench-corr-{number % CORRELATIONS}",
                }
            )
            async with http.post(f"{api}/workflow", data=body, headers={"Content-Type": "application/json"}) as r:
                r.raise_for_status()
                started.append((await r.read()).decode())

    await asyncio.gather(*(starter() for _ in range(concurrency)))
    return started


def _queries(some_id: str, pivot: int) -> list[tuple[str, str, dict[str, str]]]:
    """(label, path, parameters) of each query form."""
    both = f"workflowType IN ({FIRST},{SECOND})"
    first = f"workflowType = {FIRST}"
    return [
        ("all, newest first", "/workflow/search", {}),
        ("workflowType =", "/workflow/search", {"query": f"workflowType = {FIRST}"}),
        ("workflowType = , startTime:ASC", "/workflow/search", {"query": first, "sort": "startTime:ASC"}),
        ("IN AND status =", "/workflow/search", {"query": f"{both} AND status = 'COMPLETED'"}),
        ("IN AND startTime >", "/workflow/search", {"query": f"{both} AND startTime > {pivot}"}),
        ("freeText correlation id", "/workflow/search", {"freeText": "bench-corr-3"}),
        ("freeText workflow id", "/workflow/search", {"freeText": some_id}),
        ("search-v2 workflowType =", "/workflow/search-v2", {"query": f"workflowType = {FIRST}"}),
        ("tasks: taskType AND status", "/tasks/search", {"query": "taskType = NOOP AND status = COMPLETED"}),
        # Read from the summaries: grows with the matches.
        ("version = (summaries)", "/workflow/search", {"query": f"workflowType = {FIRST} AND version = 1"}),
        ("sort workflowId (summaries)", "/workflow/search", {"query": first, "sort": "workflowId:ASC"}),
    ]


async def _measure(
    http: aiohttp.ClientSession, api: str, queries: list[tuple[str, str, dict[str, str]]], repeats: int
) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    for label, path, params in queries:
        times = []
        total = 0
        for attempt in range(repeats + 1):
            began = time.perf_counter()
            async with http.get(f"{api}{path}", params=params) as response:
                response.raise_for_status()
                body = orjson.loads(await response.read())
            if attempt:  # the first is a warm-up
                times.append((time.perf_counter() - began) * 1000)
            total = body["totalHits"]
        figures[label] = {"ms": statistics.median(times), "totalHits": total, "results": len(body["results"])}
    return figures


async def _run(api: str, sizes: tuple[int, ...], repeats: int) -> dict[str, Any]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128)) as http:
        async with http.put(f"{api}/metadata/workflow", json=[_definition(FIRST), _definition(SECOND)]) as r:
            r.raise_for_status()
        started: list[str] = []
        results: dict[str, Any] = {}
        for size in sizes:
            began = time.perf_counter()
            started += await _fill(http, api, len(started), size)
            fill_seconds = time.perf_counter() - began
            # A pivot in the middle of what is stored: half the executions started after it.
            async with http.get(f"{api}/workflow/{started[len(started) // 2]}?includeTasks=false") as r:
                pivot = orjson.loads(await r.read())["startTime"]
            figures = await _measure(http, api, _queries(started[len(started) // 3], pivot), repeats)
            results[str(size)] = {"fillSeconds": fill_seconds, "queries": figures}
            for label, figure in figures.items():
                print(
                    f"  6 search over {size:,}: {label}: {figure['ms']:.1f} ms "
                    f"(totalHits {figure['totalHits']}, {figure['results']} results)",
                    flush=True,
                )
        return results


def scenario_search(api: str, sizes: tuple[int, ...] = (100, 10_000), repeats: int = 20) -> dict[str, Any]:
    return asyncio.run(_run(api, sizes, repeats))
