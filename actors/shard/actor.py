"""WorkflowShard: the Ray actor around `ShardCore`."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections import defaultdict
from typing import Any

import ray

from actors import messages
from actors.faults import is_process_loss
from actors.metrics import RayMetrics
from actors.pool import pool_actor_name
from actors.shard.base import DEFAULT_IDLE_SECONDS, DEFAULT_LEASE_MS
from actors.shard.core import ShardCore
from actors.shard.dispatch import failed_results
from actors.shard.execution import ShardEvent
from actors.shard.outcomes import Answer
from actors.stream import Endpoint, JsonCodec, PickleCodec, StreamClient, StreamServer
from actors.tracing import tracer_from_environment
from actors.workflow import events as ev
from cluster.store import Store
from definitions.evaluators import ScriptLimits, configure_scripts

log = logging.getLogger("podium.shard")

# How long tasks whose pool actor died are dispatched again before they fail.
POOL_REDISPATCH_SECONDS = 300.0


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class WorkflowShard:
    """The Ray actor around ShardCore: finds pool actors and peer shards by name."""

    def __init__(
        self,
        index: int,
        redis_url: str,
        partitions: int,
        namespace: str,
        log_level: str = "INFO",
        lease_ms: int = DEFAULT_LEASE_MS,
        redis_cluster: bool = False,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        script_limits: ScriptLimits | None = None,
    ) -> None:
        self.namespace = namespace
        logging.basicConfig(level=log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        limits = script_limits or ScriptLimits()
        configure_scripts(limits.timeout_ms, limits.max_memory_mb)
        self.core = ShardCore(
            index,
            Store(redis_url, partitions, cluster=redis_cluster),
            self._call_pool,
            RayPeers(namespace),
            RayMetrics(index),
            tracer_from_environment(),
            lease_ms=lease_ms,
            idle_seconds=idle_seconds,
        )
        self._pools: dict[str, list[StreamClient]] = {}
        self._streams: dict[Endpoint, StreamClient] = {}
        self._node_ip = ray.util.get_node_ip_address()
        # Gateways and other shards send starts, results and messages over a stream
        # (actors/stream.py), not Ray calls.
        self.server = StreamServer(
            {
                "start_workflows": self.start_workflows,
                "deliver": self.deliver,
                "accept_messages": lambda arguments: self.accept_messages(*arguments),
            },
            PickleCodec(),
        )
        self._round_robin = itertools.count()
        # Async actors construct inside their event loop: recover at once, also after a
        # restart by Ray, rather than waiting for the first call.
        self._starting = asyncio.get_running_loop().create_task(self.core.start())

    async def endpoint(self) -> Endpoint:
        """Where a gateway connects to send this shard starts and results."""
        return await self.server.endpoint(self._node_ip)

    async def ready(self) -> int:
        await self.core.start()
        return len(self.core.executions)

    async def start_workflows(self, requests: list[ev.StartFields]) -> list[Answer]:
        await self.core.start()
        return await self.core.start_workflows(requests)

    async def deliver(self, events: list[tuple[str, ShardEvent]]) -> list[Answer]:
        await self.core.start()
        return await self.core.deliver(events)

    async def accept_messages(self, batch: list[tuple[str, str, messages.Message]], hops: int = 0) -> None:
        await self.core.start()
        self.core.accept_messages(batch, hops)

    async def rebalance_soon(self) -> None:
        await self.core.start()
        self.core.rebalance_soon()

    async def refresh_metadata(self) -> None:
        await self.core.start()
        await self.core.refresh_metadata()
        self._pools.clear()

    async def stats(self) -> dict[str, Any]:
        core = self.core
        return {
            "name": core.name,
            "index": core.index,
            "node": core.ownership.node,
            "pid": os.getpid(),
            "partitions": core.ownership.serving(),
            "leaving": sorted(core.ownership.leaving),
            "activeExecutions": len(core.executions),
            "steps": core.steps,
            "fencedTurns": core.fenced_turns,
        }

    async def _pool_channels(self, task_type: str) -> list[StreamClient]:
        """Streams to the type's pool actors, those on this shard's node if it has any."""
        channels = self._pools.get(task_type)
        if channels is None or any(channel.closed for channel in channels):
            size = self.core.pool_types.get(task_type, 0)
            if not size:
                raise LookupError(f"no Python worker pool serves {task_type!r}")
            handles = [ray.get_actor(pool_actor_name(task_type, i), namespace=self.namespace) for i in range(size)]
            endpoints: list[Endpoint] = await asyncio.gather(*(handle.endpoint.remote() for handle in handles))
            for endpoint, stream in list(self._streams.items()):
                if stream.closed:
                    del self._streams[endpoint]
            channels = [self._streams.get(endpoint) or StreamClient(endpoint, JsonCodec()) for endpoint in endpoints]
            self._streams.update((channel.endpoint, channel) for channel in channels)
            self._pools[task_type] = channels
        local = [channel for channel in channels if channel.endpoint.host == self._node_ip]
        return local or channels

    async def _call_pool(self, task_type: str, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run tasks on the type's pool actors. A pool actor that dies mid-call is a crash,
        not the task's failure: its tasks go again to the actor Ray restarts (at least once,
        as a worker crash in Conductor leads to a re-queue), and no retry is spent."""
        results: list[dict[str, Any]] = []
        pending, pause = tasks, 0.05
        deadline = time.monotonic() + POOL_REDISPATCH_SECONDS
        while pending:
            try:
                channels = await self._pool_channels(task_type)
            except Exception as error:
                if not is_process_loss(error) or time.monotonic() >= deadline:
                    raise
                channels = []
            groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for task in pending if channels else []:
                groups[next(self._round_robin) % len(channels)].append(task)
            outcomes = await asyncio.gather(
                *(channels[i].call("execute", group) for i, group in groups.items()), return_exceptions=True
            )
            pending = [] if channels else pending
            for group, outcome in zip(groups.values(), outcomes, strict=True):
                if not isinstance(outcome, BaseException):
                    results.extend(outcome)
                elif is_process_loss(outcome) and time.monotonic() < deadline:
                    log.warning(
                        "%s: pool actor for %r lost, dispatching %d tasks again", self.core.name, task_type, len(group)
                    )
                    pending.extend(group)
                else:
                    reason = f"worker pool actor for {task_type!r} failed: {type(outcome).__name__}: {outcome}"
                    results.extend(failed_results(group, reason))
            if pending:
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)
        return results


class RayPeers:
    """The other shards, found by name in Podium's Ray namespace; messages and results
    go over a stream to each (actors/stream.py), found once through Ray."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._handles: dict[str, Any] = {}
        self._streams: dict[str, StreamClient] = {}
        self._sending: set[asyncio.Task[None]] = set()

    def _handle(self, shard: str) -> Any:
        handle = self._handles.get(shard)
        if handle is None:
            handle = self._handles[shard] = ray.get_actor(shard, namespace=self.namespace)
        return handle

    def _send(self, shard: str, method: str, argument: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._send_now(shard, method, argument))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_now(self, shard: str, method: str, argument: Any) -> None:
        try:
            stream = self._streams.get(shard)
            if stream is None or stream.closed:
                endpoint = await self._handle(shard).endpoint.remote()
                stream = self._streams[shard] = StreamClient(endpoint, PickleCodec())
            await stream.call(method, argument)
        except Exception as error:
            # Retired, restarting or gone: what it would have got waits in Redis (messages
            # in their partition's inbox; results are dispatched again by its recovery).
            log.debug("sending %s to %s failed: %s", method, shard, error)
            self._handles.pop(shard, None)
            self._streams.pop(shard, None)

    def send_messages(self, shard: str, batch: list[tuple[str, str, messages.Message]], hops: int = 0) -> None:
        self._send(shard, "accept_messages", (batch, hops))

    def forward(self, shard: str, events: list[tuple[str, ShardEvent]]) -> None:
        self._send(shard, "deliver", events)

    def nudge(self, shard: str) -> None:
        try:
            self._handle(shard).rebalance_soon.remote()
        except ValueError:  # no such actor (retired)
            self._handles.pop(shard, None)
