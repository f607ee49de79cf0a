"""`python -m bench.index_cost [N]`: what the search indexes cost on the step path.

Runs the reference workflow (bench/workflows.py: 13 steps, a sub-workflow, SIMPLE tasks
on a Python pool that answers at once) N times (default 1000, 200 in flight) through a
ShardCore in this process on an embedded Redis, once with the checkpoint's index writes
and once without (`Checkpoint.index` replaced by a no-op), alternating three times, and
prints per step: this process's CPU (the shard, plus the small driver loop) and Redis's
CPU, and Redis's memory. Unlike `python -m bench --only 1a`, these figures hardly move
with other load on the machine.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from actors.shard import ShardCore
from actors.workflow import events as ev
from bench.workflows import TASKS_PER_WORKFLOW, reference_workflows
from cluster.redis_server import EmbeddedRedis
from cluster.store import Checkpoint, Indexed, Keys, Store
from definitions.models import TERMINAL_WORKFLOW_STATUSES


async def _pool(task_type: str, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "taskId": t["taskId"],
            "workflowInstanceId": t["workflowInstanceId"],
            "status": "COMPLETED",
            "outputData": {"value": 1, "kind": "small"},
        }
        for t in tasks
    ]


async def _run(redis_url: str, count: int, in_flight: int = 200) -> dict[str, float]:
    store = Store(redis_url, 8)
    child, parent = reference_workflows("bench_py")
    await store.put_workflow_defs([child, parent])
    await store.register_pools({"bench_py": 2})
    core = ShardCore(0, store, call_pool=_pool)
    await core.start()
    definition = await store.get_workflow_def_raw(parent["name"])
    assert definition is not None, "the parent definition was just stored"
    running = Keys.running(parent["name"])
    before = await store.redis.info("cpu")
    memory_before = (await store.redis.info("memory"))["used_memory"]
    cpu, began = time.process_time(), time.perf_counter()
    started = 0
    while started < count:
        batch = min(in_flight - int(await store.redis.scard(running)), count - started)
        if batch > 0:
            requests = [
                ev.StartFields(workflowId=f"wf-{started + k}", definition=definition, input={"i": 1})
                for k in range(batch)
            ]
            await core.start_workflows(requests)
            started += batch
        else:
            await asyncio.sleep(0.002)
    while await store.redis.scard(running):
        await asyncio.sleep(0.002)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    after = await store.redis.info("cpu")
    memory_after = (await store.redis.info("memory"))["used_memory"]
    last = await store.get_workflow(f"wf-{count - 1}", include_tasks=False)
    assert last is not None and last["status"] in TERMINAL_WORKFLOW_STATUSES
    await store.close()
    redis_cpu = sum(after[k] - before[k] for k in ("used_cpu_sys", "used_cpu_user"))
    steps = count * TASKS_PER_WORKFLOW
    return {
        "workflowsPerSecond": count / wall,
        "processMicrosPerStep": cpu / steps * 1e6,
        "redisMicrosPerStep": redis_cpu / steps * 1e6,
        "redisBytesPerWorkflow": (memory_after - memory_before) / count,
    }


def measure(count: int, indexed: bool) -> dict[str, float]:
    real = Checkpoint.index

    def no_index(self: Checkpoint, state: Any, known: Indexed | None) -> Indexed:
        return known or Indexed()

    if not indexed:
        Checkpoint.index = no_index  # type: ignore[method-assign,assignment]
    try:
        with tempfile.TemporaryDirectory(prefix="podium-index-cost-") as home, EmbeddedRedis(Path(home)) as server:
            return asyncio.run(_run(server.url, count))
    finally:
        Checkpoint.index = real  # type: ignore[method-assign]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    for _ in range(3):
        for indexed in (False, True):
            figures = measure(count, indexed)
            print(
                f"{'with' if indexed else 'without'} indexes: {figures['workflowsPerSecond']:.0f} workflows/s, "
                f"this process {figures['processMicrosPerStep']:.0f} us/step, "
                f"Redis {figures['redisMicrosPerStep']:.0f} us/step, "
                f"Redis {figures['redisBytesPerWorkflow']:.0f} bytes/workflow",
                flush=True,
            )


if __name__ == "__main__":
    main()
