"""Real brokers for the broker tests, each a child process on free ports with its own data
directory: RabbitMQ (Debian's rabbitmq-server, with an epmd of its own), NATS with
JetStream (Debian's nats-server), and an SQS-compatible server (moto in server mode, from
the test extra). `stop()` then `start()` restarts one on the same port and data, as an
outage does. A missing binary fails with the command that installs it.

Each also offers the few raw client calls the tests need to look at the broker from the
outside (publish a message, take one), through the brokers' own clients rather than
Podium's providers, so a test checks Podium against the broker and not against itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import aio_pika
import boto3
import nats
import pytest
import requests
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from cluster.redis_server import free_port

APT_INSTALL = "apt-get update && apt-get install -y rabbitmq-server nats-server"
START_TIMEOUT = 120.0


def _require(path: str | None, what: str) -> str:
    if not path:
        pytest.fail(f"{what} is not installed; install it with: {APT_INSTALL}")
    return path


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}; its log: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on {port} within {START_TIMEOUT}s")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    # Each server runs in its own process group (the RabbitMQ script starts the Erlang VM).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class RabbitMQ:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.epmd: subprocess.Popen[bytes] | None = None
        # The server script itself, not Debian's wrapper, which switches to the rabbitmq user.
        found = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server"))
        self.script = _require(found[-1] if found else None, "rabbitmq-server")
        self.epmd_binary = _require(shutil.which("epmd"), "epmd (with rabbitmq-server)")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self) -> RabbitMQ:
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "enabled_plugins").write_text("[].\n")
        env = {
            **os.environ,
            "HOME": str(self.base),  # the Erlang cookie goes here
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_NODENAME": f"podium{self.port}@localhost",
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.base / "rabbitmq.pid"),
        }
        if self.epmd is None or self.epmd.poll() is not None:
            self.epmd = subprocess.Popen(
                [self.epmd_binary, "-port", str(self.epmd_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        log = self.base / "server.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [self.script], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        _wait_for_port(self.port, self.process, "rabbitmq-server", log)
        return self

    def stop(self) -> None:
        _stop(self.process)

    def close(self) -> None:
        self.stop()
        _stop(self.epmd)

    # -- a client from outside --------------------------------------------------------

    def publish(self, queue: str, body: bytes, message_id: str | None = None) -> None:
        async def run() -> None:
            connection = await aio_pika.connect(self.url)
            async with connection:
                channel = await connection.channel()
                await channel.declare_queue(queue, durable=True)
                message = aio_pika.Message(body, message_id=message_id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
                await channel.default_exchange.publish(message, queue)

        asyncio.run(run())

    def bind_queue(self, exchange: str, queue: str, routing_key: str, exchange_type: str = "topic") -> None:
        """A queue of the test's own bound to an exchange, to see what is published to it."""

        async def run() -> None:
            connection = await aio_pika.connect(self.url)
            async with connection:
                channel = await connection.channel()
                declared = await channel.declare_exchange(exchange, exchange_type, durable=True)
                bound = await channel.declare_queue(queue, durable=True)
                await bound.bind(declared, routing_key)

        asyncio.run(run())

    def take(self, queue: str, timeout: float = 60.0) -> aio_pika.abc.AbstractIncomingMessage:
        """The next message of a queue (acknowledged), waiting up to `timeout`."""

        async def run() -> aio_pika.abc.AbstractIncomingMessage:
            connection = await aio_pika.connect(self.url)
            async with connection:
                channel = await connection.channel()
                declared = await channel.declare_queue(queue, durable=True)
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    message = await declared.get(fail=False)
                    if message is not None:
                        await message.ack()
                        return message
                    await asyncio.sleep(0.1)
                raise AssertionError(f"no message on {queue} within {timeout}s")

        return asyncio.run(run())


class Nats:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.binary = _require(shutil.which("nats-server"), "nats-server")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> Nats:
        self.base.mkdir(parents=True, exist_ok=True)
        log = self.base / "server.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.base / "jetstream")],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_for_port(self.port, self.process, "nats-server", log)
        return self

    def stop(self) -> None:
        _stop(self.process)

    close = stop

    def publish(self, subject: str, body: bytes, stream: bool) -> None:
        async def run() -> None:
            client = await nats.connect(self.url)
            try:
                if stream:
                    js = client.jetstream()
                    # The stream as Podium names and makes it, in case no consumer made it yet.
                    name = subject.replace(".", "_").replace("*", "ANY").replace(">", "ALL").upper()
                    try:
                        await js.stream_info(name)
                    except NotFoundError:
                        await js.add_stream(StreamConfig(name=name, subjects=[subject], storage=StorageType.FILE))
                    await js.publish(subject, body)
                else:
                    await client.publish(subject, body)
                    await client.flush()
            finally:
                await client.close()

        asyncio.run(run())

    def stream_messages(self, stream: str, subject: str) -> list[Any]:
        """Every message the JetStream stream holds (read by sequence, nothing consumed)."""

        async def run() -> list[Any]:
            client = await nats.connect(self.url)
            try:
                manager = client.jsm()
                info = await manager.stream_info(stream)
                return [
                    await manager.get_msg(stream, sequence)
                    for sequence in range(info.state.first_seq, info.state.last_seq + 1)
                    if info.state.messages
                ]
            finally:
                await client.close()

        return asyncio.run(run())


class CoreNatsListener:
    """A core NATS subscriber running in a thread of its own event loop, to catch messages
    published on a subject while it listens (core NATS keeps none)."""

    def __init__(self, url: str, subject: str) -> None:
        self.url = url
        self.subject = subject
        self.received: list[bytes] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._client = asyncio.run_coroutine_threadsafe(self._subscribe(), self._loop).result(timeout=30)

    async def _subscribe(self) -> Any:
        client = await nats.connect(self.url)

        async def on_message(msg: Any) -> None:
            self.received.append(msg.data)

        await client.subscribe(self.subject, cb=on_message)
        await client.flush()
        return client

    def close(self) -> None:
        with contextlib.suppress(Exception, NatsTimeout):
            asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


class MotoSqs:
    """moto's server: an SQS API on a free port. It keeps queues in memory only, so a
    restart is an outage that also empties it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoSqs:
        self.base.mkdir(parents=True, exist_ok=True)
        log = self.base / "server.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_for_port(self.port, self.process, "moto server (pip install 'moto[server]')", log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/moto-api/", timeout=5).status_code < 500:
                    return self
            time.sleep(0.2)
        raise RuntimeError("moto server did not answer")

    def stop(self) -> None:
        _stop(self.process)

    close = stop

    def client(self) -> Any:
        return boto3.client(
            "sqs",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def queue_url(self, name: str) -> str:
        return str(self.client().create_queue(QueueName=name)["QueueUrl"])

    def publish(self, queue: str, body: bytes) -> None:
        self.client().send_message(QueueUrl=self.queue_url(queue), MessageBody=body.decode())

    def take(self, queue: str, timeout: float = 60.0) -> dict[str, Any]:
        client, url = self.client(), self.queue_url(queue)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = client.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
            for message in reply.get("Messages", []):
                client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                return dict(message)
        raise AssertionError(f"no message on {queue} within {timeout}s")
