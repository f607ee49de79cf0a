"""The hop between a shard and a pool actor, measured three ways (docs/performance.md).

    .venv/bin/python -m bench.hop

One caller actor sends one task at a time to one pool actor running the bench's worker
(`bench.workers.bench_py`) and waits for its result, 2,000 times per way after 200
unrecorded warm-ups:

- a Ray actor call (`pool.execute.remote([task])`), as shards called pools before;
- the stream Podium uses (actors/stream.py: a TCP connection kept open to the pool actor);
- a Ray Compiled Graph (`experimental_compile`, shared-memory channels) from the caller
  actor to a plain pool actor, awaited with `execute_async`.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import ray

from actors.pool import WorkerPool
from actors.stream import Endpoint, JsonCodec, StreamClient

TASK = {
    "taskId": "6f1b7a4e-9c1d-4d3e-8a51-0c9d1f6e2a7b",
    "workflowInstanceId": "0a3e5c7f-2b4d-4f6a-9e8c-1d3b5a7c9e0f",
    "taskType": "bench_py",
    "referenceTaskName": "step_1",
    "inputData": {"i": 1},
    "retryCount": 0,
    "pollCount": 0,
}
CALLS = 2000
WARMUPS = 200


def _summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds[WARMUPS:])
    return {
        "p50Ms": statistics.median(ordered) * 1000,
        "p90Ms": ordered[int(0.9 * len(ordered))] * 1000,
        "meanMs": statistics.fmean(ordered) * 1000,
    }


@ray.remote(num_cpus=0)
class PlainPool:
    """The worker behind a compiled graph (whose actor methods run on a thread of their own)."""

    def execute(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"taskId": t["taskId"], "status": "COMPLETED", "outputData": {"value": 1}} for t in tasks]


@ray.remote(num_cpus=0)
class Caller:
    async def ray_calls(self, pool: Any) -> dict[str, float]:
        seconds = []
        for _ in range(WARMUPS + CALLS):
            began = time.perf_counter()
            await pool.execute.remote([TASK])
            seconds.append(time.perf_counter() - began)
        return _summary(seconds)

    async def stream_calls(self, endpoint: Endpoint) -> dict[str, float]:
        client = StreamClient(endpoint, JsonCodec())
        seconds = []
        for _ in range(WARMUPS + CALLS):
            began = time.perf_counter()
            await client.call("execute", [TASK])
            seconds.append(time.perf_counter() - began)
        client.close()
        return _summary(seconds)

    async def compiled_graph_calls(self, pool: Any) -> dict[str, Any]:
        from ray.dag import InputNode

        try:
            with InputNode() as task_batch:
                dag = pool.execute.bind(task_batch)
            compiled = dag.experimental_compile(enable_asyncio=True)
        except Exception as error:
            return {"error": f"{type(error).__name__}: {error}"}
        seconds = []
        try:
            for _ in range(WARMUPS + CALLS):
                began = time.perf_counter()
                await (await compiled.execute_async([TASK]))
                seconds.append(time.perf_counter() - began)
        finally:
            compiled.teardown()
        return _summary(seconds)


def measure() -> dict[str, Any]:
    pool = WorkerPool.remote("bench.workers", "bench_py", 0)  # type: ignore[attr-defined]
    endpoint = ray.get(pool.endpoint.remote())
    caller = Caller.remote()  # type: ignore[attr-defined]
    figures = {
        "rayActorCall": ray.get(caller.ray_calls.remote(pool)),
        "stream": ray.get(caller.stream_calls.remote(endpoint)),
        "compiledGraph": ray.get(caller.compiled_graph_calls.remote(PlainPool.remote())),  # type: ignore[attr-defined]
    }
    return figures


def main() -> None:
    ray.init(include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": str(Path.cwd())}})
    try:
        figures = measure()
    finally:
        ray.shutdown()
    print(json.dumps(figures, indent=2))
    for way, found in figures.items():
        if "error" in found:
            print(f"{way}: {found['error']}")
        else:
            print(f"{way}: p50 {found['p50Ms']:.3f} ms, p90 {found['p90Ms']:.3f} ms, mean {found['meanMs']:.3f} ms")


if __name__ == "__main__":
    main()
