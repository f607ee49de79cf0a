"""Kafka through aiokafka: `kafka:<topic>`, publishing only.

As Conductor's KafkaObservableQueue publishes: a record on the topic with the message id
as its key and the message as its value, answered once the brokers acknowledged it
(`acks=all`). Podium does not consume from Kafka: an event handler on a `kafka:` event is
not consumed: the gateway reports it (gateway/brokers/consumers.py).
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from gateway.brokers.base import Address, BrokerError, Handle, Provider, close_quietly, required_name

REQUEST_TIMEOUT_MS = 10_000


def topic_of(address: Address) -> str:
    return required_name(address, address.name, "topic")


class KafkaProvider(Provider):
    name = "kafka"
    consumes = False

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _connected(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap_servers, acks="all", request_timeout_ms=REQUEST_TIMEOUT_MS
                )
                try:
                    await producer.start()
                except BaseException:
                    await close_quietly(producer.stop())
                    raise
                self._producer = producer
            return self._producer

    async def publish(self, address: Address, message_id: str, body: bytes) -> None:
        topic = topic_of(address)
        try:
            producer = await self._connected()
            await producer.send_and_wait(topic, body, key=message_id.encode())
        except BaseException:
            await self.close()
            raise

    async def consume(self, address: Address, handle: Handle) -> None:
        raise BrokerError(f"'{address.event}': Podium publishes to Kafka but does not consume from it")

    async def close(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await close_quietly(producer.stop())
