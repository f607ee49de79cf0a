"""BrokerPublisher: publishes EVENT task messages from the broker outbox to their brokers.

A shard writes the message of an EVENT task whose sink names a broker into the broker
outbox (`Checkpoint.publish_to_broker`) in the step that starts the task, and leaves the
task IN_PROGRESS. Every gateway runs one publisher, a consumer of the outbox's group, so
each message is taken by one of them. For each message, in order per sink:

1. the provider for the sink; a broker whose setting is not set, or a sink the provider
   cannot use, FAILS the task with a reason naming the setting or the problem;
2. publish, retried with a growing pause (0.5 s doubling to 30 s) for as long as the
   broker refuses or cannot be reached, each failed attempt counted in metrics
   (`podium_broker_publish_retries`); other sinks go on meanwhile (one lane per sink);
3. COMPLETE the task (unless `asyncComplete`: then a task update or handler ends it);
4. acknowledge and delete the outbox entry.

At least once: a gateway that dies between 1 and 4 leaves the entry pending; another
claims it after `PODIUM_EVENT_REDELIVERY_MS` and publishes it again. A gateway still
retrying keeps its entries from being claimed. JetStream drops such a duplicate by its
`Nats-Msg-Id`; on the other brokers a consumer may see the message twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson

from actors.metrics import BrokerMetrics
from cluster.store import EventMessage
from definitions.models import TaskResult, TaskStatus
from gateway.api.tasks import record_result
from gateway.brokers import Brokers
from gateway.brokers.base import BrokerError, parse_address
from gateway.context import GatewayContext
from gateway.errors import ApiError

log = logging.getLogger("podium.brokers")

BATCH = 32
# Messages held (being published) by one gateway at a time; reading waits beyond it.
MAX_HELD = 512
MAX_PAUSE_SECONDS = 30.0


def retry_pause(attempt: int) -> float:
    return float(min(0.5 * 2 ** max(attempt - 1, 0), MAX_PAUSE_SECONDS))


class BrokerPublisher:
    def __init__(
        self, context: GatewayContext, brokers: Brokers, metrics: BrokerMetrics, consumer: str, redelivery_ms: int
    ) -> None:
        self.context = context
        self.store = context.store
        self.brokers = brokers
        self.metrics = metrics
        self.consumer = consumer
        self.redelivery_ms = redelivery_ms
        self.claim_interval = min(redelivery_ms / 2, 5000) / 1000
        self.block_ms = max(int(min(2000, redelivery_ms / 2)), 10)
        self._held: dict[str, EventMessage] = {}
        self._lanes: dict[str, asyncio.Queue[EventMessage]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._room = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                await self.store.ensure_broker_group()
                break
            except Exception as error:
                log.warning("broker publisher: cannot create the consumer group yet: %s", error)
                await asyncio.sleep(1)
        next_claim = 0.0
        while True:
            try:
                while len(self._held) >= MAX_HELD:
                    self._room.clear()
                    await self._room.wait()
                if time.monotonic() >= next_claim:
                    next_claim = time.monotonic() + self.claim_interval
                    # Ours still being retried stay ours; then take over those a dead gateway left.
                    await self.store.keep_broker_messages(self.consumer, list(self._held))
                    self._take(await self.store.claim_stale_broker_messages(self.consumer, self.redelivery_ms, BATCH))
                self._take(await self.store.read_broker_outbox(self.consumer, BATCH, self.block_ms))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broker publisher: reading the broker outbox failed")
                await asyncio.sleep(1)

    def _take(self, messages: list[EventMessage]) -> None:
        for message in messages:
            if message.entry_id in self._held:
                continue
            self._held[message.entry_id] = message
            lane = self._lanes.get(message.event)
            if lane is None:
                lane = self._lanes[message.event] = asyncio.Queue()
                self._workers[message.event] = asyncio.get_running_loop().create_task(self._drain(lane))
            lane.put_nowait(message)

    async def _drain(self, lane: asyncio.Queue[EventMessage]) -> None:
        while True:
            message = await lane.get()
            try:
                await self.forward(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Left pending: claimed and published again after the redelivery time.
                log.exception("broker publisher: message %s (%s) failed", message.entry_id, message.event)
            finally:
                self._held.pop(message.entry_id, None)
                self._room.set()

    async def forward(self, message: EventMessage) -> None:
        """Publish one outbox message, end its task, acknowledge it."""
        payload: Any = orjson.loads(message.payload)
        if not isinstance(payload, dict):
            payload = {}
        address = parse_address(message.event)
        if address is None:
            log.error("broker publisher: %s does not name a broker queue; dropped", message.event)
            await self.store.ack_broker_message(message.entry_id)
            return
        attempt = 0
        while True:
            try:
                provider = self.brokers.provider(address)
                await provider.publish(address, message.message_id, message.payload)
                break
            except BrokerError as error:
                await self._end_task(message, payload, TaskStatus.FAILED, str(error))
                await self.store.ack_broker_message(message.entry_id)
                return
            except Exception as error:
                attempt += 1
                self.metrics.count("publish_retries", address.provider)
                if attempt == 1 or attempt % 10 == 0:
                    log.warning(
                        "broker publisher: publishing to %s failed (attempt %d), retrying: %r",
                        address.event,
                        attempt,
                        error,
                    )
                await asyncio.sleep(retry_pause(attempt))
        self.metrics.count("published", address.provider)
        if not payload.get("asyncComplete"):
            await self._end_task(message, payload, TaskStatus.COMPLETED, None)
        await self.store.ack_broker_message(message.entry_id)

    async def _end_task(
        self, message: EventMessage, payload: dict[str, Any], status: TaskStatus, reason: str | None
    ) -> None:
        workflow_id = payload.get("workflowInstanceId")
        if not isinstance(workflow_id, str):
            log.error("broker publisher: message %s names no workflow; its task is left as it is", message.entry_id)
            return
        result = TaskResult(
            workflow_instance_id=workflow_id,
            task_id=message.message_id,
            status=status,
            output_data=payload,
            reason_for_incompletion=reason,
        )
        try:
            await record_result(self.context, result)
        except ApiError as error:
            if error.status >= 500:
                raise
            # The workflow or task is gone (removed, or restarted): nothing to end.
            log.info("broker publisher: task %s of %s: %s", message.message_id, workflow_id, error.message)

    async def close(self) -> None:
        for worker in self._workers.values():
            worker.cancel()
