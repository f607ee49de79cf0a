"""The supervisor: a detached actor that keeps Podium's shards and gateways in line.

`podium up` used to run the reconcile loop (cluster/controller.py) in its own process and
own every actor, so losing that process (a SIGKILL, an evicted driver pod, a Ray Client
connection gone for longer than its grace period) took every shard and gateway with it.
Now the loop runs here, in a detached actor Ray restarts if it dies, and every actor it
creates is detached too: Podium lives as long as the Ray cluster, until `podium down`
(or the `podium up` that started a local run) stops it.

A restarted supervisor adopts what is running: shards and gateways are named actors,
created with `get_if_exists`, and what is wanted is in Redis.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from cluster.config import Settings
from cluster.controller import Controller

log = logging.getLogger("podium.supervisor")
SUPERVISOR_NAME = "podium-supervisor"


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class Supervisor:
    def __init__(self, settings: Settings, redis_url: str) -> None:
        logging.basicConfig(level=settings.log_level)
        self.settings = settings
        self.redis_url = redis_url
        self.controller = Controller(settings, redis_url)
        self.controller.start()

    def ready(self) -> bool:
        return True

    def pid(self) -> int:
        return os.getpid()

    def redis(self) -> str:
        return self.redis_url

    def api_url(self) -> str:
        gateway = self.controller.gateways[self.controller.first_node or ""]
        return f"{ray.get(gateway.address.remote())}/api"

    def shards(self) -> list[Any]:
        """The shard actors' handles, by index."""
        return [self.controller.shards[i].handle for i in sorted(self.controller.shards)]

    def gateway(self) -> Any:
        """The gateway on the supervisor's node (the one `api_url` names)."""
        return self.controller.gateways.get(self.controller.first_node or "")

    def shutdown(self) -> None:
        """Stop reconciling and kill every shard and gateway (`podium down`)."""
        self.controller.stop()
        for actor in self.controller.actors():
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)


def start_or_adopt(settings: Settings, redis_url: str) -> tuple[Any, bool]:
    """The running supervisor of `settings.namespace`, or a new one on this node: (handle, adopted)."""
    existing = find(settings.namespace)
    if existing is not None:
        return existing, True
    node = ray.get_runtime_context().get_node_id()
    supervisor = Supervisor.options(  # type: ignore[attr-defined]
        name=SUPERVISOR_NAME,
        namespace=settings.namespace,
        lifetime="detached",
        get_if_exists=True,
        # Soft: the supervisor starts beside `podium up` (so the first gateway is on this
        # node), but a restart after this node is lost may go anywhere.
        scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True),
    ).remote(settings, redis_url)
    ray.get(supervisor.ready.remote())
    return supervisor, False


def find(namespace: str) -> Any | None:
    try:
        supervisor = ray.get_actor(SUPERVISOR_NAME, namespace=namespace)
    except ValueError:
        return None
    try:
        ray.get(supervisor.ready.remote(), timeout=60)
    except Exception as error:  # a supervisor that cannot answer is not one to adopt
        log.warning("found %s in %s but it does not answer (%s)", SUPERVISOR_NAME, namespace, error)
        return None
    return supervisor


def stop(supervisor: Any) -> None:
    """Kill the shards and gateways, then the supervisor itself."""
    with contextlib.suppress(Exception):
        ray.get(supervisor.shutdown.remote(), timeout=60)
    with contextlib.suppress(Exception):
        ray.kill(supervisor, no_restart=True)
