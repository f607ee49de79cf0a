"""actors/stream.py: calls over a kept-open TCP stream, in this process on localhost."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors.stream import (
    ChannelLost,
    Endpoint,
    JsonCodec,
    PickleCodec,
    RemoteError,
    StreamClient,
    StreamServer,
)


async def _echo(argument: Any) -> Any:
    return argument


async def _slow_then_echo(argument: Any) -> Any:
    await asyncio.sleep(argument["wait"])
    return argument["value"]


async def _fail(argument: Any) -> Any:
    raise ValueError(f"refused {argument}")


def _server(codec: Any) -> StreamServer:
    return StreamServer({"echo": _echo, "slow": _slow_then_echo, "fail": _fail}, codec)


@pytest.mark.parametrize("codec", [JsonCodec(), PickleCodec()], ids=["json", "pickle"])
def test_a_call_returns_what_the_method_answers(codec: Any) -> None:
    async def scenario() -> Any:
        client = StreamClient(await _server(codec).endpoint("127.0.0.1"), codec)
        return await client.call("echo", {"tasks": [1, 2, 3]})

    assert asyncio.run(scenario()) == {"tasks": [1, 2, 3]}


def test_answers_find_their_calls_when_they_come_back_out_of_order() -> None:
    async def scenario() -> list[Any]:
        client = StreamClient(await _server(JsonCodec()).endpoint("127.0.0.1"), JsonCodec())
        return list(
            await asyncio.gather(
                client.call("slow", {"wait": 0.05, "value": "first"}),
                client.call("slow", {"wait": 0.0, "value": "second"}),
            )
        )

    assert asyncio.run(scenario()) == ["first", "second"]


def test_a_method_that_raises_fails_the_call_with_its_message() -> None:
    async def scenario() -> None:
        client = StreamClient(await _server(PickleCodec()).endpoint("127.0.0.1"), PickleCodec())
        await client.call("fail", 7)

    with pytest.raises(RemoteError, match="ValueError: refused 7"):
        asyncio.run(scenario())


def test_an_unknown_method_is_named_in_the_error() -> None:
    async def scenario() -> None:
        client = StreamClient(await _server(JsonCodec()).endpoint("127.0.0.1"), JsonCodec())
        await client.call("nope", None)

    with pytest.raises(RemoteError, match="no method 'nope'"):
        asyncio.run(scenario())


def test_a_client_with_the_wrong_secret_is_cut_off() -> None:
    async def scenario() -> None:
        real = await _server(JsonCodec()).endpoint("127.0.0.1")
        client = StreamClient(Endpoint(real.host, real.port, "not-the-secret"), JsonCodec())
        await asyncio.wait_for(client.call("echo", 1), timeout=10)

    with pytest.raises(ChannelLost):
        asyncio.run(scenario())


def test_calls_in_flight_fail_with_channel_lost_when_the_server_goes_away() -> None:
    async def scenario() -> tuple[bool, bool]:
        server = _server(JsonCodec())
        client = StreamClient(await server.endpoint("127.0.0.1"), JsonCodec())
        assert await client.call("echo", 1) == 1
        pending = asyncio.ensure_future(client.call("slow", {"wait": 30, "value": 1}))
        await asyncio.sleep(0.05)
        server.close()  # what the kernel does to a killed process's sockets
        try:
            await asyncio.wait_for(pending, timeout=10)
        except ChannelLost:
            lost = True
        else:
            lost = False
        return lost, client.closed

    assert asyncio.run(scenario()) == (True, True)


def test_a_call_on_a_closed_client_fails_at_once() -> None:
    async def scenario() -> None:
        client = StreamClient(await _server(JsonCodec()).endpoint("127.0.0.1"), JsonCodec())
        client.close()
        await client.call("echo", 1)

    with pytest.raises(ChannelLost):
        asyncio.run(scenario())
