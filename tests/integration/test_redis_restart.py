"""The embedded Redis killed with SIGKILL while workflows run: `podium up` starts it again
on the same port from its append-only file, shards and gateways reconnect, calls made
meanwhile answer or say 503 (never 500), and every workflow finishes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import requests

from cluster.redis_server import EmbeddedRedis
from tests.integration.client import PodiumClient, eventually
from tests.integration.conftest import start_podium
from tests.integration.load import Load


def test_a_killed_embedded_redis_is_started_again_and_no_workflow_is_lost(ray_cluster: None, tmp_path: Path) -> None:
    runtime = start_podium(tmp_path / "podium", "podium-redis-restart", ["tests.integration.workers"])
    counters = EmbeddedRedis(tmp_path / "counters")
    try:
        embedded = runtime.embedded_redis
        assert embedded is not None
        with PodiumClient(runtime.api_url) as client:
            # The workers' gate and run counters live in a Redis of their own: the fault
            # must not touch what counts it.
            load = Load(counters.start(), client)
            load.start(30)  # held at the gate, on the pools
            # appendfsync everysec: wait for a second fsync of what the starts wrote.
            time.sleep(2.5)
            killed = embedded.pid
            port = embedded.port
            os.kill(killed, signal.SIGKILL)

            answers = []
            deadline = time.monotonic() + 30
            while runtime.redis_restarts == 0 or not embedded.running:
                response = requests.get(f"{runtime.api_url}/workflow/{load.ids[0]}", timeout=30)
                answers.append(response.status_code)
                assert time.monotonic() < deadline, "the embedded Redis was not started again"
            assert embedded.pid != killed and embedded.port == port, "a new process, on the same port"
            assert set(answers) <= {200, 503}, answers

            load.start(10)  # after the restart
            workflows = load.finish(timeout=120)
            load.check_each_ran_once(workflows)
            runs = load.runs()
            # A task in flight when Redis died may run again after the shards recover.
            assert all(count in (1, 2) for count in runs), runs
            health = eventually(
                lambda: client.ok("GET", "/health"), lambda h: h["healthy"], "healthy after the restart", 30
            )
            assert health["redis"]
    finally:
        runtime.stop()
        counters.stop()
