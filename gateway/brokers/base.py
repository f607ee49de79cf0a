"""What every broker provider offers, and how an event queue name maps to one.

A queue is named as Conductor's event queue providers name it, in an EVENT task's `sink`
and an event handler's `event`: `<kind>:<name>`, the kind picking the provider
(actors/workflow/operators/event.py, BROKER_SINKS) and the name, with the provider's own options,
picking the queue, exchange, subject or topic.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from actors.workflow.operators.event import broker_kind

# Kind (the sink's prefix) -> provider; several kinds share one provider.
PROVIDER_OF_KIND = {
    "amqp": "amqp",
    "amqp_queue": "amqp",
    "amqp_exchange": "amqp",
    "nats": "nats",
    "nats_stream": "nats",
    "jsm": "nats",
    "sqs": "sqs",
    "kafka": "kafka",
}


class BrokerError(Exception):
    """A queue name a provider cannot use (a bad option): retrying will not help."""


class NotConfigured(BrokerError):
    def __init__(self, address: Address, setting: str) -> None:
        super().__init__(f"'{address.event}' names a {address.provider} queue, but {setting} is not set")
        self.setting = setting


@dataclass(frozen=True, slots=True)
class Address:
    """A queue on a broker: `event` as written, its `kind` prefix and the `name` after it."""

    event: str
    kind: str
    name: str

    @property
    def provider(self) -> str:
        return PROVIDER_OF_KIND[self.kind]


def required_name(address: Address, name: str, what: str) -> str:
    """`name` (a part of `address`) without surrounding blanks; a BrokerError naming `what`
    is missing when nothing is left."""
    stripped = name.strip()
    if not stripped:
        raise BrokerError(f"'{address.event}' names no {what}")
    return stripped


def parse_address(event: str) -> Address | None:
    """The broker queue an event name names, or None for Podium's own event bus."""
    kind = broker_kind(event)
    if kind is None:
        return None
    return Address(event, kind, event.split(":", 1)[1])


@dataclass(frozen=True, slots=True)
class BrokerMessage:
    """A message received from a broker: an id that is the same on every delivery where the
    broker or the publisher gives one, the body, and how many times it has been delivered."""

    id: str
    body: bytes
    deliveries: int


# Handles one message; returning means the handler's actions are durable (the provider then
# acknowledges it), raising means it must be delivered again.
Handle = Callable[[BrokerMessage], Awaitable[None]]


class Provider(abc.ABC):
    """One broker connection (made on first use, made again after a failure)."""

    name: str
    consumes = True

    @abc.abstractmethod
    async def publish(self, address: Address, message_id: str, body: bytes) -> None:
        """Publish one message; returns once the broker has taken it (confirmed where the
        protocol can), raises if it has not."""

    @abc.abstractmethod
    async def consume(self, address: Address, handle: Handle) -> None:
        """Receive messages from the queue until cancelled, one at a time: acknowledge each
        after `handle` returns, have it delivered again if `handle` raises. Raises when the
        connection fails (the caller reconnects after a pause)."""

    @abc.abstractmethod
    async def close(self) -> None: ...


def redelivery_delay(deliveries: int) -> float:
    """Seconds to hold back a message whose handling failed before it goes back to the
    broker: doubling from 0.5 s up to 30 s, so a failing handler does not spin."""
    return float(min(0.5 * 2 ** max(deliveries - 1, 0), 30.0))


def parse_options(name: str) -> tuple[str, dict[str, str]]:
    """`queue?a=1&b=2` -> ("queue", {"a": "1", "b": "2"}), keys lowercased (as Conductor's
    AMQPSettings reads them, case-insensitively); a part without `=` is ignored, as there."""
    base, _, query = name.partition("?")
    options: dict[str, str] = {}
    for part in query.split("&"):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            options[key.strip().lower()] = value.strip()
    return base.strip(), options


async def close_quietly(closing: Awaitable[Any]) -> None:
    """Close a connection whose broker may be gone already (then closing fails too)."""
    with contextlib.suppress(Exception):
        await closing
