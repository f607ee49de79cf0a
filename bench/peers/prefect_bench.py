"""Run the reference shape on Prefect 3 (local ephemeral server), N flows in flight."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from typing import Any

OUTPUT = {"value": 1, "kind": "small"}


def run(in_flight: int, warmup: float, seconds: float) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-prefect-") as home:
        os.environ["PREFECT_HOME"] = home
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
        os.environ.setdefault("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "true")
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        from prefect import flow, task

        @task
        async def step(i: int = 0) -> dict[str, Any]:
            return OUTPUT

        @task
        async def transform(value: dict[str, Any]) -> dict[str, Any]:
            return value

        @flow
        async def child() -> dict[str, Any]:
            return await step(0)

        @flow
        async def reference() -> dict[str, Any]:
            for n in range(6):
                await step(n)
            a, b = await asyncio.gather(step(1), step(2))
            joined = await transform({"a": a["value"], "b": b["value"]})
            routed = await transform({**joined, "route": "small"})
            remembered = await transform({**routed, "last": 1})
            await child()
            return await transform({"total": remembered["a"] + remembered["b"]})

        completed = 0

        async def runner(until: float) -> None:
            nonlocal completed
            while time.monotonic() < until:
                await reference()
                completed += 1

        async def main() -> float:
            await asyncio.gather(*(runner(time.monotonic() + warmup) for _ in range(in_flight)))
            before, window_start = completed, time.monotonic()
            await asyncio.gather(*(runner(window_start + seconds) for _ in range(in_flight)))
            return (completed - before) / (time.monotonic() - window_start)

        return asyncio.run(main())


if __name__ == "__main__":
    rate = run(int(sys.argv[2]) if len(sys.argv) > 2 else 20, 3.0, float(sys.argv[1]) if len(sys.argv) > 1 else 10.0)
    # A normal exit: Prefect stops its ephemeral server at interpreter exit.
    print(rate, flush=True)
