"""The bench's Python actor worker: returns a small fixed output at once."""

from __future__ import annotations

from typing import Any

from actors.workers import worker_task

OUTPUT = {"value": 1, "kind": "small"}


@worker_task("bench_py", pool_size=2, max_concurrency=1000)
async def bench_py(i: int = 0) -> dict[str, Any]:
    return OUTPUT
