"""ShardBase: the state every part of `ShardCore` shares.

`ShardCore` is assembled from mixins, one per concern (partitions, activation, inbox,
dispatch, background loops); each inherits this class, so it sees the shard's fields,
and the methods one part calls on another are declared here for the type checker.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

from actors import messages
from actors.metrics import Metrics, NoMetrics
from actors.ownership import Ownership
from actors.shard.execution import Envelope, Execution, ShardEnvironment, ShardEvent, shard_actor_name
from actors.shard.timer_watch import TimerWatch
from actors.tracing import ExecutionTracer
from actors.workers import WorkerFunction
from actors.workflow import events as ev
from cluster.leases import LeaseStore
from cluster.store import Store, StoredExecution, Timer
from definitions.models import TaskDef, WorkflowDef

PoolCall = Callable[[str, list[dict[str, Any]]], Awaitable[list[dict[str, Any]]]]


class Peers(Protocol):
    """The other shards, by name; every call is fire and forget."""

    def send_messages(self, shard: str, batch: list[tuple[str, str, messages.Message]], hops: int = 0) -> None:
        """Messages already in the receiver partition's inbox in Redis: this only hurries them."""

    def forward(self, shard: str, events: list[tuple[str, ShardEvent]]) -> None:
        """Results for executions of a partition that moved to `shard`."""

    def nudge(self, shard: str) -> None:
        """Ask `shard` to look at the leases now: a partition it wants was just released."""


DEFAULT_LEASE_MS = 10_000
# How long an execution with nothing to do stays in memory (Settings.idle_seconds).
DEFAULT_IDLE_SECONDS = 30.0


class ShardBase:
    """The shard's fields (see `ShardCore`)."""

    def __init__(
        self,
        index: int,
        store: Store,
        call_pool: PoolCall | None = None,
        peers: Peers | None = None,
        metrics: Metrics | None = None,
        tracer: ExecutionTracer | None = None,
        lease_ms: int = DEFAULT_LEASE_MS,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ) -> None:
        self.index = index
        self.idle_seconds = idle_seconds
        self.name = shard_actor_name(index)
        # The workerId of the tasks this shard runs itself (colocated workers).
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{self.name}"
        self.metrics: Metrics = metrics or NoMetrics()
        self.tracer = tracer
        self.store = store
        self.ownership = Ownership(self.name, LeaseStore(store.redis, store.partitions, store.cluster), lease_ms)
        self.peers = peers
        # Partitions acquired lately -> until when their inbox is read at every lease tick:
        # a sender with an older view of the owners may have hurried a message elsewhere.
        self._fresh: dict[int, float] = {}
        # Serialises turns and ownership changes: a partition changes hands between turns.
        self._turn_lock = asyncio.Lock()
        self._rebalancing = asyncio.Lock()
        self.fenced_turns = 0
        self.resyncs = 0  # partitions recovered because Redis lost writes
        self.executions: dict[str, Execution] = {}
        # Events, fired timers and messages waiting for the next turn (in memory; the
        # durable inbox of messages between executions is per partition, in Redis).
        self.arrivals: list[Envelope] = []
        self.task_defs: dict[str, TaskDef] = {}
        self.env = ShardEnvironment(self.task_defs)
        self.pool_types: dict[str, int] = {}
        # Types whose worker runs in this process too: type -> its module.
        self.colocated_workers: dict[str, str] = {}
        # Each colocated type's function once imported here (None: its module did not import).
        self._colocated: dict[str, WorkerFunction | None] = {}
        # Task types with a rate or concurrency limit; their Python pool tasks wait in a
        # Redis queue of the type, fed by every shard, until the limit gives them a slot.
        self.limited_types: set[str] = set()
        self.concurrency_limited: set[str] = set()
        self._call_pool = call_pool
        self._definitions: dict[bytes, WorkflowDef] = {}
        self._by_digest: dict[bytes, WorkflowDef] = {}
        self._wake = asyncio.Event()
        self._timers_in_flight: set[Timer] = set()
        self.timer_watch = TimerWatch()
        self._messages_in_flight: set[str] = set()
        # Tasks handed to a Python pool or an HTTP call whose result has not been applied
        # yet -> their partition (a partition is handed over once none is left).
        self._in_flight: dict[str, int] = {}
        self._http: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._started = False
        self.steps = 0

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    if TYPE_CHECKING:
        # Defined by the other parts of ShardCore; declared here so that each part type-checks.

        def notify(self, workflow_id: str, event: ev.Event) -> None: ...

        def submit_message(self, message_id: str, message: messages.Message, partition: int) -> None: ...

        def accept_messages(self, batch: list[tuple[str, str, messages.Message]]) -> None: ...

        async def refresh_metadata(self) -> None: ...

        def _release(self, envelope: Envelope) -> None: ...

        async def _redeliver_inbox(self, partitions: list[int] | None = None) -> None: ...

        async def _load(self, workflow_ids: list[str]) -> list[tuple[str, StoredExecution, WorkflowDef]]: ...

        def _activate(self, workflow_id: str, stored: StoredExecution, definition: WorkflowDef) -> Execution: ...

        def _definition(self, raw: bytes | dict[str, Any]) -> WorkflowDef: ...

        async def _run_on_pool(self, task_type: str, tasks: list[dict[str, Any]]) -> None: ...
