"""The reference workflow's shape in Celery: chain, group + chord, a branch, a nested chain
(the sub-workflow, scheduled as its own chain through `Task.replace`).

Broker and result backend are Redis. The last task of each workflow increments a
counter in Redis, which the driver reads to count completions.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from celery import Celery, chain, chord

BROKER = os.environ.get("BENCH_CELERY_REDIS", "redis://127.0.0.1:6399/0")
app = Celery("bench_peers", broker=BROKER, backend=BROKER)
app.conf.update(task_ignore_result=False, worker_prefetch_multiplier=32, result_expires=300,
                broker_connection_retry_on_startup=True)
OUTPUT = {"value": 1, "kind": "small"}
COUNTER = "bench:celery:completed"
_counter_client: redis.Redis | None = None


@app.task
def step(_previous: Any = None, i: int = 0) -> dict[str, Any]:
    return OUTPUT


@app.task
def join(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"a": results[0]["value"], "b": results[1]["value"]}


@app.task
def switch(joined: dict[str, Any]) -> dict[str, Any]:
    return {**joined, "route": "small" if OUTPUT["kind"] == "small" else "other"}


@app.task
def set_variable(previous: dict[str, Any]) -> dict[str, Any]:
    return {**previous, "last": OUTPUT["value"]}


@app.task(bind=True)
def child(self: Any, previous: dict[str, Any]) -> Any:
    # The sub-workflow: Celery has no child workflows, so the task replaces itself with a
    # nested chain of its own (one step, then a merge into the parent's data); the
    # parent's chain resumes with the nested chain's result, as it would after a child.
    raise self.replace(chain(step.si(None, 1), merge_child.s(previous)))


@app.task
def merge_child(child_output: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    return {**previous, "child": child_output}


@app.task
def summarise(previous: dict[str, Any]) -> dict[str, Any]:
    global _counter_client
    if _counter_client is None:
        _counter_client = redis.Redis.from_url(BROKER)
    _counter_client.incr(COUNTER)
    return {"total": previous["a"] + previous["b"]}


def reference_workflow() -> Any:
    return chain(
        step.s(None, 1), *(step.s() for _ in range(5)),
        chord([step.si(None, 1), step.si(None, 1)], join.s()),
        switch.s(), set_variable.s(), child.s(), summarise.s(),
    )
