"""WorkerPool: a Ray actor running one task type's Python worker function.

A shard sends a pool actor batches of tasks over a stream it keeps open to the actor
(actors/stream.py: one Ray call finds the stream, the tasks skip Ray's per-call cost);
the actor runs them concurrently (async functions on its event loop, plain ones on
threads) and answers with one result per task.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import ray

from actors.stream import Endpoint, JsonCodec, StreamServer
from actors.workers import encode_results, load_worker_modules, run_worker


def pool_actor_name(task_type: str, index: int) -> str:
    return f"podium-pool-{task_type}-{index}"


@ray.remote(num_cpus=0, max_restarts=-1)
class WorkerPool:
    def __init__(self, module: str, task_type: str, index: int) -> None:
        spec = load_worker_modules([module]).get(task_type)
        if spec is None:
            raise LookupError(f"module {module!r} declares no worker for task type {task_type!r}")
        self.function = spec.function
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{pool_actor_name(task_type, index)}"
        self.server = StreamServer({"execute": self._execute_encoded}, JsonCodec())

    async def execute(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(run_worker(self.function, task, self.worker_id) for task in tasks)))

    async def _execute_encoded(self, tasks: list[dict[str, Any]]) -> bytes:
        return encode_results(await self.execute(tasks))

    async def endpoint(self) -> Endpoint:
        """Where a shard connects to send this actor tasks (opened on first ask)."""
        return await self.server.endpoint(ray.util.get_node_ip_address())

    def ping(self) -> str:
        return self.worker_id

    def pid(self) -> int:
        return os.getpid()
