"""Amazon SQS (or a server speaking its API) through aiobotocore: `sqs:<queue name>`.

As Conductor's SQSObservableQueue: the queue is looked up by name and created when it does
not exist. Publishing is SendMessage (the body is the message; answered once SQS stored
it). Consuming long-polls one message at a time with a visibility timeout; the message
is deleted only after its handler's actions are durable. One whose handler failed is made
visible again after a growing delay (ChangeMessageVisibility); one whose gateway died
comes back when its visibility timeout ends. The message id is SQS's MessageId, the same
on every delivery, and the delivery count SQS's ApproximateReceiveCount.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from gateway.brokers.base import Address, BrokerMessage, Handle, Provider, redelivery_delay, required_name

# Seconds a received message stays invisible to other consumers while its handler runs.
VISIBILITY_TIMEOUT = 30
WAIT_SECONDS = 1
DEFAULT_REGION = "us-east-1"


def queue_name(address: Address) -> str:
    return required_name(address, address.name, "queue")


class SqsProvider(Provider):
    name = "sqs"

    def __init__(
        self, endpoint_url: str | None, region: str | None, access_key: str | None, secret_key: str | None
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region or DEFAULT_REGION
        self.credentials = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key} if access_key else {}
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None
        self._urls: dict[str, str] = {}
        self._lock = asyncio.Lock()

    def _client_context(self) -> Any:
        config = AioConfig(connect_timeout=5, read_timeout=WAIT_SECONDS + 10, retries={"max_attempts": 1})
        return get_session().create_client(
            "sqs", region_name=self.region, endpoint_url=self.endpoint_url, config=config, **self.credentials
        )

    async def _publisher(self) -> Any:
        async with self._lock:
            if self._client is None:
                stack = contextlib.AsyncExitStack()
                self._client = await stack.enter_async_context(self._client_context())
                self._stack = stack
            return self._client

    async def _drop(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        self._urls.clear()
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()

    async def publish(self, address: Address, message_id: str, body: bytes) -> None:
        name = queue_name(address)
        try:
            client = await self._publisher()
            url = self._urls.get(name) or await _queue_url(client, name)
            self._urls[name] = url
            await client.send_message(QueueUrl=url, MessageBody=body.decode())
        except BaseException:
            async with self._lock:
                await self._drop()
            raise

    async def consume(self, address: Address, handle: Handle) -> None:
        name = queue_name(address)
        async with self._client_context() as client:
            url = await _queue_url(client, name)
            while True:
                reply = await client.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=1,
                    WaitTimeSeconds=WAIT_SECONDS,
                    VisibilityTimeout=VISIBILITY_TIMEOUT,
                    AttributeNames=["ApproximateReceiveCount"],
                )
                for received in reply.get("Messages", []):
                    deliveries = int(received.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
                    message = BrokerMessage(received["MessageId"], received["Body"].encode(), deliveries)
                    try:
                        await handle(message)
                    except Exception:
                        await client.change_message_visibility(
                            QueueUrl=url,
                            ReceiptHandle=received["ReceiptHandle"],
                            VisibilityTimeout=int(redelivery_delay(deliveries)),
                        )
                        continue
                    await client.delete_message(QueueUrl=url, ReceiptHandle=received["ReceiptHandle"])

    async def close(self) -> None:
        async with self._lock:
            await self._drop()


async def _queue_url(client: Any, name: str) -> str:
    try:
        found = await client.get_queue_url(QueueName=name)
    except client.exceptions.QueueDoesNotExist:
        found = await client.create_queue(QueueName=name)
    return str(found["QueueUrl"])
