"""The embedded redis-server: start, persistence, clean stop and fate-sharing."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from cluster.config import Settings
from cluster.redis_server import EmbeddedRedis, EmbeddedRedisError, redis_server_binary

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def assert_process_gone(pid: int) -> None:
    # stop() reaps the child, so the pid no longer names any process of ours.
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    srv = EmbeddedRedis(tmp_path)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_binary_is_found() -> None:
    binary = redis_server_binary()
    assert binary.is_file()
    assert os.access(binary, os.X_OK)


def test_start_set_get_and_aof(server: EmbeddedRedis, tmp_path: Path) -> None:
    assert server.running
    assert server.port > 0
    assert server.url == f"redis://127.0.0.1:{server.port}/0"
    assert server.data_dir == tmp_path.resolve() / "redis"

    client = redis.Redis.from_url(server.url)
    try:
        assert client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("save") == {"save": ""}
    finally:
        client.close()

    # Redis 6 writes appendonly.aof, Redis 7 an appendonlydir/; accept either.
    assert list(server.data_dir.glob("appendonly*")), sorted(os.listdir(server.data_dir))
    assert server.log_path.is_file()
    assert "Ready to accept connections" in server.log_path.read_text()


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    srv = EmbeddedRedis(tmp_path)
    srv.start()
    pid = srv.pid
    srv.stop()
    assert not srv.running
    assert_process_gone(pid)
    srv.stop()  # idempotent
    with pytest.raises(EmbeddedRedisError):
        _ = srv.url


def test_data_survives_restart(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as first:
        client = redis.Redis.from_url(first.url)
        client.hset("wf:1", mapping={"status": "RUNNING", "step": "3"})
        client.close()
        first_pid = first.pid
    assert_process_gone(first_pid)

    with EmbeddedRedis(tmp_path) as second:
        client = redis.Redis.from_url(second.url)
        assert client.hgetall("wf:1") == {b"status": b"RUNNING", b"step": b"3"}
        client.close()


def test_from_settings_uses_home_and_fixed_port(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "probe") as probe:
        port = probe.port  # a port known to be free once the probe stops
    settings = Settings(home=tmp_path / "node", redis_port=port)
    with EmbeddedRedis.from_settings(settings) as srv:
        assert srv.port == port
        assert srv.data_dir == settings.redis_dir


def test_port_in_use_fails_with_log_tail(server: EmbeddedRedis, tmp_path: Path) -> None:
    clash = EmbeddedRedis(tmp_path / "other", port=server.port)
    with pytest.raises(EmbeddedRedisError, match="Address already in use"):
        clash.start(timeout=10)
    assert not clash.running
    # The failed start must not have killed or hijacked the server already there.
    client = redis.Redis.from_url(server.url)
    assert client.ping()
    client.close()


def test_second_server_on_same_dir_is_refused(server: EmbeddedRedis, tmp_path: Path) -> None:
    with pytest.raises(EmbeddedRedisError, match="already used"):
        EmbeddedRedis(tmp_path).start()
    assert server.running


def test_started_from_short_lived_thread_outlives_it(tmp_path: Path) -> None:
    # PR_SET_PDEATHSIG is per forking thread: a naive implementation would lose the
    # server as soon as the thread that started it finished.
    srv = EmbeddedRedis(tmp_path)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            srv.start()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=start)
    t.start()
    t.join()
    try:
        assert not errors, errors
        client = redis.Redis.from_url(srv.url)
        assert client.ping()
        client.close()
        assert srv.running
    finally:
        srv.stop()


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(os, "pidfd_open"),
    reason="parent-death signal and pidfd are Linux features",
)
def test_redis_dies_with_a_killed_parent_and_keeps_its_data(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, redis
        from cluster.redis_server import EmbeddedRedis
        srv = EmbeddedRedis(sys.argv[1])
        srv.start()
        redis.Redis.from_url(srv.url).set("written-before-crash", "yes")
        print(srv.pid, flush=True)
        sys.stdin.read()  # park until killed
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip().isdigit(), f"helper did not start Redis (exit {parent.poll()})"
        redis_pid = int(line)
        pidfd = os.pidfd_open(redis_pid)  # opened before the kill so the pid cannot be recycled
        try:
            parent.send_signal(signal.SIGKILL)
            parent.wait()
            readable, _, _ = select.select([pidfd], [], [], 15)
            assert readable, f"redis-server pid {redis_pid} survived its parent"
        finally:
            os.close(pidfd)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()

    # SIGTERM from the parent-death signal is a clean shutdown: the write is on disk.
    with EmbeddedRedis(tmp_path) as srv:
        client = redis.Redis.from_url(srv.url)
        assert client.get("written-before-crash") == b"yes"
        client.close()


def test_the_fsync_policy_can_be_always(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path, appendfsync="always") as server:
        client = redis.Redis.from_url(server.url)
        try:
            assert client.config_get("appendfsync") == {"appendfsync": "always"}
        finally:
            client.close()
