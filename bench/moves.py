"""Scenario 7: partitions moving between shards under a steady load.

Reference workflows (Python pool workers) are started open-loop at a fixed rate, well
below what two shards on two cores sustain, through three phases:

- before: the shards the runtime started with (2);
- during: `PUT /admin/shards {"shards": 3}`, and once that move has settled (every
  partition served by the shard the members want for it, nothing leaving, as many
  shards as wanted) `PUT {"shards": 2}` again, until that has settled too;
- after: as long as before.

`GET /admin/shards` is read every ~100 ms throughout, which gives, per partition, who
served it when, and so the windows in which it moved: from the last view with the old
owner serving it to the first with the new one serving it. After the load every started
workflow is read back (`GET /workflow/{id}?includeTasks=false`): status, server-side
start and end; those started near a move with their tasks, for the id of their child
sub-workflow. A workflow "ran across a move" when its own partition (of its id) or its
child's had a move window overlapping its run: a parent waits on its child's start and
end messages, which cross partitions. The view is coarse (~100 ms), so workflows that
ended just before or began just after a move count too; they pull the moved p50 down,
not the p99.

Reported: completions per second per phase (by server end time), p50/p99/max of
workflow duration (server end - server start; for moved ones also from the start POST
leaving the client, as a start waits in the gateway while its partition is handed over)
for the workflows that ran across a move and for all those started in the before phase,
the start POST's latency per phase, how long each scale step took to settle,
and every failure: a start refused, a view of the shards that failed, a move that did
not settle, or a workflow not COMPLETED once the load drained (FAILED, TERMINATED, or
still RUNNING: stuck). Any of those fails the scenario.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis

from bench.driver import register
from bench.workflows import reference_workflows
from cluster.leases import desired_owners
from cluster.store import Keys, partition_of

RATE = 100.0  # starts per second: about a third of what 2 shards sustain on 2 cores (scenario 1a)
WARMUP_SECONDS = 2.0
VIEW_INTERVAL = 0.1
SETTLE_TIMEOUT = 90.0
DRAIN_TIMEOUT = 60.0
PAUSE_TARGET_MS = 5000.0


@dataclass
class View:
    sent: float  # epoch seconds the request left
    received: float  # epoch seconds the answer came back
    shards: list[str]  # names of the shards that answered
    serving: list[str | None]  # per partition, the shard serving it (None: in hand-over or unowned)
    leaving: int
    unowned: int
    errors: list[str]  # shards listed with an error instead of stats


@dataclass
class Started:
    workflow_id: str
    client_start: float  # epoch seconds the POST left
    partition: int
    start_ms: float  # how long the POST took


@dataclass
class Run:
    partitions: int = 0
    views: list[View] = field(default_factory=list)
    started: list[Started] = field(default_factory=list)
    start_errors: list[str] = field(default_factory=list)
    view_errors: list[str] = field(default_factory=list)
    shard_errors: list[str] = field(default_factory=list)


def _cpu_seconds() -> tuple[float, float]:
    """(CPU seconds used so far by this process and all its descendants: Ray, Redis, the
    shards, pools and gateway; wall seconds), from /proc. Other users of the machine are
    left out. A process that exits (a retired shard) takes its seconds with it."""
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        used[int(entry)] = int(fields[11]) + int(fields[12])  # utime + stime
    mine, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in mine]
        mine.update(children)
        frontier += children
    return sum(used.get(pid, 0) for pid in mine) / os.sysconf("SC_CLK_TCK"), time.monotonic()


def _cores(first: tuple[float, float], last: tuple[float, float]) -> float | None:
    """Cores kept busy on average between two `_cpu_seconds` readings."""
    wall = last[1] - first[1]
    return (last[0] - first[0]) / wall if wall > 0 else None


def _view_of(body: dict[str, Any], sent: float, received: float) -> View:
    partitions = int(body["partitions"])
    serving: list[str | None] = [None] * partitions
    names, errors, leaving = [], [], 0
    for shard in body["shards"]:
        if "partitions" not in shard:
            errors.append(f"{shard.get('name')}: {shard.get('error')}")
            continue
        names.append(shard["name"])
        leaving += len(shard["leaving"])
        for p in shard["partitions"]:
            serving[p] = shard["name"]
    return View(sent, received, sorted(names), serving, leaving, len(body["unowned"]), errors)


def settled(view: View, wanted: int) -> bool:
    """As many shards as wanted, each partition served by the one the members want, none leaving."""
    if len(view.shards) != wanted or view.leaving or view.unowned or view.errors:
        return False
    return view.serving == desired_owners(len(view.serving), view.shards)


def move_windows(views: list[View]) -> dict[int, list[tuple[float, float]]]:
    """Per partition, the (from, to) epoch seconds of each move: from the last view with the
    old owner serving it to the first with another one serving it."""
    windows: dict[int, list[tuple[float, float]]] = {}
    if not views:
        return windows
    for p in range(len(views[0].serving)):
        owner: str | None = None
        last_seen = 0.0
        for view in views:
            now = view.serving[p]
            if now is None:
                continue
            if owner is not None and now != owner:
                windows.setdefault(p, []).append((last_seen, view.received))
            owner, last_seen = now, view.sent
    return windows


def _percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    return {"count": len(ordered), "p50": at(0.5), "p99": at(0.99), "max": ordered[-1],
            "mean": statistics.fmean(ordered)}


async def _watch(http: aiohttp.ClientSession, api: str, run: Run, stop: asyncio.Event) -> None:
    while not stop.is_set():
        sent = time.time()
        try:
            async with http.get(f"{api}/admin/shards") as response:
                text = await response.read()
                if response.status != 200:
                    run.view_errors.append(f"GET /admin/shards answered {response.status}: {text[:200]!r}")
                else:
                    view = _view_of(orjson.loads(text), sent, time.time())
                    run.views.append(view)
                    run.shard_errors += [f"{time.time():.3f} {e}" for e in view.errors]
        except (aiohttp.ClientError, TimeoutError) as e:
            run.view_errors.append(f"GET /admin/shards: {type(e).__name__}: {e}")
        await asyncio.sleep(max(0.0, sent + VIEW_INTERVAL - time.time()))


async def _load(http: aiohttp.ClientSession, api: str, name: str, run: Run, until: list[float]) -> None:
    """Start RATE workflows a second on a fixed schedule until time.monotonic() passes until[0]."""
    body = orjson.dumps({"name": name, "input": {"i": 1}})
    pending: set[asyncio.Task[None]] = set()

    async def start_one() -> None:
        client_start = time.time()
        try:
            async with http.post(f"{api}/workflow", data=body, headers={"Content-Type": "application/json"}) as r:
                text = await r.read()
                if r.status != 200:
                    run.start_errors.append(f"POST /workflow answered {r.status}: {text[:200]!r}")
                    return
        except (aiohttp.ClientError, TimeoutError) as e:
            run.start_errors.append(f"POST /workflow: {type(e).__name__}: {e}")
            return
        workflow_id = text.decode()
        run.started.append(Started(workflow_id, client_start, partition_of(workflow_id, run.partitions),
                                   (time.time() - client_start) * 1000))

    begin = time.perf_counter()
    n = 0
    while time.monotonic() < until[0]:
        delay = begin + n / RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(start_one())
        pending.add(task)
        task.add_done_callback(pending.discard)
        n += 1
    await asyncio.gather(*pending)


async def _scale(http: aiohttp.ClientSession, api: str, shards: int, run: Run) -> dict[str, Any]:
    """PUT the wanted shard count; wait for a view, asked after the PUT, that shows it settled."""
    put_at = time.time()
    async with http.put(f"{api}/admin/shards", json={"shards": shards}) as response:
        text = await response.read()
        if response.status != 202:
            return {"shards": shards, "error": f"PUT /admin/shards answered {response.status}: {text[:200]!r}"}
    answered = time.time()
    deadline = time.monotonic() + SETTLE_TIMEOUT
    seen = len(run.views)
    while time.monotonic() < deadline:
        for view in run.views[seen:]:
            if view.sent >= answered and settled(view, shards):
                return {"shards": shards, "settleSeconds": view.received - put_at, "at": put_at}
        seen = len(run.views)
        await asyncio.sleep(VIEW_INTERVAL / 2)
    last = run.views[-1] if run.views else None
    state = (f"last view: {len(last.shards)} shards, {last.leaving} leaving, {last.unowned} unowned, "
             f"errors {last.errors}") if last else "no view"
    return {"shards": shards, "error": f"not settled within {SETTLE_TIMEOUT:.0f} s; {state}", "at": put_at}


async def _read_back(
    http: aiohttp.ClientSession, api: str, ids: list[str], with_tasks: set[str]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Status, start and end of each workflow; for those in `with_tasks`, also the id of its child."""
    found: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    queue = iter(ids)

    async def reader() -> None:
        for workflow_id in queue:
            tasks = "true" if workflow_id in with_tasks else "false"
            async with http.get(f"{api}/workflow/{workflow_id}?includeTasks={tasks}") as response:
                text = await response.read()
                if response.status != 200:
                    errors.append(f"GET /workflow/{workflow_id} answered {response.status}: {text[:200]!r}")
                    continue
            workflow = orjson.loads(text)
            found[workflow_id] = {k: workflow.get(k) for k in ("status", "startTime", "endTime",
                                                                  "reasonForIncompletion")}
            children = [t["subWorkflowId"] for t in workflow.get("tasks") or [] if t.get("subWorkflowId")]
            found[workflow_id]["child"] = children[0] if children else None

    await asyncio.gather(*(reader() for _ in range(32)))
    return found, errors


async def _run(api: str, redis_url: str, phase_seconds: float) -> dict[str, Any]:
    child, parent = reference_workflows("bench_py")
    await register(api, [child, parent], [])
    name = parent["name"]
    run = Run()
    timeout = aiohttp.ClientTimeout(total=60)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256), timeout=timeout) as http,
        aiohttp.ClientSession(timeout=timeout) as watcher_http,
    ):
        async with watcher_http.get(f"{api}/admin/shards") as response:
            response.raise_for_status()
            first = orjson.loads(await response.read())
        run.partitions = int(first["partitions"])
        initial_shards = len(first["shards"])
        stop_watching = asyncio.Event()
        watcher = asyncio.create_task(_watch(watcher_http, api, run, stop_watching))
        until = [float("inf")]
        load = asyncio.create_task(_load(http, api, name, run, until))
        phases: dict[str, tuple[float, float]] = {}
        steps: list[dict[str, Any]] = []
        cpu: dict[str, float | None] = {}
        try:
            await asyncio.sleep(WARMUP_SECONDS)
            before, cpu_before = time.time(), _cpu_seconds()
            await asyncio.sleep(phase_seconds)
            during, cpu_during = time.time(), _cpu_seconds()
            phases["before"] = (before, during)
            cpu["before"] = _cores(cpu_before, cpu_during)
            steps.append(await _scale(http, api, initial_shards + 1, run))
            print(f"  7 scale to {initial_shards + 1}: {steps[-1]}", flush=True)
            if "error" not in steps[-1]:
                steps.append(await _scale(http, api, initial_shards, run))
                print(f"  7 scale to {initial_shards}: {steps[-1]}", flush=True)
            after, cpu_after = time.time(), _cpu_seconds()
            phases["during"] = (during, after)
            cpu["during"] = _cores(cpu_during, cpu_after)
            await asyncio.sleep(phase_seconds)
            phases["after"] = (after, time.time())
            cpu["after"] = _cores(cpu_after, _cpu_seconds())
        finally:
            until[0] = time.monotonic()
            await load
            if any("error" in step for step in steps):  # leave the runtime as it was for what follows
                async with http.put(f"{api}/admin/shards", json={"shards": initial_shards}):
                    pass
        # Let the started workflows finish (those stuck never will), then stop watching.
        client = aioredis.Redis.from_url(redis_url)
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while time.monotonic() < deadline and await client.scard(Keys.running(name)):
            await asyncio.sleep(0.2)
        still_running = int(await client.scard(Keys.running(name)))
        await client.aclose()
        stop_watching.set()
        await watcher
        # The child of a workflow started near a move may live in a moved partition too.
        spans = [span for spans in move_windows(run.views).values() for span in spans]
        first_move, last_move = (min(low for low, _ in spans), max(high for _, high in spans)) if spans else (0, 0)
        near = {s.workflow_id for s in run.started if first_move - 10 < s.client_start < last_move}
        workflows, read_errors = await _read_back(http, api, [s.workflow_id for s in run.started], near)
    figures = _figures(run, workflows, read_errors, phases, steps, phase_seconds, still_running)
    # Cores used per phase by the bench's process tree (its load client included).
    figures["cpuCores"] = cpu
    return figures


def _figures(
    run: Run,
    workflows: dict[str, dict[str, Any]],
    read_errors: list[str],
    phases: dict[str, tuple[float, float]],
    steps: list[dict[str, Any]],
    phase_seconds: float,
    still_running: int,
) -> dict[str, Any]:
    windows = move_windows(run.views)
    statuses: dict[str, int] = {}
    not_completed: list[str] = []
    moved_ms: list[float] = []
    moved_client_ms: list[float] = []
    start_ms: dict[str, list[float]] = {phase: [] for phase in phases}
    moved_by = {"own": 0, "childOnly": 0}
    by_phase_ms: dict[str, list[float]] = {phase: [] for phase in phases}
    ends: list[float] = []
    for started in run.started:
        workflow = workflows.get(started.workflow_id)
        if workflow is None:
            continue
        status = str(workflow["status"])
        statuses[status] = statuses.get(status, 0) + 1
        if status != "COMPLETED":
            if len(not_completed) < 20:
                not_completed.append(f"{started.workflow_id} (partition {started.partition}): {status} "
                                     f"{workflow.get('reasonForIncompletion') or ''}".rstrip())
            continue
        begin, end = workflow["startTime"] / 1000, workflow["endTime"] / 1000
        duration = (end - begin) * 1000
        # A start whose partition is in hand-over waits in the gateway for the new owner,
        # so the run as the client sees it begins when the POST left.
        client_begin = min(begin, started.client_start)
        ends.append(end)
        for phase, (low, high) in phases.items():
            if low <= begin < high:
                by_phase_ms[phase].append(duration)
            if low <= started.client_start < high:
                start_ms[phase].append(started.start_ms)
        child = workflow.get("child")
        own = any(low < end and client_begin < high for low, high in windows.get(started.partition, []))
        childs = child is not None and any(
            low < end and client_begin < high for low, high in windows.get(partition_of(child, run.partitions), [])
        )
        if own or childs:
            moved_ms.append(duration)
            moved_client_ms.append((end - client_begin) * 1000)
            moved_by["own" if own else "childOnly"] += 1
    throughput = {
        phase: sum(1 for end in ends if low <= end < high) / (high - low) for phase, (low, high) in phases.items()
    }
    moved_partitions = sorted(windows)
    move_spans = [high - low for spans in windows.values() for low, high in spans]
    failures: list[str] = []
    failures += [f"scale to {s['shards']}: {s['error']}" for s in steps if "error" in s]
    if len(steps) < 2 and not any("error" in s for s in steps):
        failures.append("the run stopped before both scale steps")
    if run.start_errors:
        failures.append(f"{len(run.start_errors)} starts refused, e.g. {run.start_errors[0]}")
    if run.view_errors:
        failures.append(f"{len(run.view_errors)} views of the shards failed, e.g. {run.view_errors[0]}")
    if read_errors:
        failures.append(f"{len(read_errors)} workflows could not be read back, e.g. {read_errors[0]}")
    bad = sum(n for status, n in statuses.items() if status != "COMPLETED")
    if bad:
        failures.append(f"{bad} of {len(workflows)} workflows not COMPLETED ({statuses}), e.g. {not_completed[0]}")
    if still_running:
        failures.append(f"{still_running} workflows still in the running set {DRAIN_TIMEOUT:.0f} s after the load")
    moved = _percentiles(moved_ms)
    figures: dict[str, Any] = {
        "rate": RATE,
        "phaseSeconds": phase_seconds,
        "phases": {phase: {"from": low, "to": high, "seconds": high - low} for phase, (low, high) in phases.items()},
        "started": len(run.started),
        "statuses": statuses,
        "throughput": throughput,
        "durationMs": {
            "moved": moved,
            # From the start POST leaving the client to the server's end time.
            "movedFromClientStart": _percentiles(moved_client_ms),
            **{phase: _percentiles(values) for phase, values in by_phase_ms.items()},
        },
        "startPostMs": {phase: _percentiles(values) for phase, values in start_ms.items()},
        "scaleSteps": steps,
        "movedWorkflowsBy": moved_by,
        "movedPartitions": len(moved_partitions),
        "moves": len(move_spans),
        "moveWindowMs": _percentiles([span * 1000 for span in move_spans]),
        "views": len(run.views),
        "viewIntervalMs": (
            1000 * (run.views[-1].sent - run.views[0].sent) / (len(run.views) - 1) if len(run.views) > 1 else None
        ),
        "shardErrorsInViews": run.shard_errors[:20],
        "notCompleted": not_completed,
        "failures": failures,
        "ok": not failures,
    }
    figures["met"] = bool(not failures and moved.get("count") and moved["p99"] < PAUSE_TARGET_MS)
    return figures


def scenario_partition_move(api: str, redis_url: str, phase_seconds: float) -> dict[str, Any]:
    figures = asyncio.run(_run(api, redis_url, phase_seconds))
    tp, ms = figures["throughput"], figures["durationMs"]
    print(f"  7 partition move: started {figures['started']}, statuses {figures['statuses']}", flush=True)
    print("  7 throughput/s: " + ", ".join(f"{phase} {rate:.1f}" for phase, rate in tp.items()), flush=True)
    print("  7 cores used: " + ", ".join(f"{phase} {cores:.2f}" for phase, cores in figures["cpuCores"].items()
                                         if cores is not None), flush=True)
    for label, figure in [*ms.items(), *(("start POST " + k, v) for k, v in figures["startPostMs"].items())]:
        if figure.get("count"):
            print(f"  7 duration {label}: n={figure['count']} p50 {figure['p50']:.0f} ms p99 {figure['p99']:.0f} ms "
                  f"max {figure['max']:.0f} ms", flush=True)
    print(f"  7 moved partitions {figures['movedPartitions']}, moves {figures['moves']}, "
          f"move windows {figures['moveWindowMs']}", flush=True)
    for failure in figures["failures"]:
        print(f"  7 FAILED: {failure}", flush=True)
    return figures
