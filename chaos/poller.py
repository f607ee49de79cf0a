"""The chaos run's external worker: batch-polls over HTTP like conductor-python, counts
each execution, reports with update-v2 and runs the task it hands back, and keeps trying
to report a result while the gateway is down (as the SDK retries its updates)."""

from __future__ import annotations

import asyncio
import os
from multiprocessing.synchronize import Event

import aiohttp
import orjson

from bench.poller import WorkerProcesses, completed
from chaos.counts import COUNTS_DIR_VARIABLE, record

HEADERS = {"Content-Type": "application/json"}
REPORT_FOR_SECONDS = 120.0


async def _report(http: aiohttp.ClientSession, api: str, task: dict[str, object], worker_id: str) -> object:
    """Report with update-v2, as conductor-python does; answers the next task it hands
    back (None if none, or if the task is no longer this worker's)."""
    body = completed(task, worker_id)
    loop = asyncio.get_running_loop()
    deadline, pause = loop.time() + REPORT_FOR_SECONDS, 0.05
    while loop.time() < deadline:
        try:
            async with http.post(f"{api}/tasks/update-v2", data=body, headers=HEADERS) as response:
                answer = await response.read()
                if response.status == 200:
                    return orjson.loads(answer) if answer.strip() else None
                if response.status < 500:
                    return None  # 4xx: the task is no longer this worker's
        except (TimeoutError, aiohttp.ClientError):
            pass
        await asyncio.sleep(pause)
        pause = min(pause * 2, 1.0)
    return None


async def _work(http: aiohttp.ClientSession, api: str, task: dict[str, object], worker_id: str) -> None:
    """Run a task, then each next task the reports hand back, as the SDK's tight loop does."""
    current: object = task
    while isinstance(current, dict) and current.get("taskId"):
        retry_count = int(current.get("retryCount") or 0)
        record(str(current["workflowInstanceId"]), str(current["referenceTaskName"]), retry_count)
        current = await _report(http, api, current, worker_id)


async def _poll_loop(http: aiohttp.ClientSession, api: str, task_type: str, stop: Event, worker_id: str) -> None:
    url = f"{api}/tasks/poll/batch/{task_type}?count=16&timeout=200&workerid={worker_id}"
    while not stop.is_set():
        try:
            async with http.get(url) as response:
                tasks = orjson.loads(await response.read()) if response.status == 200 else []
        except (TimeoutError, aiohttp.ClientError, ValueError):
            await asyncio.sleep(0.2)
            continue
        await asyncio.gather(*(_work(http, api, task, worker_id) for task in tasks))


def _run(api: str, task_type: str, loops: int, counts_dir: str, stop: Event, index: int) -> None:
    os.environ[COUNTS_DIR_VARIABLE] = counts_dir

    async def main() -> None:
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=loops * 20), timeout=timeout) as http:
            await asyncio.gather(*(_poll_loop(http, api, task_type, stop, f"chaos-{index}-{n}") for n in range(loops)))

    asyncio.run(main())


class Pollers(WorkerProcesses):
    """External worker processes, started and stopped with the run."""

    def __init__(self, api: str, task_type: str, counts_dir: str, processes: int = 1, loops: int = 4) -> None:
        super().__init__(_run, (api, task_type, loops, counts_dir), processes)
