"""One Ray cluster per test session and one Podium on it, with an embedded Redis.

Tests that need a Podium of their own (crash and restart tests) call
`start_podium(...)` with their own namespace and data directory on the same Ray.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

from cluster.config import Settings
from cluster.redis_server import EmbeddedRedis
from cluster.runtime import Runtime
from tests.integration.client import PodiumClient

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_WORKERS = ["tests.integration.workers", "examples.workers"]


def start_podium(home: Path, namespace: str, workers: list[str] | None = None, **overrides: object) -> Runtime:
    fields: dict[str, Any] = {"port": 0, "shards": 2, "partitions": 8, **overrides}
    settings = Settings(home=home, namespace=namespace, **fields)
    return Runtime(settings, worker_modules=workers if workers is not None else TEST_WORKERS, dashboard=False).start()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A Redis of the test's own, for tests that drive the store or a shard core in-process."""
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield server.url


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    python_path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": python_path}},
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def podium(ray_cluster: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    runtime = start_podium(tmp_path_factory.mktemp("podium"), "podium-tests")
    yield runtime
    runtime.stop()


@pytest.fixture(scope="session")
def client(podium: Runtime) -> Iterator[PodiumClient]:
    with PodiumClient(podium.api_url) as session_client:
        yield session_client
