"""Keeps the shard actors and gateways the cluster wants, on the nodes it has.

Runs in the supervisor actor (cluster/supervisor.py); every actor it creates is
detached, so Podium outlives the `podium up` that started it. Once a second it:

- reads how many shards are wanted: `podium:cluster` field `shards` (set at start and
  by `podium scale --shards N`), or `shardsPerNode` times the live nodes (set by
  `PODIUM_SHARDS_PER_NODE` or `podium scale --per-node K`), so a joining node gets shards;
- creates the missing shards, each pinned to the live node hosting the fewest; a shard
  whose node is lost is dropped (its leases run out and the others take its partitions);
- retires the extra ones: marks them draining, so they hand their partitions over
  (see actors/ownership.py), and kills each once it owns none;
- keeps one gateway on every live node (`podium-gateway` on the first, then
  `podium-gateway-<node>`), each on `PODIUM_PORT` of its node (one that finds the port
  taken, a second Ray node on the same machine, takes a free one), so any node answers.

Partitions follow on their own: every shard works out its share from the registry.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson
import ray
import redis
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.shard import WorkflowShard, shard_actor_name
from cluster.config import Settings
from cluster.leases import WantedShards
from cluster.store import Keys
from cluster.store.layout import sync_client
from definitions.evaluators import ScriptLimits
from gateway.actor import GATEWAY_NAME, Gateway

log = logging.getLogger("podium.controller")
INTERVAL_SECONDS = 1.0


def gateway_name(node_id: str, first: bool) -> str:
    return GATEWAY_NAME if first else f"{GATEWAY_NAME}-{node_id[:8]}"


def live_nodes() -> list[str]:
    return sorted(node["NodeID"] for node in ray.nodes() if node.get("Alive"))


@dataclass
class Placed:
    handle: Any
    node: str


class Controller:
    def __init__(self, settings: Settings, redis_url: str) -> None:
        self.settings = settings
        self.redis_url = redis_url
        self.shards: dict[int, Placed] = {}
        self.gateways: dict[str, Any] = {}  # node id -> gateway actor
        self.first_node: str | None = None
        self._redis = sync_client(redis_url, settings.redis_cluster)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what is wanted ---------------------------------------------------------------

    def wanted_shards(self, nodes: list[str]) -> int:
        stored = self._redis.hmget(Keys.cluster, list(WantedShards.FIELDS))
        return WantedShards.of(stored, self.settings.shards).count(len(nodes))

    # -- reconciling ------------------------------------------------------------------

    def start(self) -> None:
        """Bring up the wanted shards and gateways, wait for them, then keep them in line."""
        nodes = live_nodes()
        self.first_node = ray.get_runtime_context().get_node_id()
        # Announced before they exist, so the first shards up do not take the share of
        # those still starting (and hand it over a second later).
        beat = orjson.dumps({"node": "", "pid": 0, "beat": int(time.time() * 1000)})
        wanted = [shard_actor_name(i) for i in range(self.wanted_shards(nodes))]
        self._redis.hset(Keys.shard_registry, mapping=dict.fromkeys(wanted, beat))
        self.reconcile(nodes, wait=True)
        self._thread = threading.Thread(target=self._run, name="podium-controller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL_SECONDS):
            try:
                self.reconcile(live_nodes())
            except (redis.ConnectionError, redis.TimeoutError) as error:  # Redis restarting or busy: next tick
                log.warning("controller: Redis unavailable (%s); trying again in %.0f s", error, INTERVAL_SECONDS)
            except Exception:
                log.exception("controller: reconcile failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._redis.close()

    def reconcile(self, nodes: list[str], wait: bool = False) -> None:
        self._drop_lost(nodes)
        wanted = self.wanted_shards(nodes)
        created = self._grow(wanted, nodes)
        self._shrink(wanted)
        self._gateways_on(nodes)
        self._forget_silent()
        if wait and created:
            ray.get([placed.handle.ready.remote() for placed in created])

    def _forget_silent(self) -> None:
        """Registry entries of shards that are gone and have not beaten for ten lease
        periods (their node was lost): nobody counts them any more, so drop them."""
        ours = {shard_actor_name(i) for i in self.shards}
        stale_before = time.time() * 1000 - 10 * self.settings.lease_ms
        registry: dict[bytes, bytes] = self._redis.hgetall(Keys.shard_registry)
        silent = [
            name.decode()
            for name, raw in registry.items()
            if name.decode() not in ours and orjson.loads(raw).get("beat", 0) < stale_before
        ]
        if silent:
            self._redis.hdel(Keys.shard_registry, *silent)

    def _drop_lost(self, nodes: list[str]) -> None:
        """Shards of a node that left died with it: their leases run out and the other
        shards take their partitions over (a replacement with the same name, created by
        `_grow`, takes them back at once)."""
        for index in [i for i, placed in self.shards.items() if placed.node and placed.node not in nodes]:
            log.warning("controller: %s was on lost node %s", shard_actor_name(index), self.shards[index].node[:8])
            with contextlib.suppress(Exception):
                ray.kill(self.shards[index].handle, no_restart=True)
            del self.shards[index]

    def _grow(self, wanted: int, nodes: list[str]) -> list[Placed]:
        created = []
        load = Counter(placed.node for placed in self.shards.values())
        index = 0
        while len(self.shards) < wanted:
            while index in self.shards:
                index += 1
            node = min(nodes, key=lambda n: (load[n], n)) if nodes else None
            self.shards[index] = placed = Placed(self._create_shard(index, node), node or "")
            load[placed.node] += 1
            created.append(placed)
            log.info("controller: shard %s on node %s", shard_actor_name(index), (node or "?")[:8])
        return created

    def _create_shard(self, index: int, node: str | None) -> Any:
        settings = self.settings
        placement: dict[str, Any] = {}
        if node is not None:
            # Pinned: a shard lives and dies with its node (Ray restarts it there after a crash).
            placement["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=False)
        return WorkflowShard.options(  # type: ignore[attr-defined]
            name=shard_actor_name(index),
            namespace=settings.namespace,
            get_if_exists=True,
            lifetime="detached",
            **placement,
        ).remote(
            index,
            self.redis_url,
            settings.partitions,
            settings.namespace,
            settings.log_level,
            settings.lease_ms,
            settings.redis_cluster,
            settings.idle_seconds,
            ScriptLimits(settings.script_timeout_ms, settings.script_max_memory_mb),
        )

    def _shrink(self, wanted: int) -> None:
        extra = sorted(self.shards)[wanted:]
        if not extra:
            return
        names = [shard_actor_name(i) for i in extra]
        self._redis.sadd(Keys.draining_shards, *names)
        for index in extra:
            placed = self.shards[index]
            try:
                stats = ray.get(placed.handle.stats.remote(), timeout=5)
                still_owns = bool(stats["partitions"] or stats["leaving"])
            except Exception:  # dead or unreachable: its leases expire and are taken over
                still_owns = False
            if not still_owns:
                ray.kill(placed.handle, no_restart=True)
                del self.shards[index]
                name = shard_actor_name(index)
                pipe = self._redis.pipeline(transaction=not self.settings.redis_cluster)
                pipe.hdel(Keys.shard_registry, name)
                pipe.srem(Keys.draining_shards, name)
                pipe.execute()
                log.info("controller: retired %s", name)

    def _gateways_on(self, nodes: list[str]) -> None:
        for node in [n for n in self.gateways if n not in nodes]:
            del self.gateways[node]  # its node is gone, and it with it
        for node in nodes:
            if node in self.gateways:
                continue
            first = node == self.first_node
            placement: dict[str, Any] = {"scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=False)}
            if first and self.settings.gateway_resource:
                placement = {"resources": {self.settings.gateway_resource: 1}}
            elif self.settings.gateway_resource:
                continue  # gateways are pinned to the nodes offering the resource: one only
            self.gateways[node] = Gateway.options(  # type: ignore[attr-defined]
                name=gateway_name(node, first),
                namespace=self.settings.namespace,
                get_if_exists=True,
                lifetime="detached",
                **placement,
            ).remote(self.settings, self.redis_url, first)

    def actors(self) -> list[Any]:
        return [*self.gateways.values(), *(placed.handle for placed in self.shards.values())]
