"""The shard's core in this process, on a real Redis: restarts and repeated calls."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from actors.shard import HandedOver, Outcome, RemoveExecution, ShardCore
from actors.tracing import ExecutionTracer, root_span_id_of, trace_id_of
from actors.workflow import events as ev
from cluster.store import Keys, Store

DEFINITION = orjson.dumps(
    {"name": "core_flow", "version": 1, "tasks": [{"name": "core_task", "taskReferenceName": "only"}]}
)


async def _start(core: ShardCore, workflow_id: str) -> list[str]:
    return await core.start_workflows([{"workflowId": workflow_id, "definition": DEFINITION, "input": {"n": 1}}])


async def _restart_and_start_again(redis_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    first = ShardCore(0, Store(redis_url, 4))
    await first.start()
    await _start(first, "wf-once")
    before = await first.store.get_workflow("wf-once")
    # A new core on the same Redis is what Ray gives a restarted shard; Ray then
    # retries the call that was in flight when the old one died.
    second = ShardCore(0, Store(redis_url, 4))
    await second.start()
    await _start(second, "wf-once")
    after = await second.store.get_workflow("wf-once")
    assert before is not None and after is not None
    return before, after


def test_a_start_repeated_after_a_restart_finds_the_first_execution(redis_url: str) -> None:
    before, after = asyncio.run(_restart_and_start_again(redis_url))
    assert after["createTime"] == before["createTime"]
    assert [t["taskId"] for t in after["tasks"]] == [t["taskId"] for t in before["tasks"]]


async def _run_inline_workflow(redis_url: str, tracer: ExecutionTracer) -> None:
    definition = orjson.dumps(
        {
            "name": "traced_flow",
            "version": 1,
            "tasks": [
                {"name": "first", "taskReferenceName": "first", "type": "NOOP"},
                {"name": "remember", "taskReferenceName": "remember", "type": "SET_VARIABLE",
                 "inputParameters": {"x": 1}},
            ],
        }
    )
    core = ShardCore(0, Store(redis_url, 4), tracer=tracer)
    await core.start()
    await core.start_workflows([{"workflowId": "wf-traced", "definition": definition, "input": {}}])


def test_an_execution_is_one_trace_with_a_span_per_task(redis_url: str) -> None:
    exporter = InMemorySpanExporter()
    asyncio.run(_run_inline_workflow(redis_url, ExecutionTracer(SimpleSpanProcessor(exporter))))

    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"traced_flow", "first", "remember"}
    root = spans["traced_flow"]
    assert root.context.trace_id == trace_id_of("wf-traced")
    assert root.context.span_id == root_span_id_of("wf-traced")
    assert root.parent is None
    assert root.attributes is not None and root.attributes["podium.workflow.status"] == "COMPLETED"
    for name in ("first", "remember"):
        span = spans[name]
        assert span.context.trace_id == root.context.trace_id
        assert span.parent is not None and span.parent.span_id == root.context.span_id
        assert span.attributes is not None and span.attributes["podium.task.status"] == "COMPLETED"
    assert dict(spans["first"].attributes or {})["podium.task.type"] == "NOOP"


async def _remove_then_update(redis_url: str) -> dict[str, Any]:
    core = ShardCore(0, Store(redis_url, 4))
    await core.start()
    await _start(core, "wf-removed")
    started = await core.store.get_workflow("wf-removed")
    assert started is not None
    task_id = started["tasks"][0]["taskId"]
    [removed] = await core.deliver([("wf-removed", RemoveExecution())])
    gone = await core.store.get_workflow("wf-removed")
    in_memory = "wf-removed" in core.executions
    # A worker's late result must not bring the execution back.
    [late] = await core.deliver([("wf-removed", ev.TaskUpdate(task_id=task_id, status="COMPLETED"))])
    [again] = await core.deliver([("wf-removed", RemoveExecution())])
    return {
        "removed": removed,
        "gone": gone,
        "in_memory": in_memory,
        "late": late,
        "after_late": await core.store.get_workflow("wf-removed"),
        "again": again,
    }


def test_the_owning_shard_removes_an_execution_and_a_late_result_finds_nothing(redis_url: str) -> None:
    found = asyncio.run(_remove_then_update(redis_url))
    assert found["removed"] is Outcome.OK
    assert found["gone"] is None and not found["in_memory"]
    assert found["late"] is Outcome.NOT_FOUND
    assert found["after_late"] is None
    assert found["again"] is Outcome.NOT_FOUND


async def _colocated_worker_whose_module_is_missing(redis_url: str) -> tuple[list[str], dict[str, Any] | None]:
    store = Store(redis_url, 4)
    await store.redis.hset(Keys.pools, mapping={"core_task": 1})
    await store.redis.hset(Keys.colocated_workers, mapping={"core_task": "no_such_module_here"})
    called: list[str] = []
    answered = asyncio.Event()

    async def call_pool(task_type: str, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        called.append(task_type)
        answered.set()
        return [
            {"taskId": t["taskId"], "workflowInstanceId": t["workflowInstanceId"], "status": "COMPLETED"}
            for t in tasks
        ]

    core = ShardCore(0, store, call_pool)
    await core.start()
    await _start(core, "wf-fallback")
    await asyncio.wait_for(answered.wait(), 10)
    # The pool's answer is applied by the shard's next turn.
    assert await core.deliver([("wf-fallback", ev.Decide())]) == [Outcome.IGNORED]
    return called, await store.get_workflow("wf-fallback")


def test_a_colocated_worker_whose_module_does_not_import_runs_on_its_pool(redis_url: str) -> None:
    called, workflow = asyncio.run(_colocated_worker_whose_module_is_missing(redis_url))
    assert called == ["core_task"]
    assert workflow is not None and workflow["status"] == "COMPLETED"


TWO_STEPS = orjson.dumps(
    {
        "name": "two_steps",
        "version": 1,
        "tasks": [
            {"name": "core_task", "taskReferenceName": "first"},
            {"name": "core_task", "taskReferenceName": "second"},
            {"name": "other_task", "taskReferenceName": "third"},
        ],
    }
)


async def _results_that_want_their_next_task(redis_url: str) -> dict[str, Any]:
    store = Store(redis_url, 4)
    core = ShardCore(0, store)
    await core.start()
    await core.start_workflows([{"workflowId": "wf-handed", "definition": TWO_STEPS, "input": {}}])
    [first] = await store.poll("core_task", None, 1, 0)
    wanted = ev.NextTaskWanted("core_task", None, "worker-7")
    [handed] = await core.deliver([("wf-handed", ev.TaskUpdate(first["taskId"], "COMPLETED", next_wanted=wanted))])
    queued_after_handing = await store.poll("core_task", None, 1, 0)
    assert isinstance(handed, HandedOver)
    # The third task is of another type: the result that schedules it hands nothing over.
    done = ev.TaskUpdate(handed.task["taskId"], "COMPLETED", next_wanted=wanted)
    [not_handed] = await core.deliver([("wf-handed", done)])
    return {
        "handed": handed.task,
        "queued_after_handing": queued_after_handing,
        "stored": await store.get_workflow("wf-handed"),
        "not_handed": not_handed,
        "third_queued": await store.poll("other_task", None, 1, 0),
    }


def test_a_result_that_wants_its_next_task_gets_the_one_it_scheduled_without_a_queue(redis_url: str) -> None:
    found = asyncio.run(_results_that_want_their_next_task(redis_url))
    handed = found["handed"]
    assert handed["referenceTaskName"] == "second"
    assert (handed["status"], handed["workerId"], handed["pollCount"]) == ("IN_PROGRESS", "worker-7", 1)
    assert handed["workflowTask"]["taskReferenceName"] == "second", "as a poll hands it out"
    assert not any(key.startswith("_") for key in handed)
    assert found["queued_after_handing"] == [], "never put in the queue, so no other worker can poll it"
    stored = {task["referenceTaskName"]: task for task in found["stored"]["tasks"]}
    assert stored["second"]["status"] == "COMPLETED" and stored["second"]["workerId"] == "worker-7"
    assert found["not_handed"] is Outcome.OK
    assert [task["referenceTaskName"] for task in found["third_queued"]] == ["third"]
