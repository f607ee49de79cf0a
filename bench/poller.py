"""A lean external worker: batch-polls over HTTP and reports results, as conductor-python does.

Runs in its own processes so the load looks like real remote workers: one process
per `processes`, each with `loops` concurrent poll loops.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from multiprocessing.synchronize import Event
from typing import Any

import aiohttp
import orjson

OUTPUT = {"value": 1, "kind": "small"}
HEADERS = {"Content-Type": "application/json"}


def completed(task: dict[str, object], worker_id: str) -> bytes:
    """The TaskResult a bench worker reports: COMPLETED with the bench's fixed output."""
    return orjson.dumps(
        {
            "workflowInstanceId": task["workflowInstanceId"],
            "taskId": task["taskId"],
            "status": "COMPLETED",
            "outputData": OUTPUT,
            "workerId": worker_id,
        }
    )


async def _poll_loop(http: aiohttp.ClientSession, api: str, task_type: str, stop: Event, worker_id: str) -> None:
    url = f"{api}/tasks/poll/batch/{task_type}?count=32&timeout=200&workerid={worker_id}"
    while not stop.is_set():
        async with http.get(url) as response:
            tasks = orjson.loads(await response.read()) if response.status == 200 else []
        if not tasks:
            continue

        async def report(task: dict[str, object]) -> None:
            async with http.post(f"{api}/tasks", data=completed(task, worker_id), headers=HEADERS) as response:
                await response.read()

        await asyncio.gather(*(report(task) for task in tasks))


def _run(api: str, task_type: str, loops: int, stop: Event, index: int) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=loops * 40)) as http:
            await asyncio.gather(*(_poll_loop(http, api, task_type, stop, f"bench-{index}-{n}") for n in range(loops)))

    asyncio.run(main())


class WorkerProcesses:
    """Worker processes (spawned, so they import nothing of the driver's state), each
    running `target(*arguments, stop_event, index)`, stopped together on exit."""

    def __init__(self, target: Callable[..., None], arguments: tuple[Any, ...], processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop_event = context.Event()
        self.processes = [
            context.Process(target=target, args=(*arguments, self.stop_event, i), daemon=True) for i in range(processes)
        ]

    def __enter__(self) -> WorkerProcesses:
        for process in self.processes:
            process.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_event.set()
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


class Pollers(WorkerProcesses):
    def __init__(self, api: str, task_type: str, processes: int = 2, loops: int = 4) -> None:
        super().__init__(_run, (api, task_type, loops), processes)


# conductor-python's TaskHandler, beside the lean poller in scenario 1b: its defaults
# except the thread count, which the SDK documents as the knob for throughput.
SDK_PROCESSES = 2
SDK_THREADS = 10


class SdkWorkers:
    """conductor-python's own TaskHandler serving `task_type` (SDK_PROCESSES worker
    processes of SDK_THREADS threads each), started on enter and stopped on exit."""

    def __init__(self, api: str, task_type: str) -> None:
        self.api = api
        self.task_type = task_type
        self.handler: Any = None

    def __enter__(self) -> str:
        # Imported here: importing the task handler sets the process-wide multiprocessing start method.
        from conductor.client.automator.task_handler import TaskHandler
        from conductor.client.configuration.configuration import Configuration
        from conductor.client.worker.worker import Worker

        from bench.one_at_a_time import bench_sdk

        workers = [
            Worker(task_definition_name=self.task_type, execute_function=bench_sdk, thread_count=SDK_THREADS,
                   worker_id=f"bench-sdk-{n}")
            for n in range(SDK_PROCESSES)
        ]
        self.handler = TaskHandler(workers=workers, configuration=Configuration(server_api_url=self.api),
                                   scan_for_annotated_workers=False)
        self.handler.start_processes()
        return self.task_type

    def __exit__(self, *exc_info: object) -> None:
        self.handler.stop_processes()
        self.handler.join_processes()
        self.handler.logger_process.join(timeout=5)
