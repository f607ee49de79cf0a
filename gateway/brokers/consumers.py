"""BrokerConsumers: a consumer for every broker queue an active event handler listens on.

Every `REFRESH_SECONDS` the gateway reads the event handlers; for each distinct `event`
that names a broker queue (`amqp_queue:orders`, `sqs:payments`, ...) and has an active
handler, one consumer runs in this gateway (each gateway runs its own; the broker shares
the messages out between them: competing consumers on a RabbitMQ queue, one durable
JetStream pull consumer, SQS's visibility timeout, a NATS queue group). A consumer whose
event no active handler names any more is stopped.

Each message becomes an `EventMessage` (entry id `<event>|<message id>`) and runs through
the event processor's own code (gateway/event_processor.py, `run_handlers`), so conditions,
actions and their idempotency keys are the same as on Podium's event bus. The provider
acknowledges the message only after that returns, that is once every action is durable;
if any action failed, or Redis or a shard could not be reached, the message is delivered
again after a growing delay, up to `MAX_DELIVERIES` times, then given up and logged.

A broker that cannot be reached, or a connection lost, is retried after a pause growing
to 10 s, counted in `podium_broker_connection_failures`. A handler on a broker that is not
configured, or on `kafka:` (which Podium does not consume), is reported in the log and in
`Gateway.broker_stats`. Registering it is not refused: Conductor accepts such a handler
too, and its event processor finds out only when it looks for the queue.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from actors.metrics import BrokerMetrics
from cluster.store import EventMessage
from gateway.brokers import Brokers
from gateway.brokers.base import Address, BrokerError, BrokerMessage, Provider, parse_address
from gateway.event_processor import EventProcessor

log = logging.getLogger("podium.brokers")

REFRESH_SECONDS = 2.0
MAX_DELIVERIES = 10
MAX_RECONNECT_PAUSE = 10.0


def consumable(provider: Provider, address: Address) -> None:
    if not provider.consumes:
        raise BrokerError(f"'{address.event}': Podium publishes to {provider.name} but does not consume from it")


class BrokerConsumers:
    def __init__(self, processor: EventProcessor, brokers: Brokers, metrics: BrokerMetrics) -> None:
        self.processor = processor
        self.brokers = brokers
        self.metrics = metrics
        self._running: dict[str, asyncio.Task[None]] = {}
        # Events with an active handler that are not consumed, and why.
        self.not_consumed: dict[str, str] = {}

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broker consumers: reading the event handlers failed")
            await asyncio.sleep(REFRESH_SECONDS)

    async def refresh(self) -> None:
        wanted: dict[str, Address] = {}
        for handler in await self.processor.store.list_event_handlers():
            event = handler.get("event")
            address = parse_address(event) if isinstance(event, str) and handler.get("active") else None
            if address is not None:
                wanted[address.event] = address
        for event in set(self._running) - set(wanted):
            self._running.pop(event).cancel()
            log.info("broker consumers: no active handler on %s any more; its consumer stopped", event)
        for event in set(self.not_consumed) - set(wanted):
            del self.not_consumed[event]
        for event, address in wanted.items():
            if event in self._running:
                continue
            try:
                provider = self.brokers.provider(address)
                consumable(provider, address)
            except BrokerError as error:
                if self.not_consumed.get(event) != str(error):
                    log.error("broker consumers: not consuming %s: %s", event, error)
                self.not_consumed[event] = str(error)
                continue
            self.not_consumed.pop(event, None)
            self._running[event] = asyncio.get_running_loop().create_task(self._consume(address, provider))

    async def _consume(self, address: Address, provider: Provider) -> None:
        failures = 0

        async def handle(message: BrokerMessage) -> None:
            nonlocal failures
            failures = 0  # connected and receiving: the next loss starts the pauses over
            await self._handle(address, provider, message)

        while True:
            try:
                log.info("broker consumers: consuming %s", address.event)
                await provider.consume(address, handle)
            except asyncio.CancelledError:
                raise
            except BrokerError as error:
                log.error("broker consumers: not consuming %s: %s", address.event, error)
                self.not_consumed[address.event] = str(error)
                self._running.pop(address.event, None)
                return
            except Exception as error:
                failures += 1
                self.metrics.count("connection_failures", provider.name)
                pause = min(0.5 * 2 ** (failures - 1), MAX_RECONNECT_PAUSE)
                log.warning("broker consumers: %s: %r; connecting again in %.1f s", address.event, error, pause)
                await asyncio.sleep(pause)

    async def _handle(self, address: Address, provider: Provider, message: BrokerMessage) -> None:
        if message.deliveries > MAX_DELIVERIES:
            log.error(
                "broker consumers: giving up message %s on %s after %d deliveries",
                message.id,
                address.event,
                message.deliveries - 1,
            )
            self.metrics.count("dropped", provider.name)
            return
        event_message = EventMessage(f"{address.event}|{message.id}", address.event, message.body, message.id)
        try:
            await self.processor.run_handlers(event_message, strict=True)
        except Exception as error:
            self.metrics.count("handler_failures", provider.name)
            log.warning(
                "broker consumers: message %s on %s (delivery %d) is delivered again: %s",
                message.id,
                address.event,
                message.deliveries,
                error,
            )
            raise
        self.metrics.count("consumed", provider.name)

    def stats(self) -> dict[str, Any]:
        return {"consuming": sorted(self._running), "notConsumed": dict(self.not_consumed)}

    async def close(self) -> None:
        for task in self._running.values():
            task.cancel()
        self._running.clear()
