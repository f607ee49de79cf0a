"""NATS through nats-py: `nats:` (core NATS) and `nats_stream:` / `jsm:` (JetStream).

Names as Conductor's NATS providers split them: `<subject>` or `<subject>:<queueGroup>`.

- `nats:` publishes to the subject and subscribes to it in the queue group given, or in
  the group `podium`, so each message goes to one gateway. Core NATS keeps nothing and has no
  acknowledgement: a message published while no gateway listens, or whose handler
  fails, is not delivered again (as with Conductor's NATSObservableQueue).
- `nats_stream:` and `jsm:` use JetStream: the stream is named after the subject as
  Conductor names it (`.` -> `_`, `*` -> `ANY`, `>` -> `ALL`, upper case) and created with
  file storage on first use. Publishing waits for the stream's acknowledgement and sets
  `Nats-Msg-Id` to the message id, so a message published again (after a gateway crash)
  within the stream's duplicate window is stored once. Consuming is a durable pull
  consumer (`podium`, or `podium_<queueGroup>`) shared by every gateway: each message is
  acknowledged after its handler's actions are durable, and one that failed is
  negatively acknowledged with a delay and delivered again. Conductor's `nats_stream:`
  was the NATS Streaming (STAN) provider, which NATS has retired; Podium maps it to
  JetStream, which replaced it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from gateway.brokers.base import (
    Address,
    BrokerError,
    BrokerMessage,
    Handle,
    Provider,
    close_quietly,
    redelivery_delay,
    required_name,
)

log = logging.getLogger("podium.brokers.nats")
CONNECT_TIMEOUT = 5
# Unacknowledged this long (a gateway that died mid-message), a JetStream message goes again.
ACK_WAIT_SECONDS = 30
DEFAULT_QUEUE_GROUP = "podium"


def split_subject(address: Address) -> tuple[str, str | None]:
    subject, _, group = address.name.partition(":")
    return required_name(address, subject, "subject"), group.strip() or None


def stream_name(subject: str) -> str:
    """Conductor's JetStreamObservableQueue.streamNameFromSubject."""
    return subject.replace(".", "_").replace("*", "ANY").replace(">", "ALL").upper()


def durable_name(group: str | None) -> str:
    return "podium" if not group else "podium_" + re.sub(r"[^A-Za-z0-9_-]", "_", group)


async def _quiet(error: Exception) -> None:
    # Connection errors surface where they matter (publish, fetch) and are retried there.
    log.debug("nats: %s", error)


async def _connect(url: str) -> Client:
    # Reconnecting is left to the callers (they pause and count); nats-py takes 0 attempts
    # to mean "try forever", so 1 it is (two tries, half a second apart).
    connecting = nats.connect(
        url,
        connect_timeout=CONNECT_TIMEOUT,
        allow_reconnect=False,
        max_reconnect_attempts=1,
        reconnect_time_wait=0.5,
        error_cb=_quiet,
    )
    return await asyncio.wait_for(connecting, CONNECT_TIMEOUT * 3)


def _jetstream(address: Address) -> bool:
    return address.kind in ("nats_stream", "jsm")


class NatsProvider(Provider):
    name = "nats"

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Client | None = None
        self._streams: set[str] = set()
        self._lock = asyncio.Lock()

    async def _publisher(self) -> Client:
        async with self._lock:
            if self._client is None or not self._client.is_connected:
                await self._drop()
                self._client = await _connect(self.url)
            return self._client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        self._streams.clear()
        if client is not None:
            await close_quietly(client.close())

    async def publish(self, address: Address, message_id: str, body: bytes) -> None:
        subject, _ = split_subject(address)
        try:
            client = await self._publisher()
            if _jetstream(address):
                stream = stream_name(subject)
                js = client.jetstream()
                if stream not in self._streams:
                    await _ensure_stream(js, stream, subject)
                    self._streams.add(stream)
                headers = {"Nats-Msg-Id": message_id}
                await js.publish(subject, body, stream=stream, timeout=CONNECT_TIMEOUT, headers=headers)
            else:
                await client.publish(subject, body)
                await client.flush(timeout=CONNECT_TIMEOUT)
        except BrokerError:
            raise
        except BaseException:
            async with self._lock:
                await self._drop()
            raise

    async def consume(self, address: Address, handle: Handle) -> None:
        subject, group = split_subject(address)
        client = await _connect(self.url)
        try:
            if _jetstream(address):
                await self._consume_stream(client, subject, group, handle)
            else:
                await self._consume_core(client, subject, group, handle)
        finally:
            await close_quietly(client.close())

    async def _consume_core(self, client: Client, subject: str, group: str | None, handle: Handle) -> None:
        # Without a group of its own, the gateways form one, so each message goes to one of them.
        subscription = await client.subscribe(subject, queue=group or DEFAULT_QUEUE_GROUP)
        while True:
            if not client.is_connected:
                raise ConnectionError(f"the connection to {self.url} was lost")
            try:
                msg = await subscription.next_msg(timeout=1)
            except NatsTimeout:
                continue
            message = BrokerMessage(uuid.uuid4().hex, msg.data, 1)
            try:
                await handle(message)
            except Exception:
                # Core NATS cannot deliver it again: it is lost, as with Conductor.
                log.error("nats: message on %s failed its handler; core NATS cannot redeliver it", subject)

    async def _consume_stream(self, client: Client, subject: str, group: str | None, handle: Handle) -> None:
        js = client.jetstream()
        stream = stream_name(subject)
        await _ensure_stream(js, stream, subject)
        config = ConsumerConfig(ack_wait=ACK_WAIT_SECONDS, max_ack_pending=1)
        subscription = await js.pull_subscribe(subject, durable=durable_name(group), stream=stream, config=config)
        while True:
            try:
                [msg] = await subscription.fetch(1, timeout=1)
            except NatsTimeout:
                if not client.is_connected:
                    raise ConnectionError(f"the connection to {self.url} was lost") from None
                continue
            metadata = msg.metadata
            headers: dict[str, Any] = msg.headers or {}
            message_id = headers.get("Nats-Msg-Id") or f"{stream}:{metadata.sequence.stream}"
            message = BrokerMessage(str(message_id), msg.data, int(metadata.num_delivered))
            try:
                await handle(message)
            except Exception:
                await msg.nak(delay=redelivery_delay(message.deliveries))
                continue
            await msg.ack_sync(timeout=CONNECT_TIMEOUT)

    async def close(self) -> None:
        async with self._lock:
            await self._drop()


async def _ensure_stream(js: Any, stream: str, subject: str) -> None:
    try:
        await js.stream_info(stream)
    except NotFoundError:
        await js.add_stream(StreamConfig(name=stream, subjects=[subject], storage=StorageType.FILE))
