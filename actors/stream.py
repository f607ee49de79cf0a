"""Direct streams between Podium's actors for the calls on every step's path.

A Ray actor call costs about 1.1 ms round trip on a 2-core machine; a frame over a TCP
connection kept open between the same two processes costs about 0.06 ms (measured in
docs/performance.md). Ray still places, names, restarts and finds the actors, and hands
a caller the callee's address and secret through one actor call; the calls themselves
(tasks to a pool actor, starts and results to a shard) then travel over the stream.

Frames are a 4-byte big-endian length and a body. The first frame a client sends is the
server's secret (the port is reachable by anything on the network, Ray's own auth is
not). Then each request carries an id, a method name and its argument; answers carry the
id and come in the order they finish, so many calls share one connection. A closed
stream fails every call on it with `ChannelLost`, which callers treat as the loss of the
process: they find the actor again through Ray (it may have restarted elsewhere) and
call again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import pickle
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

log = logging.getLogger("podium.stream")

_LENGTH = 4
# A frame larger than this is refused: a stray client must not make a server allocate
# gigabytes. Real frames are far smaller (payloads are capped at the gateway).
MAX_FRAME_BYTES = 512 * 1024 * 1024

Handler = Callable[[Any], Awaitable[Any]]


class ChannelLost(ConnectionError):
    """The stream closed: the other process or its node went away, or it restarted."""


class RemoteError(RuntimeError):
    """The called method raised; the message is its error's."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    secret: str


class Codec(Protocol):
    def request(self, call_id: int, method: str, argument: Any) -> bytes: ...

    def read_request(self, body: bytes) -> tuple[int, str, Any]: ...

    def answer(self, call_id: int, value: Any) -> bytes: ...

    def failure(self, call_id: int, message: str) -> bytes: ...

    def read_answer(self, body: bytes) -> tuple[int, bool, Any]: ...


class PickleCodec:
    """For Podium's own objects (events are dataclasses); both ends are Podium."""

    def request(self, call_id: int, method: str, argument: Any) -> bytes:
        return pickle.dumps((call_id, method, argument), protocol=pickle.HIGHEST_PROTOCOL)

    def read_request(self, body: bytes) -> tuple[int, str, Any]:
        call_id, method, argument = pickle.loads(body)
        return call_id, method, argument

    def answer(self, call_id: int, value: Any) -> bytes:
        return pickle.dumps((call_id, True, value), protocol=pickle.HIGHEST_PROTOCOL)

    def failure(self, call_id: int, message: str) -> bytes:
        return pickle.dumps((call_id, False, message), protocol=pickle.HIGHEST_PROTOCOL)

    def read_answer(self, body: bytes) -> tuple[int, bool, Any]:
        call_id, ok, value = pickle.loads(body)
        return call_id, ok, value


class JsonCodec:
    """For JSON-shaped payloads (tasks and their results)."""

    def request(self, call_id: int, method: str, argument: Any) -> bytes:
        return orjson.dumps({"id": call_id, "method": method, "argument": argument})

    def read_request(self, body: bytes) -> tuple[int, str, Any]:
        request = orjson.loads(body)
        return request["id"], request["method"], request["argument"]

    def answer(self, call_id: int, value: Any) -> bytes:
        # A value that is already JSON (bytes) is spliced in as it is.
        encoded = value if isinstance(value, bytes) else orjson.dumps(value)
        return b'{"id":%d,"ok":true,"value":' % call_id + encoded + b"}"

    def failure(self, call_id: int, message: str) -> bytes:
        return orjson.dumps({"id": call_id, "ok": False, "value": message})

    def read_answer(self, body: bytes) -> tuple[int, bool, Any]:
        answer = orjson.loads(body)
        return answer["id"], answer["ok"], answer["value"]


def _frame(body: bytes) -> bytes:
    return len(body).to_bytes(_LENGTH, "big") + body


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    size = int.from_bytes(await reader.readexactly(_LENGTH), "big")
    if size > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {size} bytes is larger than {MAX_FRAME_BYTES}")
    return await reader.readexactly(size)


def _tune(writer: asyncio.StreamWriter) -> None:
    """No Nagle delay on small frames, and a dead peer noticed within seconds rather than
    TCP's quarter of an hour (a node that vanishes sends no FIN)."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3), ("TCP_USER_TIMEOUT", 15000)):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


class StreamServer:
    """The callee's side: accepts callers and runs the methods they name."""

    def __init__(self, handlers: dict[str, Handler], codec: Codec) -> None:
        self._handlers = handlers
        self._codec = codec
        self._server: asyncio.Server | None = None
        self._secret = secrets.token_hex(16)
        self._host = ""
        self._connections: set[asyncio.StreamWriter] = set()

    def close(self) -> None:
        """Stop listening and drop every connection: callers see `ChannelLost`."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._connections):
            writer.close()

    async def endpoint(self, host: str) -> Endpoint:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, host, 0)
            self._host = host
        port = self._server.sockets[0].getsockname()[1]
        return Endpoint(self._host, port, self._secret)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _tune(writer)
        running: set[asyncio.Task[None]] = set()
        self._connections.add(writer)
        try:
            hello = await _read_frame(reader)
            if not hmac.compare_digest(hello, self._secret.encode()):
                log.warning("stream: a client sent the wrong secret; closing")
                return
            while True:
                call_id, method, argument = self._codec.read_request(await _read_frame(reader))
                job = asyncio.create_task(self._answer(call_id, method, argument, writer))
                running.add(job)
                job.add_done_callback(running.discard)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass  # the caller went away or restarted; it calls again
        finally:
            self._connections.discard(writer)
            writer.close()

    async def _answer(self, call_id: int, method: str, argument: Any, writer: asyncio.StreamWriter) -> None:
        handler = self._handlers.get(method)
        try:
            if handler is None:
                raise LookupError(f"no method {method!r} on this stream")
            body = self._codec.answer(call_id, await handler(argument))
        except Exception as error:
            body = self._codec.failure(call_id, f"{type(error).__name__}: {error}")
        if writer.is_closing():
            return
        writer.write(_frame(body))
        with contextlib.suppress(ConnectionError):
            await writer.drain()


class StreamClient:
    """The caller's side: one connection to one actor, many calls in flight."""

    def __init__(self, endpoint: Endpoint, codec: Codec) -> None:
        self.endpoint = endpoint
        self._codec = codec
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._connecting: asyncio.Lock | None = None
        self.closed = False

    async def _connect(self) -> asyncio.StreamWriter:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self.closed:
                raise ChannelLost("the stream is closed")
            if self._writer is None:
                try:
                    reader, writer = await asyncio.open_connection(self.endpoint.host, self.endpoint.port)
                except OSError as error:
                    self.closed = True
                    raise ChannelLost(f"cannot reach {self.endpoint.host}:{self.endpoint.port}: {error}") from error
                _tune(writer)
                writer.write(_frame(self.endpoint.secret.encode()))
                self._writer = writer
                self._reader_task = asyncio.create_task(self._read_answers(reader))
            return self._writer

    async def call(self, method: str, argument: Any) -> Any:
        if self.closed:
            raise ChannelLost("the stream is closed")
        writer = self._writer or await self._connect()
        self._next_id += 1
        call_id = self._next_id
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = answer
        writer.write(_frame(self._codec.request(call_id, method, argument)))
        try:
            await writer.drain()
        except ConnectionError as error:
            self._lost(error)
        return await answer

    async def _read_answers(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                call_id, ok, value = self._codec.read_answer(await _read_frame(reader))
                answer = self._pending.pop(call_id, None)
                if answer is None or answer.done():
                    continue
                if ok:
                    answer.set_result(value)
                else:
                    answer.set_exception(RemoteError(value))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as error:
            self._lost(error)

    def _lost(self, error: BaseException) -> None:
        self.closed = True
        if self._writer is not None:
            self._writer.close()
        pending, self._pending = self._pending, {}
        for answer in pending.values():
            if not answer.done():
                answer.set_exception(ChannelLost(f"the stream closed: {type(error).__name__}"))

    def close(self) -> None:
        self._lost(ConnectionResetError("closed by the caller"))
        if self._reader_task is not None:
            self._reader_task.cancel()
