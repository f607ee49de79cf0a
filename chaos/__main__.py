"""`make chaos` (`python -m chaos [--quick]`): faults under load, and a verdict.

Podium runs as `make run` runs it (embedded Redis, a local Ray cluster, 2 shards, a
gateway on a fixed port) with short leases (3 s), the reference workflow
(bench/workflows.py) on Python pool workers and on external pollers in another process.
Starts arrive open-loop at a steady rate (each with an idempotency key, retried until
acknowledged, as a careful client does). Every few seconds a fault injector picks the
next kind from a shuffled cycle: SIGKILL of a shard, of a pool actor, of the gateway or
of the embedded redis-server, or SIGSTOP of a shard for 1.5 leases; in the full form,
which runs on a Ray cluster of two `ray start` nodes (tests/integration/multinode.py), also
SIGKILL of the worker node's raylet (the node dies with its shards, pools and gateway; a
fresh node joins in its place). Once the load stops, the run waits for every workflow to
end, reads each back and judges (chaos/verdict.py). The verdict goes to
chaos/results/latest[-quick].json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import ray
import redis

from bench.driver import register
from bench.workflows import reference_workflows
from chaos import counts
from chaos.poller import Pollers
from chaos.verdict import Fault, Started, judge, table
from cluster.config import Settings
from cluster.redis_server import free_port
from cluster.runtime import Runtime
from cluster.store.keys import Keys, partition_of
from tests.integration.multinode import MultiNodeRay, NodeHandle, wait_until

RESULTS = Path(__file__).parent / "results"
LEASE_MS = 3000
FAULT_KINDS = ("shard-kill", "pool-kill", "gateway-kill", "redis-kill", "shard-stop")
NODE_FAULT = "raylet-kill"
KINDS = {"python": "chaos_py", "external": "chaos_ext"}
START_FOR_SECONDS = 60.0


class Nodes:
    """The worker node of a multi-node run, and a fresh one to take its place once killed."""

    def __init__(self, cluster: MultiNodeRay) -> None:
        self.cluster = cluster
        self.joined = 0
        self.worker = self.join()

    def wait_dead(self, node: NodeHandle, timeout: float = 60.0) -> None:
        def dead() -> bool:
            alive = any(n["NodeID"] == node.node_id and n.get("Alive") for n in ray.nodes())
            return not alive and not self.cluster.node_pids(node)

        wait_until(dead, timeout, interval=0.2, what=f"node {node.name} dead and its processes gone")

    def join(self) -> NodeHandle:
        self.joined += 1
        self.worker = self.cluster.add_node(f"w{self.joined}", num_cpus=1)
        return self.worker


class Run:
    def __init__(self, runtime: Runtime, api: str, quick: bool, nodes: Nodes | None = None) -> None:
        self.runtime = runtime
        self.api = api
        self.nodes = nodes
        self.fault_kinds = FAULT_KINDS + ((NODE_FAULT,) if nodes else ())
        self.rate, self.seconds = (40.0, 45.0) if quick else (150.0, 10_000 / 150.0)
        self.fault_every = (4.0, 6.0)
        self.started: list[Started] = []
        self.faults: list[Fault] = []
        self.start_errors = 0
        self.loading = True

    # -- load --------------------------------------------------------------------------

    async def _start_one(self, http: aiohttp.ClientSession, kind: str) -> None:
        key = str(uuid.uuid4())
        body = orjson.dumps(
            {
                "name": f"bench_reference_{KINDS[kind]}",
                "input": {"i": 1},
                "correlationId": key,
                "idempotencyKey": key,
                "idempotencyStrategy": "RETURN_EXISTING",
            }
        )
        deadline, pause = time.monotonic() + START_FOR_SECONDS, 0.05
        while time.monotonic() < deadline:
            try:
                async with http.post(
                    f"{self.api}/workflow", data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    text = await response.text()
                    if response.status == 200:
                        self.started.append(Started(key, text, kind, time.time()))
                        return
            except (TimeoutError, aiohttp.ClientError):
                pass
            self.start_errors += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
        print(f"  a start was never acknowledged within {START_FOR_SECONDS:.0f} s (key {key})", flush=True)

    async def load(self, http: aiohttp.ClientSession) -> None:
        pending: list[asyncio.Task[None]] = []
        began = time.monotonic()
        n = 0
        while (elapsed := time.monotonic() - began) < self.seconds:
            due = n / self.rate
            if due > elapsed:
                await asyncio.sleep(due - elapsed)
            pending.append(asyncio.create_task(self._start_one(http, "python" if n % 2 == 0 else "external")))
            n += 1
        await asyncio.gather(*pending)
        self.loading = False

    # -- faults ------------------------------------------------------------------------

    async def _shards(self, http: aiohttp.ClientSession) -> list[dict[str, Any]]:
        for _ in range(100):
            try:
                async with http.get(f"{self.api}/admin/shards") as response:
                    if response.status == 200:
                        view = orjson.loads(await response.read())
                        return [s for s in view["shards"] if s.get("pid")]
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(0.2)
        return []

    async def _pid_of(self, actor: Any) -> int:
        return int(await asyncio.wait_for(actor.pid.remote(), timeout=30))

    async def inject(self, http: aiohttp.ClientSession) -> None:
        cycle: list[str] = []
        await asyncio.sleep(random.uniform(*self.fault_every))
        while self.loading:
            if not cycle:
                cycle = random.sample(self.fault_kinds, len(self.fault_kinds))
            kind = cycle.pop()
            try:
                fault = await self._inject(http, kind)
            except Exception as error:
                print(f"  fault {kind} could not be injected: {type(error).__name__}: {error}", flush=True)
            else:
                self.faults.append(fault)
                print(f"  {time.strftime('%H:%M:%S')} {fault.kind} {fault.target}", flush=True)
            await asyncio.sleep(random.uniform(*self.fault_every))

    async def _inject(self, http: aiohttp.ClientSession, kind: str) -> Fault:
        if kind in ("shard-kill", "shard-stop"):
            shard = random.choice(await self._shards(http))
            fault = Fault(kind, time.time(), f"{shard['name']} pid {shard['pid']}", frozenset(shard["partitions"]))
            if kind == "shard-kill":
                os.kill(shard["pid"], signal.SIGKILL)
            else:
                os.kill(shard["pid"], signal.SIGSTOP)
                try:
                    await asyncio.sleep(1.5 * LEASE_MS / 1000)
                finally:
                    os.kill(shard["pid"], signal.SIGCONT)
        elif kind == "pool-kill":
            pool = random.choice(self.runtime.pools)
            pid = await self._pid_of(pool)
            fault = Fault(kind, time.time(), f"pool actor pid {pid}")
            os.kill(pid, signal.SIGKILL)
        elif kind == NODE_FAULT:
            assert self.nodes is not None
            worker = self.nodes.worker
            on_it = [s for s in await self._shards(http) if s.get("node") == worker.node_id]
            owned = frozenset(p for s in on_it for p in s["partitions"]) or None
            fault = Fault(kind, time.time(), f"raylet of node {worker.name} ({len(on_it)} shards)", owned)
            await asyncio.to_thread(self.nodes.cluster.kill_raylet, worker)
            # A node dies over seconds, not at once: its worker processes run on until they
            # notice the raylet is gone, and Ray declares the node dead after its missed
            # health checks. The fault lasts until both have happened.
            await asyncio.to_thread(self.nodes.wait_dead, worker)
            fault.ended_at = time.time()
            # The cluster gets a node back, as a Kubernetes ReplicaSet would start another pod.
            await asyncio.to_thread(self.nodes.join)
            return fault
        elif kind == "gateway-kill":
            pid = await self._pid_of(self.runtime.gateway)
            fault = Fault(kind, time.time(), f"gateway pid {pid}")
            os.kill(pid, signal.SIGKILL)
        else:
            redis = self.runtime.embedded_redis
            assert redis is not None
            pid = redis.pid
            fault = Fault(kind, time.time(), f"redis-server pid {pid}")
            os.kill(pid, signal.SIGKILL)
        fault.ended_at = time.time()
        return fault

    # -- the end -----------------------------------------------------------------------

    async def read_back(self, http: aiohttp.ClientSession, drain_seconds: float) -> dict[str, dict[str, Any] | None]:
        """Every started workflow once it ended (or as it stands when the drain ran out)."""
        final: dict[str, dict[str, Any] | None] = {}
        deadline = time.monotonic() + drain_seconds
        waiting = [s.workflow_id for s in self.started]
        while waiting:
            still: list[str] = []
            for workflow_id in waiting:
                found = await self._read(http, workflow_id)
                final[workflow_id] = found
                if found is not None and found["status"] in ("RUNNING", "PAUSED"):
                    still.append(workflow_id)
            waiting = still
            if waiting and time.monotonic() < deadline:
                print(f"  waiting for {len(waiting)} workflows to end", flush=True)
                await asyncio.sleep(2.0)
            else:
                break
        return final

    async def _read(self, http: aiohttp.ClientSession, workflow_id: str) -> dict[str, Any] | None:
        for _ in range(50):
            try:
                async with http.get(f"{self.api}/workflow/{workflow_id}?includeTasks=true") as response:
                    if response.status == 404:
                        return None
                    if response.status == 200:
                        found: dict[str, Any] = orjson.loads(await response.read())
                        return found
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"could not read workflow {workflow_id}")


async def _run(run: Run, drain_seconds: float) -> dict[str, dict[str, Any] | None]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200), timeout=timeout) as http:
        await asyncio.gather(run.load(http), run.inject(http))
        print(f"  load done: {len(run.started)} started, {run.start_errors} start attempts refused or cut", flush=True)
        return await run.read_back(http, drain_seconds)


async def _children_of_stuck(api: str, final: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """The sub-workflows a stuck workflow waits on, as they stand (to see which side stopped)."""
    children = [
        task["subWorkflowId"]
        for workflow in final.values()
        if workflow is not None and workflow["status"] == "RUNNING"
        for task in workflow["tasks"]
        if task["taskType"] == "SUB_WORKFLOW" and task["status"] == "IN_PROGRESS" and task.get("subWorkflowId")
    ]
    found = []
    async with aiohttp.ClientSession() as http:
        for child_id in children[:5]:
            async with http.get(f"{api}/workflow/{child_id}?includeTasks=true") as response:
                found.append({"workflowId": child_id, "httpStatus": response.status, "body": await response.json()})
    return found


def _inboxes_of_stuck(runtime: Runtime, final: dict[str, dict[str, Any] | None]) -> dict[str, list[str]]:
    """Messages still waiting in the inbox of each stuck workflow's partition, for it."""
    stuck = [w for w, found in final.items() if found is not None and found["status"] == "RUNNING"][:5]
    partitions = int(runtime.settings.partitions)
    waiting: dict[str, list[str]] = {}
    with redis.Redis.from_url(runtime.redis_url) as client:
        for workflow_id in stuck:
            inbox = client.hgetall(Keys.inbox(partition_of(workflow_id, partitions)))
            waiting[workflow_id] = [
                raw.decode(errors="replace")[:300] for raw in inbox.values() if workflow_id.encode() in raw
            ]
    return waiting


def main() -> int:
    parser = argparse.ArgumentParser(prog="chaos")
    parser.add_argument("--quick", action="store_true", help="the short form run by make test")
    parser.add_argument(
        "--nodes",
        choices=("one", "two"),
        help="one local Ray node, or two `ray start` nodes whose worker node's raylet is killed too "
        "(default: two for the full form, one for the quick form)",
    )
    args = parser.parse_args()
    stem = "latest-quick" if args.quick else "latest"
    multinode = (args.nodes or ("one" if args.quick else "two")) == "two"
    if multinode and os.environ.get("RAY_AUTH_MODE") != "token":
        # The `ray start` cluster runs with token authentication, and Ray reads the mode
        # once, when it is imported: start again with the token in the environment.
        os.environ.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)})
        os.execv(sys.executable, [sys.executable, "-m", "chaos", *sys.argv[1:]])
    with tempfile.TemporaryDirectory(prefix="podium-chaos-") as home, contextlib.ExitStack() as cleanup:
        counts_dir = Path(home) / "counts"
        counts_dir.mkdir()
        settings = Settings(home=Path(home), port=free_port(), namespace="podium-chaos", shards=2, lease_ms=LEASE_MS)
        runtime_env = {"env_vars": {"PYTHONPATH": str(Path.cwd()), counts.COUNTS_DIR_VARIABLE: str(counts_dir)}}
        nodes: Nodes | None = None
        ns = settings.namespace
        if multinode:
            cluster = MultiNodeRay(Path(home) / "ray", head_num_cpus=1)
            cluster.token = os.environ["RAY_AUTH_TOKEN"]
            cleanup.enter_context(cluster)
            # One shard per node, so that the worker node's death takes a shard with it.
            settings = replace(settings, shards_per_node=1)
            os.environ.update(cluster.driver_env())
            ray.init(address=cluster.address, log_to_driver=False, namespace=ns, runtime_env=runtime_env)
        else:
            ray.init(include_dashboard=False, log_to_driver=False, namespace=ns, runtime_env=runtime_env)
        cleanup.callback(ray.shutdown)
        runtime = Runtime(settings, worker_modules=["chaos.workers"], dashboard=False).start()
        if multinode:
            # Joins once Podium is up, so the first gateway has its port before this node's.
            nodes = Nodes(cluster)
        try:
            api = runtime.api_url
            workflows = [*reference_workflows(KINDS["python"]), *reference_workflows(KINDS["external"])]
            task_defs = [{"name": KINDS["external"], "retryCount": 3, "responseTimeoutSeconds": 10}]
            asyncio.run(register(api, workflows, task_defs))
            run = Run(runtime, api, args.quick, nodes)
            where = "two Ray nodes" if nodes else "one Ray node"
            print(f"chaos: {run.rate:.0f} starts/s for {run.seconds:.0f} s on {where}, a fault every 4-6 s", flush=True)
            began = time.time()
            with Pollers(api, KINDS["external"], str(counts_dir)):
                final = asyncio.run(_run(run, drain_seconds=90.0 if args.quick else 180.0))
            stuck_children = asyncio.run(_children_of_stuck(api, final))
            stuck_inboxes = _inboxes_of_stuck(runtime, final)
            ran, times = counts.read(counts_dir)
            partitions = settings.partitions or int(runtime.settings.partitions)
            verdict = judge(run.started, run.faults, final, ran, times, lambda w: partition_of(w, partitions))
        finally:
            runtime.stop()
    result = {
        "quick": args.quick,
        "rayNodes": 2 if multinode else 1,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(began)),
        "seconds": round(time.time() - began, 1),
        "rate": run.rate,
        "startAttemptsRefused": run.start_errors,
        "faultLog": [{"kind": f.kind, "target": f.target, "at": f.at} for f in run.faults],
        **verdict.as_json(),
        # The whole of each broken or stuck execution, to find out why.
        "brokenWorkflows": [final[entry.split(":", 1)[0]] for entry in verdict.broken[:5]],
        "stuckWorkflows": [final[workflow_id] for workflow_id in verdict.stuck[:5]],
        "childrenOfStuckWorkflows": stuck_children,
        "inboxMessagesOfStuckWorkflows": stuck_inboxes,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2))
    print(table(verdict))
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
