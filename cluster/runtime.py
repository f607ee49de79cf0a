"""Bringing a Podium node up and down: Redis, Ray, shards, worker pools, gateway."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import ray

from actors.pool import WorkerPool, pool_actor_name
from actors.workers import WorkerSpec, load_worker_modules
from cluster import supervisor as supervision
from cluster.config import DEFAULT_PARTITIONS, Settings
from cluster.dashboard import DashboardAccess, dashboard_access
from cluster.redis_server import EmbeddedRedis
from cluster.store import Keys
from cluster.store.auth import NO_ADMIN_KEY, has_admin_key
from cluster.store.layout import is_cluster, sync_client, tag_old_keys

log = logging.getLogger("podium")
REDIS_WATCH_SECONDS = 0.5


@dataclass
class Runtime:
    settings: Settings
    worker_modules: list[str] = field(default_factory=list)
    dashboard: bool = True
    redis_url: str = ""
    api_url: str = ""
    dashboard_url: str | None = None
    dashboard_access: DashboardAccess | None = None
    embedded_redis: EmbeddedRedis | None = None
    started_ray: bool = False
    pools: list[Any] = field(default_factory=list)
    supervisor: Any = None
    # A Podium already running in this Ray cluster and namespace, which this one joined
    # instead of starting a second: stopping this Runtime leaves it running.
    adopted: bool = False
    redis_restarts: int = 0
    _stopping: threading.Event = field(default_factory=threading.Event)
    _watcher: threading.Thread | None = None

    @property
    def shards(self) -> list[Any]:
        """The shard actors, by index."""
        if self.supervisor is None:
            return []
        return list(ray.get(self.supervisor.shards.remote()))

    @property
    def gateway(self) -> Any:
        """The gateway on the supervisor's node (the one `api_url` names)."""
        if self.supervisor is None:
            return None
        return ray.get(self.supervisor.gateway.remote())

    def start(self) -> Runtime:
        try:
            self._start_ray()
            running = supervision.find(self.settings.namespace)
            workers = load_worker_modules(self.worker_modules) if self.worker_modules else {}
            if running is not None:
                self._adopt(running, workers)
            else:
                self._start_redis()
                self._register_pools(workers)
                self._start_supervisor()
        except BaseException:
            self.stop()
            raise
        return self

    def _adopt(self, running: Any, workers: dict[str, WorkerSpec]) -> None:
        """Join the Podium already running here: its Redis, its shards and gateways; only
        the pools for this `podium up`'s `--workers` are added."""
        self.supervisor, self.adopted = running, True
        self.redis_url = ray.get(running.redis.remote())
        self.api_url = ray.get(running.api_url.remote())
        log.info("adopted the Podium running in namespace %s (%s)", self.settings.namespace, self.api_url)
        if workers:
            client = sync_client(self.redis_url, self.settings.redis_cluster or is_cluster(self.redis_url))
            try:
                _register_workers(client, workers)
            finally:
                client.close()
            self._start_pools(workers)

    def _start_redis(self) -> None:
        if self.settings.redis_url:
            self.redis_url = self.settings.redis_url
            return
        self.embedded_redis = EmbeddedRedis.from_settings(self.settings)
        self.redis_url = self.embedded_redis.start()
        self._watcher = threading.Thread(target=self._keep_redis_up, name="podium-redis-watch", daemon=True)
        self._watcher.start()

    def _keep_redis_up(self) -> None:
        """The embedded Redis is a process that can die: start it again, on the same port,
        from its append-only file. Shards and gateways reconnect on their own; a shard
        whose partition lost its last writes notices it at its next write (the lease's
        turn count) and recovers the partition from what Redis holds."""
        while not self._stopping.wait(REDIS_WATCH_SECONDS):
            embedded = self.embedded_redis
            if embedded is None or embedded.running:
                continue
            if self._stopping.is_set():
                break
            log.warning("the embedded Redis exited; starting it again from %s", embedded.data_dir)
            try:
                embedded.start()
                self.redis_restarts += 1
            except Exception:
                log.exception("could not start the embedded Redis again; trying again")

    def _start_ray(self) -> None:
        if ray.is_initialized():
            return
        # Workers import task modules by name: give them the directory Podium was started in.
        python_path = os.pathsep.join(p for p in (os.getcwd(), os.environ.get("PYTHONPATH", "")) if p)
        options: dict[str, Any] = {
            "namespace": self.settings.namespace,
            "runtime_env": {"env_vars": {"PYTHONPATH": python_path}},
            "log_to_driver": self.settings.log_level == "DEBUG" or self.dashboard,
        }
        if self.settings.ray_address:
            context = self._join_ray(options)
        else:
            context = ray.init(
                include_dashboard=self.dashboard,
                dashboard_port=self.settings.dashboard_port if self.dashboard else None,
                **options,
            )
            self.started_ray = True
        self.dashboard_url = f"http://{context.dashboard_url}" if context.dashboard_url else None
        if self.dashboard_url:
            self.dashboard_access = dashboard_access(self.dashboard_url)

    def _join_ray(self, options: dict[str, Any]) -> Any:
        """Join the cluster at RAY_ADDRESS (see `cluster.config.use_given_ray_token`)."""
        try:
            return ray.init(address=self.settings.ray_address, **options)
        except ConnectionError as error:
            raise ConnectionError(
                f"could not join the Ray cluster at {self.settings.ray_address}: {error}. A cluster started "
                "with `ray start` uses token authentication by default: give `podium up` its token with "
                "RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH), as docs/scaling.md shows"
            ) from None

    def _register_pools(self, workers: dict[str, WorkerSpec]) -> None:
        if not self.settings.redis_cluster and is_cluster(self.redis_url):
            self.settings = replace(self.settings, redis_cluster=True)
        client = sync_client(self.redis_url, self.settings.redis_cluster)
        try:
            self._check_partitions(client)
            self._check_auth(client)
            if not self.settings.redis_cluster:
                tag_old_keys(client)
            # What `podium up` is asked for wins over what the last run was scaled to.
            client.hset(Keys.cluster, "shards", self.settings.shards)
            if self.settings.shards_per_node:
                client.hset(Keys.cluster, "shardsPerNode", self.settings.shards_per_node)
            else:
                client.hdel(Keys.cluster, "shardsPerNode")
            client.delete(Keys.shard_registry, Keys.draining_shards)
            # Types served last time but not now must go back to the Redis queues.
            client.delete(Keys.pools, Keys.colocated_workers)
            _register_workers(client, workers)
        finally:
            client.close()
        self._start_pools(workers)

    def _start_pools(self, workers: dict[str, WorkerSpec]) -> None:
        for task_type, spec in workers.items():
            for index in range(spec.pool_size):
                self.pools.append(
                    WorkerPool.options(  # type: ignore[attr-defined]
                        name=pool_actor_name(task_type, index),
                        namespace=self.settings.namespace,
                        num_cpus=spec.num_cpus,
                        max_concurrency=spec.max_concurrency,
                        get_if_exists=True,
                        lifetime="detached",
                    ).remote(spec.module, task_type, index)
                )
        if self.pools:
            ray.get([pool.ping.remote() for pool in self.pools])

    def _check_auth(self, client: Any) -> None:
        """With PODIUM_AUTH=on, an admin key must be given or stored: refuse at once rather
        than start gateways that would refuse to serve."""
        settings = self.settings
        if settings.auth_on and not settings.admin_key_id and not has_admin_key(client):
            raise ValueError(NO_ADMIN_KEY)

    def _check_partitions(self, client: Any) -> None:
        """The partition count is fixed when a Redis first holds Podium's data: with any
        other count, every workflow id would hash to another partition and be lost. An
        unset count takes the stored one; every actor gets the count settled here."""
        wanted = self.settings.partitions or DEFAULT_PARTITIONS
        client.hsetnx(Keys.cluster, "partitions", wanted)
        stored = int(client.hget(Keys.cluster, "partitions") or wanted)
        if self.settings.partitions and stored != self.settings.partitions:
            raise ValueError(
                f"PODIUM_PARTITIONS={self.settings.partitions}, but this Redis holds data written with "
                f"{stored} partitions; start with PODIUM_PARTITIONS={stored} (or leave it unset)"
            )
        self.settings = replace(self.settings, partitions=stored)

    def _start_supervisor(self) -> None:
        """Shards and gateways, kept in line with the nodes by the supervisor (cluster/supervisor.py)."""
        self.supervisor, self.adopted = supervision.start_or_adopt(self.settings, self.redis_url)
        self.api_url = ray.get(self.supervisor.api_url.remote())

    def leave_running(self) -> None:
        """Disconnect, leaving Podium's detached actors up (`podium up --detach`, or a
        driver that joined a cluster with RAY_ADDRESS being stopped)."""
        self.adopted = True
        self.stop()

    def stop(self) -> None:
        """Stop what this Runtime started: everything, unless it adopted a running Podium."""
        self._stopping.set()
        supervisor, self.supervisor = self.supervisor, None
        if supervisor is not None and not self.adopted:
            supervision.stop(supervisor)
            for actor in self.pools:
                try:
                    ray.kill(actor, no_restart=True)
                except Exception as error:
                    log.debug("kill %s: %s", actor, error)
        self.pools = []
        if self.started_ray and ray.is_initialized():
            ray.shutdown()
            self.started_ray = False
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        if self.embedded_redis is not None:
            self.embedded_redis.stop()
            self.embedded_redis = None


def stop_running(settings: Settings) -> bool:
    """Stop the Podium running in `settings.namespace` of the connected Ray cluster:
    shards, gateways, the supervisor and every worker pool. False if none runs."""
    running = supervision.find(settings.namespace)
    if running is None:
        return False
    redis_url = ray.get(running.redis.remote())
    supervision.stop(running)
    client = sync_client(redis_url, settings.redis_cluster or is_cluster(redis_url))
    try:
        pools = {name.decode(): int(size) for name, size in client.hgetall(Keys.pools).items()}
    finally:
        client.close()
    for task_type, size in pools.items():
        for index in range(size):
            with contextlib.suppress(ValueError):  # not running
                pool = ray.get_actor(pool_actor_name(task_type, index), namespace=settings.namespace)
                ray.kill(pool, no_restart=True)
    return True


def runtime_for(settings: Settings, worker_modules: list[str] | None = None, dashboard: bool = True) -> Runtime:
    return Runtime(settings=settings, worker_modules=list(worker_modules or []), dashboard=dashboard)


def with_overrides(settings: Settings, **overrides: Any) -> Settings:
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr
    )


def _register_workers(client: Any, workers: dict[str, WorkerSpec]) -> None:
    """Tell the shards which types Python pools serve, and which workers they run themselves."""
    if workers:
        client.hset(Keys.pools, mapping={t: spec.pool_size for t, spec in workers.items()})
    colocated = {t: spec.module for t, spec in workers.items() if spec.colocated}
    if colocated:
        client.hset(Keys.colocated_workers, mapping=colocated)
