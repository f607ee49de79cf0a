"""The chaos run's Python pool worker: counts each execution, then answers at once."""

from __future__ import annotations

from typing import Any

from actors.workers import worker_task
from chaos.counts import record

OUTPUT = {"value": 1, "kind": "small"}


@worker_task("chaos_py", pool_size=2, max_concurrency=1000)
async def chaos_py(task: dict[str, Any]) -> dict[str, Any]:
    record(task["workflowInstanceId"], task["referenceTaskName"], task.get("retryCount", 0))
    return OUTPUT
