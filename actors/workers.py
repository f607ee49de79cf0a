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
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
) -> Callable[[WorkerFunction], WorkerFunction]:
    if pool_size < 1:
        raise ValueError(f"worker_task({task_type!r}): pool_size must be at least 1")

    def decorate(function: WorkerFunction) -> WorkerFunction:
        _registry[task_type] = WorkerSpec(task_type, function, pool_size, num_cpus, max_concurrency)
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
