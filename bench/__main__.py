"""`python -m bench [--quick]`: run every scenario and write bench/results/."""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
import redis

from bench.driver import open_loop_starts, register, start, start_many, sustain, wait_until_done
from bench.moves import PAUSE_TARGET_MS, scenario_partition_move
from bench.one_at_a_time import scenario_one_at_a_time
from bench.poller import Pollers, SdkWorkers
from bench.search import scenario_search
from bench.workflows import TASKS_PER_WORKFLOW, reference_workflows
from cluster.config import Settings
from cluster.runtime import Runtime

RESULTS = Path(__file__).resolve().parent / "results"
# Executions each peer keeps in flight (docs/performance.md gives the same numbers).
PEER_IN_FLIGHT = {"celery": 200, "prefect": 20}


def _sustained(runtime: Runtime, name: str, runs: int, seconds: float, label: str) -> dict[str, Any]:
    """Median completions/s of `name` with 200 executions kept in flight. A run in which
    any execution ended other than COMPLETED is reported as failed, not as throughput."""
    rates: list[float] = []
    failed_runs: list[str] = []
    for _ in range(runs):
        result = asyncio.run(sustain(runtime.api_url, runtime.redis_url, name, 200, 2.0, seconds))
        print(f"  {label}: {result.per_second:.1f} workflows/s {result.sample_statuses}"
              f" ({result.unsuccessful} not COMPLETED)", flush=True)
        if result.unsuccessful:
            failed_runs.append(f"{result.unsuccessful} execution(s) did not end COMPLETED")
        else:
            rates.append(result.per_second)
    median = statistics.median(rates) if rates else 0.0
    return {
        "workflowsPerSecond": median,
        "taskTransitionsPerSecond": median * TASKS_PER_WORKFLOW,
        "runs": rates,
        "failedRuns": failed_runs,
    }


def scenario_python_workers(runtime: Runtime, runs: int, seconds: float) -> dict[str, Any]:
    child, parent = reference_workflows("bench_py")
    asyncio.run(register(runtime.api_url, [child, parent], []))
    return _sustained(runtime, parent["name"], runs, seconds, "1a python workers")


def scenario_external_workers(runtime: Runtime, runs: int, seconds: float) -> dict[str, Any]:
    task_type = "bench_ext"
    child, parent = reference_workflows(task_type)
    asyncio.run(register(runtime.api_url, [child, parent], [{"name": task_type, "retryCount": 0}]))
    with Pollers(runtime.api_url, task_type):
        lean = _sustained(runtime, parent["name"], runs, seconds, "1b external workers")
    with SdkWorkers(runtime.api_url, "bench_ext_sdk") as sdk_task_type:
        child, parent = reference_workflows(sdk_task_type)
        asyncio.run(register(runtime.api_url, [child, parent], [{"name": sdk_task_type, "retryCount": 0}]))
        lean["sdkTaskHandler"] = _sustained(runtime, parent["name"], runs, seconds, "1b conductor-python TaskHandler")
    return lean


def scenario_start_latency(runtime: Runtime, runs: int, seconds: float, hold: float) -> dict[str, Any]:
    name = "bench_start_latency"
    definition = {"name": name, "version": 1, "tasks": [{"name": "bench_py", "taskReferenceName": "only"}]}
    asyncio.run(register(runtime.api_url, [definition], []))
    steady = [asyncio.run(open_loop_starts(runtime.api_url, name, 100, seconds)) for _ in range(runs)]
    for result in steady:
        print(f"  2 start latency @100/s: p50 {result.percentile(0.5):.1f} ms p99 {result.percentile(0.99):.1f} ms",
              flush=True)
    highest: dict[str, Any] = {}
    for rate in (200, 400, 800, 1200, 1600, 2400):
        result = asyncio.run(open_loop_starts(runtime.api_url, name, rate, hold))
        # Held: the rate was sustained and requests did not queue up (no backlog growth):
        # a p99 ten times the 100/s one means starts are waiting behind each other.
        held = result.achieved_rate >= 0.95 * rate and result.percentile(0.99) < 250
        print(f"  2 start rate {rate}/s: achieved {result.achieved_rate:.0f}/s p99 {result.percentile(0.99):.1f} ms",
              flush=True)
        if not held:
            break
        highest = {"rate": rate, "p50": result.percentile(0.5), "p95": result.percentile(0.95),
                   "p99": result.percentile(0.99)}
    return {
        "at100PerSecond": {
            key: statistics.median(r.percentile(q) for r in steady)
            for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
        },
        "highestHeld": highest,
    }


# The long chain and loop on each kind of Python worker: pool actors (a hop per task), and
# the same function run in the shard's own process (`colocated=True`).
CHAIN_WORKERS = {"": "bench_py", "_colocated": "bench_here"}


def scenario_long_chain(runtime: Runtime, runs: int, length: int) -> dict[str, Any]:
    definitions: list[dict[str, Any]] = []
    for suffix, worker in CHAIN_WORKERS.items():
        definitions.append({
            "name": f"bench_chain{suffix}", "version": 1,
            "tasks": [{"name": worker, "taskReferenceName": f"step_{n}"} for n in range(length)],
        })
        definitions.append({
            "name": f"bench_loop{suffix}", "version": 1,
            "tasks": [{
                "name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
                "inputParameters": {"limit": length},
                "loopCondition": "$.loop['iteration'] < $.limit",
                "loopOver": [{"name": worker, "taskReferenceName": "body"}],
            }],
        })
    asyncio.run(register(runtime.api_url, definitions, []))
    figures: dict[str, Any] = {}
    for name in [definition["name"] for definition in definitions]:
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            workflow_id = asyncio.run(start(runtime.api_url, name, {}))
            workflow = asyncio.run(wait_until_done(runtime.api_url, workflow_id))
            elapsed = time.perf_counter() - began
            assert workflow["status"] == "COMPLETED", workflow.get("reasonForIncompletion")
            times.append(elapsed)
            print(f"  3 {name} of {length}: {elapsed:.2f} s, {length / elapsed:.0f} transitions/s", flush=True)
        seconds_median = statistics.median(times)
        figures[name] = {"tasks": length, "seconds": seconds_median, "transitionsPerSecond": length / seconds_median}
    return figures


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def scenario_idle_memory(runtime: Runtime, parked: int) -> dict[str, Any]:
    name = "bench_parked"
    definition = {
        "name": name, "version": 1,
        "tasks": [{"name": "park", "taskReferenceName": "park", "type": "WAIT", "inputParameters": {"duration": "2h"}}],
    }
    asyncio.run(register(runtime.api_url, [definition], []))
    client = redis.Redis.from_url(runtime.redis_url)
    shard_pids = [ray.get(shard.stats.remote())["pid"] for shard in runtime.shards]
    redis_before = int(client.info("memory")["used_memory"])
    rss_before = sum(_rss_bytes(pid) for pid in shard_pids)
    began = time.perf_counter()
    asyncio.run(start_many(runtime.api_url, name, parked))
    start_seconds = time.perf_counter() - began
    redis_after = int(client.info("memory")["used_memory"])
    rss_loaded = sum(_rss_bytes(pid) for pid in shard_pids)
    # Wait for every shard to passivate its idle executions (PODIUM_IDLE_SECONDS).
    deadline = time.monotonic() + 120
    while any(ray.get(s.stats.remote())["activeExecutions"] for s in runtime.shards) and time.monotonic() < deadline:
        time.sleep(0.5)
    rss_passivated = sum(_rss_bytes(pid) for pid in shard_pids)
    client.close()
    figures = {
        "workflows": parked,
        "startSeconds": start_seconds,
        "redisBytesPerWorkflow": (redis_after - redis_before) / parked,
        "shardRssBytesPerWorkflowLoaded": (rss_loaded - rss_before) / parked,
        "shardRssBytesPerWorkflowPassivated": (rss_passivated - rss_before) / parked,
    }
    print(f"  4 idle memory: {figures}", flush=True)
    return figures


def scenario_peers(runs: int, seconds: float) -> dict[str, Any]:
    """Celery and Prefect run in their own processes: Podium is stopped by then."""
    figures: dict[str, Any] = {}
    for peer, in_flight in PEER_IN_FLIGHT.items():
        command = [sys.executable, "-m", f"bench.peers.{peer}_bench", str(seconds), str(in_flight)]
        rates: list[float] = []
        failures: list[str] = []
        # One spare attempt: a peer that falls over once still gets its runs measured.
        for _ in range(runs + 1):
            if len(rates) == runs:
                break
            try:
                finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds * 4 + 300)
            except subprocess.TimeoutExpired:
                failures.append(f"no result within {seconds * 4 + 300:.0f} s")
                print(f"  5 {peer}: run failed: {failures[-1]}", flush=True)
                continue
            lines = [line for line in finished.stdout.strip().splitlines() if line.strip()]
            if finished.returncode != 0 or not lines:
                # A peer falling over under load is a result too; keep the runs that finished.
                tail = " | ".join(finished.stderr.strip().splitlines()[-5:]) or "no output"
                failures.append(f"exit {finished.returncode}: {tail}")
                print(f"  5 {peer}: run failed: {failures[-1]}", flush=True)
                continue
            rates.append(float(lines[-1]))
            print(f"  5 {peer}: {rates[-1]:.1f} workflows/s", flush=True)
        figures[peer] = {
            "workflowsPerSecond": statistics.median(rates) if rates else 0.0,
            "runs": rates,
            "failedRuns": failures,
            "inFlight": in_flight,
        }
    return figures


def _failed_runs(figure: dict[str, Any]) -> str:
    failed = figure.get("failedRuns") or []
    return f"; {len(failed)} run(s) failed: {failed[0]}" if failed else ""


def markdown(results: dict[str, Any]) -> str:
    rows = [("Scenario", "Figure (median)", "Target", "Met")]

    def add(name: str, figure: str, target: str, met: bool | None) -> None:
        rows.append((name, figure, target, "" if met is None else ("yes" if met else "no")))

    a = results.get("1a_python_workers")
    if a:
        add("1a reference workflow, Python actor workers",
            f"{a['workflowsPerSecond']:.0f} workflows/s ({a['taskTransitionsPerSecond']:.0f} task transitions/s)"
            f"{_failed_runs(a)}",
            ">= 450 workflows/s", a["workflowsPerSecond"] >= 450)
    b = results.get("1b_external_workers")
    if b:
        add("1b reference workflow, external HTTP workers (lean poller)",
            f"{b['workflowsPerSecond']:.0f} workflows/s{_failed_runs(b)}",
            ">= 200 workflows/s", b["workflowsPerSecond"] >= 200)
        sdk = b.get("sdkTaskHandler")
        if sdk:
            add("1b same, conductor-python TaskHandler workers",
                f"{sdk['workflowsPerSecond']:.0f} workflows/s{_failed_runs(sdk)}", "", None)
    single = results.get("1c_one_at_a_time")
    if single:
        for kind, label, target_ms in (
            ("python_workers", "1c reference workflow one at a time, Python pool workers", 15),
            ("sdk_workers", "1c same, conductor-python TaskHandler workers", 30),
        ):
            figure = single.get(kind)
            if not figure:
                continue
            target = f"p50 <= {target_ms} ms"
            if not figure.get("ok", True):
                add(label, "FAILED: " + "; ".join(figure["failures"]), target, False)
                continue
            add(label,
                f"server p50 {figure['p50']:.0f} ms, p99 {figure['p99']:.0f} ms; from the client p50 "
                f"{figure['clientP50']:.1f} ms, p99 {figure['clientP99']:.1f} ms ({figure['runs']} runs)",
                target, figure["p50"] <= target_ms)
    latency = results.get("2_start_latency")
    if latency:
        at100 = latency["at100PerSecond"]
        add("2 start latency at 100 starts/s",
            f"p50 {at100['p50']:.1f} ms, p95 {at100['p95']:.1f} ms, p99 {at100['p99']:.1f} ms",
            "p99 <= 25 ms", at100["p99"] <= 25)
        highest = latency.get("highestHeld") or {}
        if highest:
            add("2 highest start rate held (of 200-2,400/s tried)",
                f"{highest['rate']} starts/s (p99 {highest['p99']:.1f} ms)", "", None)
    chain = results.get("3_long_chain")
    if chain:
        # Issue 11's targets: a chain at 2,000 transitions/s, a DO_WHILE at 1,000 iterations/s.
        for name, label, target_rate in (
            ("bench_chain", "3 chain of 1,000 SIMPLE tasks, pool actor workers", 2000),
            ("bench_chain_colocated", "3 chain of 1,000 SIMPLE tasks, colocated workers", 2000),
            ("bench_loop", "3 DO_WHILE of 1,000, pool actor workers", 1000),
            ("bench_loop_colocated", "3 DO_WHILE of 1,000, colocated workers", 1000),
        ):
            figure = chain.get(name)
            if figure is None:
                continue
            add(label, f"{figure['seconds']:.2f} s, {figure['transitionsPerSecond']:.0f} transitions/s",
                f">= {target_rate:,} transitions/s", figure["transitionsPerSecond"] >= target_rate)
    memory = results.get("4_idle_memory")
    if memory:
        add(f"4 parked workflows ({memory['workflows']:,}), Redis",
            f"{memory['redisBytesPerWorkflow']:.0f} bytes each", "<= 4 KB", memory["redisBytesPerWorkflow"] <= 4096)
        add("4 parked workflows, shard RSS", f"{memory['shardRssBytesPerWorkflowPassivated']:.0f} bytes each",
            "<= 1 KB", memory["shardRssBytesPerWorkflowPassivated"] <= 1024)
    search = results.get("6_search")
    if search and "100" in search and "10000" in search:
        small, large = search["100"]["queries"], search["10000"]["queries"]
        for label, figure in large.items():
            before = small[label]
            target = "grows with the matches" if "summaries" in label else "same order of time"
            add(f"6 search, first page: {label}",
                f"{before['ms']:.1f} ms over 100 ({before['results']} results), "
                f"{figure['ms']:.1f} ms over 10,000 ({figure['results']} of {figure['totalHits']})", target, None)
    moves = results.get("7_partition_move")
    if moves:
        target = "moved workflows pause < lease/2; nothing lost"
        if not moves["ok"]:
            add("7 partition move under load", "FAILED: " + "; ".join(moves["failures"]), target, False)
        elif not moves["durationMs"]["moved"].get("count"):
            add("7 partition move under load", "no workflow ran across a move", target, False)
        else:
            tp, ms = moves["throughput"], moves["durationMs"]
            moved, before = ms["moved"], ms["before"]
            settle = ", ".join(f"to {s['shards']} in {s['settleSeconds']:.1f} s" for s in moves["scaleSteps"])
            add("7 partition move under load",
                f"{moves['rate']:.0f} starts/s; completed/s before {tp['before']:.0f}, during {tp['during']:.0f}, "
                f"after {tp['after']:.0f}; settled {settle}; {moves['started']} workflows, all COMPLETED",
                target, moves["met"])
            add("7 partition move: workflow duration",
                f"ran across a move ({moved['count']}; own partition {moves['movedWorkflowsBy']['own']}, "
                f"only the child's {moves['movedWorkflowsBy']['childOnly']}): p50 {moved['p50']:.0f} ms, "
                f"p99 {moved['p99']:.0f} ms, "
                f"max {moved['max']:.0f} ms (from the start POST: p99 {ms['movedFromClientStart']['p99']:.0f} ms); "
                f"before phase ({before['count']}): p50 {before['p50']:.0f} ms, p99 {before['p99']:.0f} ms; "
                f"start POST p99 before {moves['startPostMs']['before']['p99']:.0f} ms, "
                f"during {moves['startPostMs']['during']['p99']:.0f} ms",
                f"p99 of moved < {PAUSE_TARGET_MS / 1000:.0f} s", None)
    peers = results.get("5_peers")
    if peers and a:
        for peer, figure in peers.items():
            failed = f"; {len(figure['failedRuns'])} run(s) failed" if figure.get("failedRuns") else ""
            if not figure["runs"]:
                add(f"5 {peer}, same shape", f"no run finished{failed}", "Podium ahead", None)
                continue
            ratio = a["workflowsPerSecond"] / figure["workflowsPerSecond"]
            against_b = ""
            if b and b["workflowsPerSecond"]:
                against_b = f", 1b is {b['workflowsPerSecond'] / figure['workflowsPerSecond']:.1f}x"
            add(f"5 {peer}, same shape ({figure.get('inFlight', '?')} in flight)",
                f"{figure['workflowsPerSecond']:.1f} workflows/s; Podium 1a is {ratio:.1f}x{against_b}{failed}",
                "Podium ahead", ratio > 1)
    machine = results["machine"]
    mode = "quick mode (one short run each)" if results["quick"] else "median of 3 runs"
    updated = "".join(f"; scenario {k} rerun {when}" for k, when in (results.get("updated") or {}).items())
    header = (f"Machine: {machine['cpus']:.0f} CPUs, Python {machine['python']}, {machine['platform']}; "
              f"{mode}; {results['when']}{updated}.\n\n")
    table = "\n".join("| " + " | ".join(row) + " |" for row in [rows[0], ("---",) * 4, *rows[1:]])
    return header + table + "\n"


def save(results: dict[str, Any], stem: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2))
    (RESULTS / f"{stem}.md").write_text(markdown(results))


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--quick", action="store_true", help="one short run per scenario")
    parser.add_argument("--only", help="run only this scenario (e.g. 1a)")
    parser.add_argument(
        "--appendfsync",
        choices=("everysec", "always"),
        default="everysec",
        help="the embedded Redis's fsync policy (PODIUM_REDIS_APPENDFSYNC), to measure what `always` costs",
    )
    args = parser.parse_args()
    runs, seconds = (1, 5.0) if args.quick else (3, 30.0)
    # A partial full-mode run updates its scenario in the latest results; a quick one
    # never overwrites a full table.
    stem = "latest-quick" if args.quick else "latest"
    if args.appendfsync != "everysec":
        stem += f"-fsync-{args.appendfsync}"
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as home:
        # Idle executions leave memory after 2 s, so scenario 4 measures passivated ones soon.
        settings = Settings(
            home=Path(home), port=0, namespace="podium-bench", redis_appendfsync=args.appendfsync, idle_seconds=2.0
        )
        ray.init(include_dashboard=False, log_to_driver=False, namespace="podium-bench",
                 runtime_env={"env_vars": {"PYTHONPATH": str(Path.cwd())}})
        runtime = Runtime(settings, worker_modules=["bench.workers"], dashboard=False).start()
        previous = RESULTS / f"{stem}.json"
        results: dict[str, Any] = json.loads(previous.read_text()) if args.only and previous.exists() else {}
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        results.setdefault("when", now)
        if args.only:
            results.setdefault("updated", {})[args.only] = now
        results |= {
            "machine": {"cpus": ray.cluster_resources().get("CPU"), "python": platform.python_version(),
                        "platform": platform.platform()},
            "quick": args.quick,
        }
        try:
            if not args.only or args.only == "1a":
                results["1a_python_workers"] = scenario_python_workers(runtime, runs, seconds)
                save(results, stem)
            if not args.only or args.only == "1b":
                results["1b_external_workers"] = scenario_external_workers(runtime, runs, seconds)
                save(results, stem)
            if not args.only or args.only == "1c":
                results["1c_one_at_a_time"] = scenario_one_at_a_time(runtime.api_url, 20 if args.quick else 50)
                save(results, stem)
            if not args.only or args.only == "2":
                results["2_start_latency"] = scenario_start_latency(runtime, runs, seconds, 3.0 if args.quick else 30.0)
                save(results, stem)
            if not args.only or args.only == "3":
                results["3_long_chain"] = scenario_long_chain(runtime, runs, 1000)
                save(results, stem)
            if not args.only or args.only == "4":
                results["4_idle_memory"] = scenario_idle_memory(runtime, 10_000 if args.quick else 100_000)
                save(results, stem)
            if not args.only or args.only == "6":
                results["6_search"] = scenario_search(runtime.api_url, repeats=5 if args.quick else 20)
                save(results, stem)
            if not args.only or args.only == "7":
                results["7_partition_move"] = scenario_partition_move(
                    runtime.api_url, runtime.redis_url, 5.0 if args.quick else 20.0)
                save(results, stem)
        finally:
            runtime.stop()
            ray.shutdown()
    if not args.only or args.only == "5":
        results["5_peers"] = scenario_peers(runs, seconds)
    save(results, stem)
    print(markdown(results))
    failed = []
    single = results.get("1c_one_at_a_time") or {}
    single_failures = [f for kind in single.values() if not kind.get("ok", True) for f in kind["failures"]]
    if (not args.only or args.only == "1c") and single_failures:
        failed.append("scenario 1c failed: " + "; ".join(single_failures))
    for key, label in (("1a_python_workers", "1a"), ("1b_external_workers", "1b")):
        figure = results.get(key) or {}
        runs_failed = [*figure.get("failedRuns", []), *(figure.get("sdkTaskHandler") or {}).get("failedRuns", [])]
        if (not args.only or args.only == label) and runs_failed:
            failed.append(f"scenario {label}: " + "; ".join(runs_failed))
    moves = results.get("7_partition_move")
    if (not args.only or args.only == "7") and moves and not moves["ok"]:
        failed.append("scenario 7 failed: " + "; ".join(moves["failures"]))
    if failed:
        sys.exit("\n".join(failed))


if __name__ == "__main__":
    main()
