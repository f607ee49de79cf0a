"""The gateway: a named Ray actor serving the HTTP API."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from typing import Any

import ray
from aiohttp import web

from actors.metrics import BrokerMetrics
from cluster.config import Settings
from cluster.store import Store
from gateway.app import build_app
from gateway.auth.authenticator import Authenticator
from gateway.brokers import Brokers
from gateway.brokers.consumers import BrokerConsumers
from gateway.brokers.publisher import BrokerPublisher
from gateway.context import GatewayContext
from gateway.event_processor import EventProcessor, consumer_name
from gateway.routing import ShardRouter
from gateway.scheduler import ScheduleRunner

GATEWAY_NAME = "podium-gateway"
log = logging.getLogger("podium.gateway")
KEEPALIVE_SECONDS = 2.0


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class Gateway:
    def __init__(self, settings: Settings, redis_url: str, primary: bool = True) -> None:
        self.primary = primary
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        store = Store(redis_url, settings.partitions, cluster=settings.redis_cluster)
        self.context = GatewayContext(settings, store, ShardRouter(store, settings.namespace, settings.lease_ms))
        self.runner: web.AppRunner | None = None
        self.url = ""
        self._serving = asyncio.get_running_loop().create_task(self._serve())
        self._keepalive = asyncio.get_running_loop().create_task(self._keep_shards_alive())
        self._owners = asyncio.get_running_loop().create_task(self.context.router.follow_owners())
        self._waking = asyncio.get_running_loop().create_task(self.context.waker.run())
        # Event handlers run here: one consumer of the event bus per gateway process.
        self.events = EventProcessor(self.context, consumer_name(), settings.event_redelivery_ms)
        self._events = asyncio.get_running_loop().create_task(self.events.run())
        # Event queues on brokers (gateway/brokers/): EVENT tasks' messages published from the
        # broker outbox, and a consumer per broker queue an active event handler listens on.
        self.broker_metrics = BrokerMetrics()
        brokers = Brokers(settings)
        self.publisher = BrokerPublisher(
            self.context, brokers, self.broker_metrics, consumer_name(), settings.event_redelivery_ms
        )
        self.consumers = BrokerConsumers(self.events, brokers, self.broker_metrics)
        self._publishing = asyncio.get_running_loop().create_task(self.publisher.run())
        self._consuming = asyncio.get_running_loop().create_task(self.consumers.run())
        # Workflow schedules fire here: every gateway takes due ones, claimed one at a time.
        self.schedules = ScheduleRunner(self.context)
        self._schedules = asyncio.get_running_loop().create_task(self.schedules.run())

    async def _serve(self) -> str:
        settings = self.context.settings
        authenticator = None
        if settings.auth_on:
            authenticator = Authenticator(settings, self.context.store)
            await authenticator.start()
        self.runner = web.AppRunner(build_app(self.context, authenticator), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, settings.host, settings.port, reuse_address=True)
        try:
            await site.start()
        except OSError as error:
            if self.primary or error.errno != errno.EADDRINUSE:
                raise
            # Another gateway on this host has the port (several Ray nodes on one machine):
            # serve on a port of our own; the first gateway keeps answering on PODIUM_PORT.
            site = web.TCPSite(self.runner, settings.host, 0, reuse_address=True)
            await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else settings.port
        self.url = f"http://{settings.host}:{port}"
        log.info("Podium API at %s/api", self.url)
        return self.url

    async def _keep_shards_alive(self) -> None:
        # A shard restarted by Ray recovers on construction; this makes sure one that
        # died while idle is constructed again even if no request reaches it.
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            try:
                await self.context.router.ping_all()
            except Exception as error:
                log.warning("shard keepalive: %s", error)

    def pid(self) -> int:
        return os.getpid()

    async def address(self) -> str:
        return await asyncio.shield(self._serving)

    async def stats(self) -> list[dict[str, Any]]:
        return await self.context.router.stats()

    async def broker_stats(self) -> dict[str, Any]:
        """This gateway's broker counters (`<name>:<provider>`), the broker queues it consumes
        and those an active handler names that it cannot consume (and why)."""
        return {"counts": dict(self.broker_metrics.counts), **self.consumers.stats()}
