"""The data a shard keeps per execution and per turn, and small helpers around it."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from actors import messages
from actors.shard.outcomes import Answer
from actors.workflow import events as ev
from actors.workflow.operators.base import operator_for
from actors.workflow.state import WorkflowState
from cluster.store import Indexed, Timer
from definitions.models import TERMINAL_TASK_STATUSES, TaskDef

# A domain is active while a worker polled it this recently (Conductor's default).
ACTIVE_WORKER_MS = 10_000


def parked(state: WorkflowState) -> bool:
    """Blocked only on tasks that wait for a person, a timer or a child (their operators
    park the execution): it may wait for days, so it leaves memory at once instead of
    after the idle time."""
    waiting = False
    for task in reversed(state.tasks):  # newest first: a running task is usually near the end
        if task["status"] not in TERMINAL_TASK_STATUSES:
            if not operator_for(task["taskType"]).parks_execution:
                return False
            waiting = True
    return waiting


def release_freed_memory() -> None:
    """Give memory freed by passivation back to the OS, so parked workflows cost RSS nowhere."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def now_ms() -> int:
    return int(time.time() * 1000)


def shard_actor_name(index: int) -> str:
    return f"podium-shard-{index}"


@dataclass(slots=True)
class RemoveExecution:
    """Delete the execution with its index entries and its tasks' queue entries
    (Conductor's `/remove`). Its shard does it in a turn, after which nothing of the
    execution is in memory: no later checkpoint can bring it back."""


# What a shard applies to one execution: an event of its state machine, or a removal.
ShardEvent = ev.Event | RemoveExecution


@dataclass(slots=True)
class Envelope:
    workflow_id: str
    event: ShardEvent | None
    reply: asyncio.Future[Answer] | None = None
    message: messages.Message | None = None
    # Where the event came from, cleared in the same checkpoint that records its effect.
    inbox_ack: tuple[int, str] | None = None
    timer: tuple[int, Timer] | None = None


@dataclass(slots=True)
class Execution:
    state: WorkflowState
    partition: int
    last_active: float
    definition_json: bytes | None = None  # set until the first checkpoint stores it
    indexed: Indexed | None = None  # what the search indexes hold (None: not written yet)


@dataclass(slots=True)
class TurnEffects:
    """What one loop turn does after its checkpoint is committed."""

    pool_tasks: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    http_calls: list[tuple[dict[str, Any], bool]] = field(default_factory=list)
    outbound: list[tuple[str, str, messages.Message]] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    # Executions to delete from Redis once the turn is committed (RemoveExecution).
    removed: list[str] = field(default_factory=list)
    # Timers the turn set (partition, due ms): the timer watch learns of them once written.
    timers: list[tuple[int, int]] = field(default_factory=list)


class ShardEnvironment:
    def __init__(self, task_defs: dict[str, TaskDef]) -> None:
        self.task_defs = task_defs
        # (task type, domain) -> the last time a worker polled it, refreshed by the shard.
        self.last_polls: dict[tuple[str, str], int] = {}

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def task_def(self, name: str) -> TaskDef | None:
        return self.task_defs.get(name)

    def active_domain(self, task_type: str, domains: list[str], now: int) -> str | None:
        recent = now - ACTIVE_WORKER_MS
        return next((d for d in domains if self.last_polls.get((task_type, d), 0) >= recent), None)
