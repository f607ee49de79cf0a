"""Dispatcher: the side effects a turn carries out once its checkpoint is committed.

Python pool tasks go to their pool actors, HTTP tasks are called, messages go to the
shard that owns their receiver; the answers of pools and HTTP calls come back as
events for the next turn.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from actors import http_client, messages
from actors.shard.base import ShardBase
from actors.shard.execution import Execution, TurnEffects
from actors.shard.outcomes import Outcome
from actors.workers import WorkerFunction, load_worker_modules, run_here
from actors.workflow import commands as cmd
from actors.workflow import events as ev
from actors.workflow.machine import handle
from actors.workflow.state import Json, TaskRecord, public_task
from actors.workflow.task_view import api_task, definition_index
from definitions.models import TERMINAL_TASK_STATUSES

log = logging.getLogger("podium.shard")

# Connections a shard keeps open for HTTP tasks, across all hosts.
HTTP_CONNECTIONS = 100


def failed_results(tasks: list[dict[str, Any]], reason: str) -> list[dict[str, Any]]:
    """TaskResult-shaped failures for tasks whose worker never answered; they are retried."""
    return [
        {
            "taskId": t["taskId"],
            "workflowInstanceId": t["workflowInstanceId"],
            "status": "FAILED",
            "reasonForIncompletion": reason,
        }
        for t in tasks
    ]


class Dispatcher(ShardBase):
    """Pool and HTTP dispatch and outbound messages, part of `ShardCore`."""

    def _dispatch_when_due(self, execution: Execution, task_id: str, effects: TurnEffects) -> Outcome:
        """A pool task's start delay or retry delay has passed: send it to its pool now."""
        task = execution.state.by_id.get(task_id)
        if task is None or task["status"] != "SCHEDULED" or execution.state.status != "RUNNING":
            return Outcome.IGNORED
        self._to_pool(execution.state.workflow_id, task, effects)
        return Outcome.OK

    def _to_pool(self, workflow_id: str, task: TaskRecord, effects: TurnEffects) -> None:
        effects.pool_tasks[task["taskType"]].append(public_task(task))
        task_def = self.task_defs.get(task["taskType"])
        if task_def is not None and task_def.timeout_seconds > 0:
            # A pool call has no poll: mark it started so its timeoutSeconds runs.
            self.notify(workflow_id, ev.TaskPolled(task["taskId"], f"pool:{task['taskType']}"))

    def _hand_over(
        self, execution: Execution, commands: list[cmd.Command], wanted: ev.NextTaskWanted, now: int
    ) -> TaskRecord | None:
        """update-v2: the first task of the wanted type and domain this step puts in a queue
        goes to the worker that sent the result instead, IN_PROGRESS in this same step. A
        type with rate or concurrency limits, or served by a Python pool, keeps its queue."""
        if wanted.task_type in self.limited_types or wanted.task_type in self.pool_types:
            return None
        for index, command in enumerate(commands):
            if (
                isinstance(command, cmd.DispatchTask)
                and command.delay_ms == 0
                and command.task["taskType"] == wanted.task_type
                and command.task.get("domain") == wanted.domain
                and command.task["status"] == "SCHEDULED"
            ):
                task = command.task
                del commands[index]
                commands.extend(handle(execution.state, ev.TaskPolled(task["taskId"], wanted.worker_id), now, self.env))
                return task
        return None

    @staticmethod
    def _as_polled(execution: Execution, task: TaskRecord) -> Json:
        """The task as a poll hands it out: Conductor's Task JSON with its `workflowTask`."""
        definition = execution.state.definition
        index = definition._derived.get("api_index")
        if index is None:
            raw = definition._derived.get("json")
            index = definition._derived["api_index"] = definition_index(
                orjson.loads(raw) if raw else definition.to_wire()
            )
        return dict(api_task(public_task(task), index))

    def _start_colocated(self, effects: TurnEffects) -> None:
        """Tasks this shard runs itself start while the turn's checkpoint is written. Their
        results can only be applied by a later turn, after that write; if the write fails,
        a task ran that was never recorded, and runs again when what scheduled it is
        redispatched, as after any crash (at least once, never recorded twice)."""
        for task_type in [t for t in effects.pool_tasks if t in self.colocated_workers]:
            self._send_to_pool(task_type, effects.pool_tasks.pop(task_type))

    def _send_to_pool(self, task_type: str, tasks: list[dict[str, Any]]) -> None:
        # A recovery redispatch and the task's own dispatch timer may both ask for it, and
        # a timer may fire after the pool answered but before the answer was applied.
        fresh = list(
            {t["taskId"]: t for t in tasks if t["taskId"] not in self._in_flight and self._still_waiting(t)}.values()
        )
        if fresh:
            self._in_flight.update({t["taskId"]: self.store.partition(t["workflowInstanceId"]) for t in fresh})
            self._spawn(self._run_on_pool(task_type, fresh))

    def _carry_out(self, effects: TurnEffects) -> None:
        for task_type, tasks in effects.pool_tasks.items():
            self._send_to_pool(task_type, tasks)
        for task, async_complete in effects.http_calls:
            self._in_flight[task["taskId"]] = self.store.partition(task["workflowInstanceId"])
            self._spawn(self._call_http(task, async_complete))
        by_shard: dict[str, list[tuple[str, str, messages.Message]]] = defaultdict(list)
        for addressed in effects.outbound:
            by_shard[self.ownership.owner_of(self.store.partition(addressed[0]))].append(addressed)
        for shard, batch in by_shard.items():
            if shard == self.name or self.peers is None:
                self.accept_messages(batch)
            elif shard:
                self.peers.send_messages(shard, batch)

    def _http_session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=HTTP_CONNECTIONS))
        return self._http

    async def _call_http(self, task: dict[str, Any], async_complete: bool) -> None:
        try:
            result = await http_client.perform(self._http_session(), task, async_complete)
        except Exception as error:  # a bug here must not leave the task waiting forever
            log.exception("%s: HTTP task %s failed", self.name, task["taskId"])
            result = failed_results([task], f"HTTP task failed: {type(error).__name__}: {error}")[0]
        self._post_result(result)

    def _post_result(self, result: dict[str, Any]) -> None:
        """A TaskResult-shaped answer from a pool or an HTTP call, as an event for its workflow."""
        self.notify(
            result["workflowInstanceId"],
            ev.TaskUpdate(
                task_id=result["taskId"],
                status=result["status"],
                output_data=result.get("outputData") or {},
                reason_for_incompletion=result.get("reasonForIncompletion"),
                worker_id=result.get("workerId"),
            ),
        )

    def _still_waiting(self, task: Mapping[str, Any]) -> bool:
        execution = self.executions.get(task["workflowInstanceId"])
        current = execution.state.by_id.get(task["taskId"]) if execution is not None else None
        return current is not None and current["status"] not in TERMINAL_TASK_STATUSES

    def _colocated_function(self, task_type: str) -> WorkerFunction | None:
        """The worker this shard runs itself for `task_type`, if the type asks for that and
        its module imports here (otherwise its pool actors run it)."""
        module = self.colocated_workers.get(task_type)
        if module is None:
            return None
        if task_type not in self._colocated:
            try:
                spec = load_worker_modules([module]).get(task_type)
            except Exception:
                log.exception("%s: cannot import worker module %r; its pool runs %r", self.name, module, task_type)
                spec = None
            self._colocated[task_type] = spec.function if spec is not None else None
        return self._colocated[task_type]

    async def _run_on_pool(self, task_type: str, tasks: list[dict[str, Any]]) -> None:
        try:
            here = self._colocated_function(task_type)
            if here is not None:
                results = await run_here(here, tasks, self.worker_id)
            elif self._call_pool is None:
                raise RuntimeError("this shard has no worker pools")
            else:
                results = await self._call_pool(task_type, tasks)
        except Exception as error:
            results = failed_results(tasks, f"worker pool for {task_type!r} failed: {type(error).__name__}: {error}")
        if task_type in self.concurrency_limited:
            await self.store.release(task_type, [task["taskId"] for task in tasks])
        for result in results:
            self._post_result(result)
