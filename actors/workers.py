"""Python actor workers: a decorator that names a function's task type.

    from actors.workers import worker_task

    @worker_task("resize_image", pool_size=4)
    async def resize(url: str, width: int) -> dict:
        ...

`podium up --workers mypkg.tasks` imports the module and starts a Ray actor pool per
decorated task type. As with conductor-python's worker_task, the function receives
the task's input as keyword arguments (only those it declares, unless it takes
**kwargs), or the whole task as a dict when its single parameter is named `task`.
It returns the task's output: a dict, or any other value under the key `result`.
Raising fails the task (it is retried per its TaskDef); raising TerminalError fails it
for good.

`colocated=True` asks each shard to run the function in its own process as well, so a
task costs no hop between the shard and a pool actor: for short, well-behaved functions
on the latency path. An async one runs on the shard's event loop and must not block; a
plain one runs on a thread. A function that crashes its process takes the shard with it
(Ray restarts the shard, which dispatches the task again): keep anything risky in a pool.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

WorkerFunction = Callable[..., Any]


class TerminalError(Exception):
    """Fail the task with FAILED_WITH_TERMINAL_ERROR: no retries."""


@dataclass(frozen=True)
class WorkerSpec:
    task_type: str
    function: WorkerFunction
    pool_size: int = 2
    num_cpus: float = 0
    max_concurrency: int = 100
    # Each shard also runs it in its own process (see the module's docstring).
    colocated: bool = False

    @property
    def module(self) -> str:
        return self.function.__module__


_registry: dict[str, WorkerSpec] = {}


def worker_task(
    task_type: str,
    *,
    pool_size: int = 2,
    num_cpus: float = 0,
    max_concurrency: int = 100,
    colocated: bool = False,
) -> Callable[[WorkerFunction], WorkerFunction]:
    if pool_size < 1:
        raise ValueError(f"worker_task({task_type!r}): pool_size must be at least 1")

    def decorate(function: WorkerFunction) -> WorkerFunction:
        _registry[task_type] = WorkerSpec(task_type, function, pool_size, num_cpus, max_concurrency, colocated)
        return function

    return decorate


def registered_workers() -> dict[str, WorkerSpec]:
    return dict(_registry)


def load_worker_modules(modules: list[str]) -> dict[str, WorkerSpec]:
    """Import each module and return every worker it declared, by task type."""
    for module in modules:
        importlib.import_module(module)
    return registered_workers()


def _call_arguments(function: WorkerFunction, task: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    parameters = inspect.signature(function).parameters
    if len(parameters) == 1 and "task" in parameters:
        return [task], {}
    inputs = task.get("inputData") or {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return [], dict(inputs)
    return [], {name: inputs[name] for name in parameters if name in inputs}


async def run_worker(function: WorkerFunction, task: dict[str, Any], worker_id: str) -> dict[str, Any]:
    """Run one task and describe the outcome as a TaskResult-shaped dict."""
    result: dict[str, Any] = {
        "taskId": task["taskId"],
        "workflowInstanceId": task["workflowInstanceId"],
        "workerId": worker_id,
    }
    try:
        args, kwargs = _call_arguments(function, task)
        if inspect.iscoroutinefunction(function):
            value = await function(*args, **kwargs)
        else:
            value = await asyncio.to_thread(function, *args, **kwargs)
    except TerminalError as error:
        return {**result, "status": "FAILED_WITH_TERMINAL_ERROR", "reasonForIncompletion": str(error)}
    except Exception as error:
        return {**result, "status": "FAILED", "reasonForIncompletion": f"{type(error).__name__}: {error}"}
    output = value if isinstance(value, dict) else ({} if value is None else {"result": value})
    return {**result, "status": "COMPLETED", "outputData": output}


def encode_results(results: list[dict[str, Any]]) -> bytes:
    """The results as JSON; one whose output JSON cannot carry fails for good, by itself."""
    try:
        return orjson.dumps(results)
    except TypeError:
        safe = []
        for result in results:
            try:
                orjson.dumps(result)
            except TypeError as error:
                result = {
                    "taskId": result["taskId"],
                    "workflowInstanceId": result["workflowInstanceId"],
                    "workerId": result.get("workerId"),
                    "status": "FAILED_WITH_TERMINAL_ERROR",
                    "reasonForIncompletion": f"the worker's output is not JSON: {error}",
                }
            safe.append(result)
        return orjson.dumps(safe)


async def run_here(function: WorkerFunction, tasks: list[dict[str, Any]], worker_id: str) -> list[dict[str, Any]]:
    """Run tasks in this process, as a pool actor would, with the same JSON-only outputs."""
    if len(tasks) == 1:
        results = [await run_worker(function, tasks[0], worker_id)]
    else:
        results = list(await asyncio.gather(*(run_worker(function, task, worker_id) for task in tasks)))
    encoded = encode_results(results)
    decoded: list[dict[str, Any]] = orjson.loads(encoded)
    return decoded
