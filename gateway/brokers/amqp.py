"""RabbitMQ (AMQP 0-9-1) through aio-pika: `amqp_queue:`, `amqp:` and `amqp_exchange:`.

Names as Conductor's AMQPSettings parses them: `amqp_queue:<queue>?<options>` publishes to
and consumes from a queue (published through the default exchange, the queue name as the
routing key); `amqp_exchange:<exchange>?<options>` publishes to an exchange with
`routingKey`, and consumes from the queue `bindQueueName` (default `bound_to_<exchange>`)
bound to it with that key. Options, case-insensitive: `exchangeType` (default topic),
`routingKey` (default empty), `bindQueueName`, `durable` (default true), `exclusive`
(false), `autoDelete` (false), `deliveryMode` (2: persistent), `maxPriority`. `amqp:` is
taken as `amqp_queue:`. Everything used is declared on first use, as Conductor does.

Publishing waits for the broker's confirm. Consuming takes one message at a time
(basic.get, then ack after the handler; nack with requeue when it failed), so a message is
acknowledged only once its actions are durable and one that failed is delivered again.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractQueue

from gateway.brokers.base import (
    Address,
    BrokerError,
    BrokerMessage,
    Handle,
    Provider,
    close_quietly,
    parse_options,
    redelivery_delay,
    required_name,
)

CONNECT_TIMEOUT = 10
IDLE_POLL_SECONDS = 0.2


def _flag(options: dict[str, str], key: str, default: bool) -> bool:
    value = options.get(key.lower())
    return default if value is None else value.lower() == "true"


@dataclass(frozen=True)
class AmqpSettings:
    name: str
    exchange: bool
    exchange_type: str = "topic"
    routing_key: str = ""
    bind_queue: str = ""
    durable: bool = True
    exclusive: bool = False
    auto_delete: bool = False
    delivery_mode: int = 2
    arguments: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def of(address: Address) -> AmqpSettings:
        raw_name, options = parse_options(address.name)
        name = required_name(address, raw_name, "queue or exchange")
        try:
            delivery_mode = int(options.get("deliverymode", "2"))
            arguments = {"x-max-priority": int(options["maxpriority"])} if "maxpriority" in options else {}
        except ValueError as error:
            raise BrokerError(f"'{address.event}': {error}") from None
        if delivery_mode not in (1, 2):
            raise BrokerError(f"'{address.event}': deliveryMode must be 1 or 2")
        if "exchangetype" in options and not options["exchangetype"]:
            raise BrokerError(f"'{address.event}': the exchange type is empty")
        return AmqpSettings(
            name=name,
            exchange=address.kind == "amqp_exchange",
            exchange_type=options.get("exchangetype") or "topic",
            routing_key=options.get("routingkey", ""),
            bind_queue=options.get("bindqueuename") or f"bound_to_{name}",
            durable=_flag(options, "durable", True),
            exclusive=_flag(options, "exclusive", False),
            auto_delete=_flag(options, "autoDelete", False),
            delivery_mode=delivery_mode,
            arguments=arguments,
        )


class AmqpProvider(Provider):
    name = "amqp"

    def __init__(self, url: str) -> None:
        self.url = url
        self._publisher: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._lock = asyncio.Lock()

    async def _publishing_channel(self) -> AbstractChannel:
        async with self._lock:
            if self._channel is None or self._channel.is_closed:
                await self._drop_publisher()
                self._publisher = await aio_pika.connect(self.url, timeout=CONNECT_TIMEOUT)
                self._channel = await self._publisher.channel(publisher_confirms=True)
            return self._channel

    async def _drop_publisher(self) -> None:
        connection, self._publisher, self._channel = self._publisher, None, None
        if connection is not None:
            await close_quietly(connection.close())

    async def publish(self, address: Address, message_id: str, body: bytes) -> None:
        settings = AmqpSettings.of(address)
        try:
            channel = await self._publishing_channel()
            message = aio_pika.Message(
                body,
                message_id=message_id,
                correlation_id=message_id,
                content_type="application/json",
                content_encoding="UTF-8",
                delivery_mode=settings.delivery_mode,
            )
            if settings.exchange:
                exchange = await _declare_exchange(channel, settings)
                # As Conductor: a message no queue is bound for is dropped by the broker.
                await exchange.publish(message, settings.routing_key, mandatory=False, timeout=CONNECT_TIMEOUT)
            else:
                queue = await _declare_queue(channel, settings.name, settings)
                await channel.default_exchange.publish(message, queue.name, timeout=CONNECT_TIMEOUT)
        except BaseException:
            await self._drop_publisher()
            raise

    async def consume(self, address: Address, handle: Handle) -> None:
        settings = AmqpSettings.of(address)
        connection = await aio_pika.connect(self.url, timeout=CONNECT_TIMEOUT)
        failures: dict[str, int] = {}
        try:
            channel = await connection.channel()
            if settings.exchange:
                exchange = await _declare_exchange(channel, settings)
                queue = await _declare_queue(channel, settings.bind_queue, settings)
                await queue.bind(exchange, settings.routing_key)
            else:
                queue = await _declare_queue(channel, settings.name, settings)
            while True:
                incoming = await queue.get(no_ack=False, fail=False, timeout=CONNECT_TIMEOUT)
                if incoming is None:
                    await asyncio.sleep(IDLE_POLL_SECONDS)
                    continue
                # Classic queues count no deliveries: failures are counted here, by message.
                key = incoming.message_id or hashlib.blake2b(incoming.body, digest_size=16).hexdigest()
                deliveries = failures.get(key, 0) + 1
                message = BrokerMessage(incoming.message_id or str(uuid.uuid4()), incoming.body, deliveries)
                try:
                    await handle(message)
                except Exception:
                    failures[key] = deliveries
                    await asyncio.sleep(redelivery_delay(deliveries))
                    await incoming.nack(requeue=True)
                    continue
                failures.pop(key, None)
                await incoming.ack()
        finally:
            await close_quietly(connection.close())

    async def close(self) -> None:
        async with self._lock:
            await self._drop_publisher()


async def _declare_exchange(channel: AbstractChannel, settings: AmqpSettings) -> AbstractExchange:
    return await channel.declare_exchange(
        settings.name,
        settings.exchange_type,
        durable=settings.durable,
        auto_delete=settings.auto_delete,
        arguments=settings.arguments or None,
    )


async def _declare_queue(channel: AbstractChannel, name: str, settings: AmqpSettings) -> AbstractQueue:
    return await channel.declare_queue(
        name,
        durable=settings.durable,
        exclusive=settings.exclusive,
        auto_delete=settings.auto_delete,
        arguments=settings.arguments or None,
    )
