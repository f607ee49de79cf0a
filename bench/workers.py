"""The bench's Python workers: each returns a small fixed output at once. `bench_py` runs in
pool actors; `bench_here`, the same function, in each shard's own process (`colocated`)."""

from __future__ import annotations

from typing import Any

from actors.workers import worker_task

OUTPUT = {"value": 1, "kind": "small"}


@worker_task("bench_py", pool_size=2, max_concurrency=1000)
async def bench_py(i: int = 0) -> dict[str, Any]:
    return OUTPUT


@worker_task("bench_here", pool_size=1, colocated=True)
async def bench_here(i: int = 0) -> dict[str, Any]:
    return OUTPUT
