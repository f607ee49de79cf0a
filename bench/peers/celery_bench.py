"""Run the reference shape on Celery: its own Redis, two worker processes, N in flight."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from cluster.redis_server import EmbeddedRedis


def run(in_flight: int, warmup: float, seconds: float) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-celery-") as home:
        server = EmbeddedRedis(Path(home))
        url = server.start()
        env = {**os.environ, "BENCH_CELERY_REDIS": url}
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "bench.peers.celery_app", "worker", "--concurrency", "2",
             "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            os.environ["BENCH_CELERY_REDIS"] = url
            from bench.peers import celery_app

            celery_app.app.conf.broker_url = url
            celery_app.app.conf.result_backend = url
            client = redis.Redis.from_url(url)
            started = 0

            def completed() -> int:
                return int(client.get(celery_app.COUNTER) or 0)

            def feed(until: float) -> None:
                nonlocal started
                while time.monotonic() < until:
                    missing = in_flight - (started - completed())
                    for _ in range(max(0, missing)):
                        celery_app.reference_workflow().apply_async()
                        started += 1
                    if missing <= 0:
                        time.sleep(0.005)

            feed(time.monotonic() + warmup)
            before, window_start = completed(), time.monotonic()
            feed(window_start + seconds)
            rate = (completed() - before) / (time.monotonic() - window_start)
            client.close()
            return rate
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            server.stop()


if __name__ == "__main__":
    rate = run(int(sys.argv[2]) if len(sys.argv) > 2 else 200, 3.0, float(sys.argv[1]) if len(sys.argv) > 1 else 10.0)
    print(rate, flush=True)
    # The peer's client threads can fail while the interpreter tears down; the figure is out.
    os._exit(0)
