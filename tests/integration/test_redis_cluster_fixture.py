"""The LocalRedisCluster fixture, and what redis-py's cluster clients do on it.

Besides proving the fixture (a real 3-master cluster, kill_node, a clean teardown), these
tests pin down the redis-py behaviours the engine has to live with on Redis Cluster:
how scripts are routed, which exception a cross-slot request raises, and what pipelines
and transactions can and cannot do on the cluster client.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import (
    ClusterCrossSlotError,
    CrossSlotTransactionError,
    MovedError,
    RedisClusterException,
    ResponseError,
)

import tests.integration.redis_cluster as redis_cluster_module
from tests.integration.redis_cluster import CLUSTER_SLOTS, LocalRedisCluster

pytestmark = pytest.mark.integration

# With 3 masters redis-cli assigns slots 0-5460, 5461-10922 and 10923-16383, so these
# three hash tags (slots 11819, 7752 and 3689) always land on three different masters.
TAGS = ("p1", "p2", "p3")

SET_BOTH = "redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); return redis.call('MGET', KEYS[1], KEYS[2])"  # noqa: E501
READ_UNDECLARED = "return tostring(redis.call('GET', ARGV[1]))"


def assert_process_gone(pid: int) -> None:
    # stop() and kill_node() reap their children, so the pid names no process any more.
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalRedisCluster]:
    rc = LocalRedisCluster()
    rc.start()
    pids = rc.pids
    try:
        yield rc
    finally:
        rc.stop()
    for pid in pids:
        assert_process_gone(pid)


@pytest.fixture
def rc(cluster: LocalRedisCluster) -> LocalRedisCluster:
    cluster.flushall()
    return cluster


@pytest.fixture
def client(rc: LocalRedisCluster) -> Iterator[RedisCluster]:
    c = RedisCluster.from_url(rc.url)
    try:
        yield c
    finally:
        c.close()


def other_slot_same_node(client: RedisCluster, key: str) -> str:
    """A key owned by the same node as ``key`` but in another slot."""
    node, slot = client.get_node_from_key(key), client.keyslot(key)
    for i in range(10_000):
        candidate = f"{{q{i}}}:x"
        if client.get_node_from_key(candidate) == node and client.keyslot(candidate) != slot:
            return candidate
    raise AssertionError("no such key")  # pragma: no cover


# --- the fixture itself -----------------------------------------------------------


def test_cluster_is_up(rc: LocalRedisCluster) -> None:
    assert len(rc.nodes) == rc.size == 3
    assert len(set(rc.ports)) == 3
    assert rc.url == f"redis://127.0.0.1:{rc.ports[0]}/0"
    assert rc.startup_seconds is not None and rc.startup_seconds < 30
    assert all(node.running for node in rc.nodes)
    for node in rc.nodes:
        with node.client() as nc:
            info: Any = nc.execute_command("CLUSTER INFO")
            assert info["cluster_state"] == "ok"
            assert int(info["cluster_slots_assigned"]) == CLUSTER_SLOTS
            assert int(info["cluster_known_nodes"]) == 3
            assert nc.execute_command("ROLE")[0] == b"master"
            # Every node sees one contiguous range per master, together covering every slot.
            ranges: Any = nc.execute_command("CLUSTER SLOTS")
            assert sorted(r[2][1] for r in ranges) == sorted(rc.ports)
            assert sum(r[1] - r[0] + 1 for r in ranges) == CLUSTER_SLOTS


def test_start_retries_with_fresh_ports_when_one_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    real_pick = redis_cluster_module._pick_ports
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        calls: list[list[int]] = []

        def pick(count: int) -> list[int]:
            ports = real_pick(count)
            if not calls:
                ports[1] = taken_port  # the race: someone bound it after our probe
            calls.append(ports)
            return ports

        monkeypatch.setattr(redis_cluster_module, "_pick_ports", pick)
        rc = LocalRedisCluster()
        with rc:
            assert len(calls) == 2
            assert taken_port not in rc.ports
            pids = rc.pids
            with RedisCluster.from_url(rc.url) as c:
                assert c.set("{p1}:a", "1")
        for pid in pids:
            assert_process_gone(pid)


def test_kill_node_then_failover_and_clean_teardown() -> None:
    """With a replica per master, SIGKILLing a master promotes its replica."""
    with LocalRedisCluster(replicas=1) as rc:
        assert rc.size == 6
        pids = rc.pids
        with RedisCluster.from_url(rc.url) as c:
            assert c.set("{p1}:a", "before")
            owner = c.get_node_from_key("{p1}:a")
            victim = next(n for n in rc.nodes if n.port == owner.port)
            assert rc.kill_node(victim.index) == victim.pid
            assert not victim.running
            assert_process_gone(victim.pid)
            rc.wait_until_healthy(timeout=30)  # the replica took over the slots
            assert c.set("{p1}:a", "after")  # redis-py follows the MOVED to the new master
            assert c.get("{p1}:a") == b"after"
            assert c.get_node_from_key("{p1}:a").port != victim.port
        rc.flushall()  # skips the dead node and the replicas
    for pid in pids:
        assert_process_gone(pid)


# --- keys, slots and nodes ---------------------------------------------------------


def test_hash_tags_land_on_different_nodes(rc: LocalRedisCluster, client: RedisCluster) -> None:
    keys = [f"{{{tag}}}:a" for tag in TAGS]
    owners = [client.get_node_from_key(k) for k in keys]
    assert len({o.port for o in owners}) == 3
    # Only the hash tag counts: {p1}:a and {p1}:b share a slot, and client, server and
    # redis.crc agree on it.
    assert client.keyslot("{p1}:a") == client.keyslot("{p1}:b") == key_slot(b"{p1}:a")
    with rc.nodes[0].client() as nc:
        for k in keys:
            assert nc.execute_command("CLUSTER KEYSLOT", k) == client.keyslot(k)

    for k in keys:
        assert client.set(k, k)
    for k, owner in zip(keys, owners, strict=True):
        assert client.get(k) == k.encode()
        for node in rc.nodes:
            with node.client() as nc:
                if node.port == owner.port:
                    assert nc.get(k) == k.encode()
                else:
                    with pytest.raises(MovedError):  # a plain client is not redirected
                        nc.get(k)


async def test_hash_tags_async(rc: LocalRedisCluster) -> None:
    client = AsyncRedisCluster.from_url(rc.url)
    try:
        # Unlike the sync client, the asyncio one loads the slot map on its first command
        # (or initialize()); before that get_node_from_key raises SlotNotCoveredError.
        await client.initialize()
        keys = [f"{{{tag}}}:a" for tag in TAGS]
        owners = [client.get_node_from_key(k) for k in keys]
        assert len({o.port for o in owners if o is not None}) == 3
        for k in keys:
            assert await client.set(k, k)
        assert [await client.get(k) for k in keys] == [k.encode() for k in keys]
        assert client.keyslot("{p1}:a") == client.keyslot("{p1}:b")
    finally:
        await client.aclose()


# --- scripts ------------------------------------------------------------------------


def test_script_with_keys_in_one_slot(rc: LocalRedisCluster, client: RedisCluster) -> None:
    script = client.register_script(SET_BOTH)
    assert script(keys=["{p1}:a", "{p1}:b"], args=["x"]) == [b"x", b"x"]
    # EVALSHA went to the slot's owner; the SCRIPT LOAD after its NOSCRIPT went to every primary.
    for node in rc.nodes:
        with node.client() as nc:
            assert nc.script_exists(script.sha) == [True]
    assert client.get("{p1}:b") == b"x"
    # A script without keys is sent to a random node.
    assert client.register_script("return 2")() == 2


def test_script_across_slots_is_refused(client: RedisCluster) -> None:
    script = client.register_script(SET_BOTH)
    # redis-py checks *all* keys (not just the first) before sending: a client-side
    # RedisClusterException, not a server ResponseError, even when both slots live on
    # the same node.
    for other in ("{p2}:b", other_slot_same_node(client, "{p1}:a")):
        with pytest.raises(RedisClusterException, match="EVALSHA - all keys must map to the same key slot") as ei:
            script(keys=["{p1}:a", other], args=["x"])
        assert not isinstance(ei.value, ResponseError)
    assert client.get("{p1}:a") is None  # nothing ran

    # The server's own CROSSSLOT reply (keys of two slots on the node that owns both)
    # surfaces as ClusterCrossSlotError, a ResponseError.
    same_node = other_slot_same_node(client, "{p1}:a")
    with pytest.raises(ClusterCrossSlotError, match="Keys in request don't hash to the same slot"):
        client.execute_command(
            "EVALSHA", script.sha, 2, "{p1}:a", same_node, "x", target_nodes=client.get_node_from_key("{p1}:a")
        )

    # Undeclared keys are not checked by redis-py. On Redis 6.2 a script may touch an
    # undeclared key of another slot on the same node, but not one on another node.
    undeclared = client.register_script(READ_UNDECLARED)
    assert undeclared(keys=["{p1}:a"], args=[same_node]) == b"false"
    with pytest.raises(ResponseError, match="Lua script attempted to access a non local key in a cluster node"):
        undeclared(keys=["{p1}:a"], args=["{p2}:a"])


async def test_scripts_async(rc: LocalRedisCluster) -> None:
    client = AsyncRedisCluster.from_url(rc.url)
    try:
        script = client.register_script(SET_BOTH)
        assert await script(keys=["{p1}:a", "{p1}:b"], args=["z"]) == [b"z", b"z"]
        with pytest.raises(RedisClusterException, match="EVALSHA - all keys must map to the same key slot"):
            await script(keys=["{p1}:a", "{p2}:b"], args=["z"])
    finally:
        await client.aclose()


# --- pipelines and transactions ----------------------------------------------------------


def test_pipeline_across_slots(client: RedisCluster) -> None:
    keys = [f"{{{tag}}}:k" for tag in TAGS]
    pipe = client.pipeline()  # transaction=False by default
    for i, k in enumerate(keys):
        pipe.set(k, i)
    for k in keys:
        pipe.get(k)
    assert pipe.execute() == [True, True, True, b"0", b"1", b"2"]

    # One failing command does not stop the others (split per node, not atomic).
    pipe = client.pipeline()
    pipe.set("{p1}:s", "x").incr("{p1}:s").set("{p2}:s", 1)
    results = pipe.execute(raise_on_error=False)
    assert results[0] is True and isinstance(results[1], ResponseError) and results[2] is True

    # Scripts and multi-key commands cannot be pipelined on a cluster client at all.
    for queue in (lambda p: p.evalsha("0" * 40, 1, "{p1}:a"), lambda p: p.mget("{p1}:a", "{p1}:b")):
        with pytest.raises(RedisClusterException, match="is blocked when running redis in cluster mode"):
            queue(client.pipeline())


def test_transaction_pipeline(client: RedisCluster) -> None:
    # MULTI/EXEC is supported when every key maps to one slot. Note the raw b"OK" for
    # SET: the sync cluster transaction skips the response callback that turns it into
    # True everywhere else (a plain pipeline, the async transaction).
    pipe = client.pipeline(transaction=True)
    pipe.set("{p1}:a", 1).incr("{p1}:b").get("{p1}:a")
    assert pipe.execute() == [b"OK", 1, b"1"]

    # ...and refused by redis-py, before anything is sent, across slots (even two slots
    # owned by the same node).
    for other in ("{p2}:b", other_slot_same_node(client, "{p1}:a")):
        pipe = client.pipeline(transaction=True)
        pipe.set("{p1}:a", 2).incr(other)
        with pytest.raises(CrossSlotTransactionError, match="must map to the same slot"):
            pipe.execute()
    assert client.get("{p1}:a") == b"1"

    # WATCH/MULTI/EXEC on one slot works; watching a second slot raises at once.
    with client.pipeline(transaction=True) as pipe:
        pipe.watch("{p1}:a")
        value = pipe.get("{p1}:a")  # immediate while watching
        pipe.multi()
        pipe.set("{p1}:copy", value)
        assert pipe.execute() == [b"OK"]
    with client.pipeline(transaction=True) as pipe:
        pipe.watch("{p1}:a")
        with pytest.raises(CrossSlotTransactionError, match="Cannot watch or send commands on different slots"):
            pipe.watch("{p2}:a")
    assert client.get("{p1}:copy") == b"1"

    # EVALSHA is blocked in transactions too.
    with pytest.raises(RedisClusterException, match="is blocked when running redis in cluster mode"):
        client.pipeline(transaction=True).evalsha("0" * 40, 1, "{p1}:a")


async def test_pipelines_async(rc: LocalRedisCluster) -> None:
    client = AsyncRedisCluster.from_url(rc.url)
    try:
        keys = [f"{{{tag}}}:k" for tag in TAGS]
        pipe = client.pipeline()
        for i, k in enumerate(keys):
            pipe.set(k, i)
        for k in keys:
            pipe.get(k)
        assert await pipe.execute() == [True, True, True, b"0", b"1", b"2"]

        tx = client.pipeline(transaction=True)
        tx.set("{p1}:a", 1)
        tx.incr("{p1}:b")
        assert await tx.execute() == [True, 1]

        tx = client.pipeline(transaction=True)
        tx.set("{p1}:a", 2)
        tx.incr("{p2}:b")
        with pytest.raises(CrossSlotTransactionError, match="must map to the same slot"):
            await tx.execute()
        assert await client.get("{p1}:a") == b"1"

        with pytest.raises(RedisClusterException, match="is blocked when running redis in cluster mode"):
            client.pipeline().evalsha("0" * 40, 1, "{p1}:a")
    finally:
        await client.aclose()
