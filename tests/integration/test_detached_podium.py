"""Podium outlives the process that started it.

A Ray cluster made with `ray start` (token authentication on), an external Redis, and
`podium up` run as an operator runs it, each in a process of its own: `--detach` leaves
Podium running; a second `podium up` joins it instead of starting another; losing that
driver (SIGKILL) loses no shard; a killed supervisor is restarted by Ray and keeps the
shards in line; `podium down` stops it all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cluster.redis_server import EmbeddedRedis, free_port
from tests.integration.client import PodiumClient, eventually
from tests.integration.multinode import REPO_ROOT, MultiNodeRay

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fixture reads /proc")

NAMESPACE = "podium-detached"
ECHO: dict[str, Any] = {
    "name": "detached_echo",
    "version": 1,
    "tasks": [{"name": "py_echo", "taskReferenceName": "echo", "inputParameters": {"x": "${workflow.input.x}"}}],
}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[MultiNodeRay]:
    with MultiNodeRay(tmp_path) as started:
        yield started


def podium_env(cluster: MultiNodeRay, redis_url: str, port: int, home: Path) -> dict[str, str]:
    env = cluster.driver_env(
        {
            "REDIS_URL": redis_url,
            "PODIUM_HOME": str(home),
            "PODIUM_PORT": str(port),
            "PODIUM_NAMESPACE": NAMESPACE,
            "PODIUM_SHARDS": "2",
        }
    )
    env.pop("RAY_AUTH_MODE", None)  # an operator hands over the token only; Podium knows to use it
    return env


def podium(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cluster.cli", *args], env=env, cwd=str(REPO_ROOT),
        capture_output=True, text=True, timeout=timeout,
    )


def shard_pids(client: PodiumClient) -> dict[str, int]:
    view = client.ok("GET", "/admin/shards")
    return {shard["name"]: shard["pid"] for shard in view["shards"] if "pid" in shard}


def supervisor_pid(cluster: MultiNodeRay) -> int:
    code = (
        "import ray\n"
        "ray.init()\n"
        f"print(ray.get(ray.get_actor('podium-supervisor', namespace='{NAMESPACE}').pid.remote()))\n"
    )
    return int(cluster.run_driver(code).stdout.strip().splitlines()[-1])


def run_echo(client: PodiumClient, x: int) -> dict[str, Any]:
    workflow_id = client.start(ECHO["name"], {"x": x})
    return client.wait(workflow_id, timeout=90)


def answers(api_url: str) -> bool:
    try:
        return requests.get(f"{api_url}/health", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def test_podium_outlives_its_driver_and_podium_down_stops_it(cluster: MultiNodeRay, tmp_path: Path) -> None:
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    with EmbeddedRedis(tmp_path / "redis") as redis_server:
        env = podium_env(cluster, redis_server.url, port, tmp_path / "podium")

        detached = podium(env, "up", "--detach", "--workers", "tests.integration.workers", "--no-dashboard")
        assert detached.returncode == 0, detached.stdout + detached.stderr
        assert "Podium is up." in detached.stdout
        assert "keeps running" in detached.stdout
        assert answers(api_url), "the detached Podium answers after `podium up --detach` exited"

        with PodiumClient(api_url) as client:
            eventually(lambda: shard_pids(client), lambda pids: len(pids) == 2, "two shards up", 60)
            client.register(ECHO)
            assert run_echo(client, 1)["status"] == "COMPLETED"
            before = shard_pids(client)

            # A second `podium up` joins the running Podium; then its process is lost.
            log = (tmp_path / "second-up.log").open("w")
            second = subprocess.Popen(
                [sys.executable, "-m", "cluster.cli", "up", "--no-dashboard"], env=env, cwd=str(REPO_ROOT),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            try:
                eventually(
                    lambda: (tmp_path / "second-up.log").read_text(),
                    lambda text: "already running; joined it" in text or second.poll() is not None,
                    "the second podium up joins",
                    120,
                )
                assert second.poll() is None, (tmp_path / "second-up.log").read_text()
                os.kill(second.pid, signal.SIGKILL)
                second.wait(timeout=30)
            finally:
                log.close()
                if second.poll() is None:
                    second.kill()

            assert shard_pids(client) == before, "joining started no second set of shards"
            assert run_echo(client, 2)["status"] == "COMPLETED", "a lost driver lost nothing"
            assert shard_pids(client) == before, "no shard was restarted by the driver's loss"

            # The supervisor dies: Ray restarts it, and it keeps the shards in line.
            os.kill(supervisor_pid(cluster), signal.SIGKILL)
            client.ok("PUT", "/admin/shards", json={"shards": 3})
            eventually(lambda: shard_pids(client), lambda pids: len(pids) == 3, "a third shard after the restart", 90)
            assert {name: pid for name, pid in shard_pids(client).items() if name in before} == before
            assert run_echo(client, 3)["status"] == "COMPLETED"

        down = podium(env, "down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert "Podium stopped." in down.stdout
        eventually(lambda: answers(api_url), lambda up: not up, "the gateway is gone after podium down", 60)
        again = podium(env, "down")
        assert again.returncode == 1
        assert f"No Podium is running in namespace {NAMESPACE}" in again.stdout


def test_joining_without_the_clusters_token_says_what_to_set(cluster: MultiNodeRay, tmp_path: Path) -> None:
    """The cluster runs with token authentication (as KubeRay's authOptions and a plain
    `ray start` on a machine with a token do); a `podium up` given its address but not its
    token is refused by Ray, and says which variable to set."""
    env = podium_env(cluster, "redis://127.0.0.1:1/0", free_port(), tmp_path / "podium")
    env.pop("RAY_AUTH_TOKEN")
    env.pop("RAY_AUTH_TOKEN_PATH", None)
    refused = podium(env, "up", "--detach", "--no-dashboard")
    assert refused.returncode == 1
    message = refused.stderr.strip().splitlines()[-1]
    assert message.startswith("podium: could not join the Ray cluster at ")
    assert "RAY_AUTH_TOKEN" in message
