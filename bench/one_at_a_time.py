"""Scenario 1c: the reference workflow one at a time, end to end.

No load: one execution in flight, started with `POST /api/workflow` and watched with
`GET /api/workflow/{id}?includeTasks=false` (a short sleep between reads) until it ends.
Two kinds of workers run its SIMPLE tasks: Podium's Python pool workers (`bench_py`,
pushed to Ray actors) and conductor-python 2.0.0's own TaskHandler (`bench_sdk`,
batch-polling over HTTP with the SDK's default settings).

Per run it records the server-side time (`endTime - startTime` of the execution) and the
client-observed time (from sending the start POST to reading a terminal status). Every
run must end COMPLETED; the first that does not fails the scenario.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import aiohttp
import orjson

from bench.driver import register
from bench.workflows import reference_workflows

OUTPUT = {"value": 1, "kind": "small"}
HEADERS = {"Content-Type": "application/json"}
RUNNING = ("RUNNING", "PAUSED")
WARMUPS = 5
# Between two status reads: short, so the client sees the end within ~1 ms of it.
READ_PAUSE = 0.001
RUN_TIMEOUT = 60.0


def bench_sdk() -> dict[str, Any]:
    """The conductor-python worker: module level, so the SDK's spawned process can import it."""
    return OUTPUT


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank, as the other scenarios count it (p99 of 20 or 50 runs is their slowest)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _breakdown(workflows: list[dict[str, Any]], task_type: str) -> dict[str, float]:
    """Where a run's time goes, from the tasks' own timestamps (whole milliseconds; means).

    - queuedMs: a worker task from scheduled to picked up by a worker (a pool task is
      never marked IN_PROGRESS: its startTime is its endTime, so this is its whole round trip);
    - workerMs: a worker task from picked up to its result recorded (0 for pool tasks);
    - stepGapMs: from one of step_1..step_6 ending to the next being scheduled (the engine's turn);
    - subWorkflowMs: the SUB_WORKFLOW task from scheduled to ended (a whole child execution).
    """
    queued: list[float] = []
    worked: list[float] = []
    gaps: list[float] = []
    child: list[float] = []
    for workflow in workflows:
        tasks = {task["referenceTaskName"]: task for task in workflow.get("tasks", [])}
        for task in tasks.values():
            if task.get("taskType") == task_type and task.get("startTime") and task.get("endTime"):
                queued.append(task["startTime"] - task["scheduledTime"])
                worked.append(task["endTime"] - task["startTime"])
            if task.get("taskType") == "SUB_WORKFLOW" and task.get("endTime"):
                child.append(task["endTime"] - task["scheduledTime"])
        for n in range(1, 6):
            before, after = tasks.get(f"step_{n}"), tasks.get(f"step_{n + 1}")
            if before and after and before.get("endTime"):
                gaps.append(after["scheduledTime"] - before["endTime"])
    mean = statistics.fmean
    return {
        "queuedMs": mean(queued) if queued else float("nan"),
        "workerMs": mean(worked) if worked else float("nan"),
        "stepGapMs": mean(gaps) if gaps else float("nan"),
        "subWorkflowMs": mean(child) if child else float("nan"),
    }


async def one_at_a_time(api: str, name: str, task_type: str, runs: int, label: str) -> dict[str, Any]:
    """`WARMUPS` unrecorded runs, then `runs` recorded ones, strictly one after another."""
    body = orjson.dumps({"name": name, "input": {"i": 1}})
    server: list[float] = []
    client: list[float] = []
    measured: list[str] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4)) as http:
        for n in range(WARMUPS + runs):
            sent = time.perf_counter()
            async with http.post(f"{api}/workflow", data=body, headers=HEADERS) as response:
                response.raise_for_status()
                workflow_id = (await response.read()).decode()
            url = f"{api}/workflow/{workflow_id}?includeTasks=false"
            while True:
                async with http.get(url) as response:
                    workflow = orjson.loads(await response.read())
                seen = time.perf_counter()
                if workflow["status"] not in RUNNING or seen - sent > RUN_TIMEOUT:
                    break
                await asyncio.sleep(READ_PAUSE)
            if workflow["status"] != "COMPLETED":
                why = workflow.get("reasonForIncompletion") or f"not ended after {RUN_TIMEOUT:.0f} s"
                failure = f"run {n + 1} ({workflow_id}) {workflow['status']}: {why}"
                print(f"  1c {label}: FAILED {failure}", flush=True)
                return {"ok": False, "failures": [failure], "runs": len(server)}
            if n < WARMUPS:
                continue
            measured.append(workflow_id)
            server.append(float(workflow["endTime"] - workflow["startTime"]))
            client.append((seen - sent) * 1000)
        details = []
        for workflow_id in measured:
            async with http.get(f"{api}/workflow/{workflow_id}?includeTasks=true") as response:
                details.append(orjson.loads(await response.read()))
    figures: dict[str, Any] = {
        "ok": True,
        "p50": percentile(server, 0.5), "p99": percentile(server, 0.99),
        "clientP50": percentile(client, 0.5), "clientP99": percentile(client, 0.99),
        "runs": len(server),
        "mean": statistics.fmean(server), "clientMean": statistics.fmean(client),
        "breakdown": _breakdown(details, task_type),
    }
    print(f"  1c {label}: server p50 {figures['p50']:.1f} ms p99 {figures['p99']:.1f} ms, "
          f"client p50 {figures['clientP50']:.1f} ms p99 {figures['clientP99']:.1f} ms over {len(server)} runs; "
          f"{ {k: round(v, 2) for k, v in figures['breakdown'].items()} }", flush=True)
    return figures


def _python_workers(api: str, runs: int) -> dict[str, Any]:
    child, parent = reference_workflows("bench_py")
    asyncio.run(register(api, [child, parent], []))
    return asyncio.run(one_at_a_time(api, parent["name"], "bench_py", runs, "Python pool workers"))


def _sdk_workers(api: str, runs: int) -> dict[str, Any]:
    # Imported here: importing the task handler sets the process-wide multiprocessing start method.
    from conductor.client.automator.task_handler import TaskHandler
    from conductor.client.configuration.configuration import Configuration
    from conductor.client.worker.worker import Worker

    task_type = "bench_sdk"
    child, parent = reference_workflows(task_type)
    asyncio.run(register(api, [child, parent], [{"name": task_type, "retryCount": 0}]))
    configuration = Configuration(server_api_url=api)
    # The SDK's defaults throughout: poll_interval 100 ms, thread_count 1, batch polls
    # with a 100 ms server-side wait, results through /tasks/update-v2.
    handler = TaskHandler(workers=[Worker(task_definition_name=task_type, execute_function=bench_sdk)],
                          configuration=configuration, scan_for_annotated_workers=False)
    handler.start_processes()
    try:
        return asyncio.run(one_at_a_time(api, parent["name"], task_type, runs, "conductor-python TaskHandler"))
    finally:
        handler.stop_processes()
        handler.join_processes()
        handler.logger_process.join(timeout=5)


def scenario_one_at_a_time(api: str, runs: int) -> dict[str, Any]:
    return {"python_workers": _python_workers(api, runs), "sdk_workers": _sdk_workers(api, runs)}
