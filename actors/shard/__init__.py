"""WorkflowShard: a Ray actor hosting many workflow executions as virtual actors.

Each execution is activated from Redis on its first event, handled one event at a
time, and passivated (dropped from memory) when it ends or idles. The shard runs one
loop: it takes every event that arrived since its last turn, applies each to its
execution's state machine, writes all their checkpoints, queue pushes, timers and
messages in ONE Redis transaction, and only then answers callers and carries out the
side effects (Python pool dispatch, messages to other shards).

A turn, in `core.ShardCore._loop` / `_turn`:
  1. take the arrivals (events, timers, messages); `_admit` keeps those of partitions served
     here (Outcome.MOVED otherwise);
  2. activate missing executions from their checkpoints (`activation`);
  3. apply each event to its state machine; `_translate` turns commands into writes;
  4. commit the checkpoint, fenced by the partition leases (`partitions._fenced` if refused);
  5. answer callers, passivate ended or parked executions, `_carry_out` effects (`dispatch`).

Modules:
  outcomes     what `deliver` answers per event (an Outcome, or Refused)
  execution    Envelope, Execution, TurnEffects, ShardEnvironment and small helpers
  base         ShardBase: the fields every part of ShardCore shares
  partitions   PartitionOwner: leases, take-over, hand-over, admission, fencing
  activation   Activation: loading executions and definitions on demand
  inbox        MessageHandler: messages between executions as events
  dispatch     Dispatcher: pool and HTTP calls and outbound messages after the commit
  background   BackgroundLoops: timers, limited pools, poll data, the idle sweep
  core         ShardCore: entry points and the turn loop
  actor        WorkflowShard: the Ray actor around ShardCore
"""

from actors.shard.actor import POOL_REDISPATCH_SECONDS, WorkflowShard
from actors.shard.background import (
    POLL_DATA_INTERVAL,
    POOL_FEED_BATCH,
    SWEEP_INTERVAL,
    TIMER_INTERVAL,
)
from actors.shard.base import DEFAULT_LEASE_MS, Peers, PoolCall
from actors.shard.core import DISPATCH_TIMER, ShardCore
from actors.shard.dispatch import HTTP_CONNECTIONS, failed_results
from actors.shard.execution import (
    ACTIVE_WORKER_MS,
    Envelope,
    Execution,
    RemoveExecution,
    ShardEnvironment,
    ShardEvent,
    TurnEffects,
    now_ms,
    parked,
    release_freed_memory,
    shard_actor_name,
)
from actors.shard.outcomes import Answer, HandedOver, Outcome, Refused

__all__ = [
    "ACTIVE_WORKER_MS",
    "DEFAULT_LEASE_MS",
    "DISPATCH_TIMER",
    "HTTP_CONNECTIONS",
    "POLL_DATA_INTERVAL",
    "POOL_FEED_BATCH",
    "POOL_REDISPATCH_SECONDS",
    "SWEEP_INTERVAL",
    "TIMER_INTERVAL",
    "Answer",
    "Envelope",
    "Execution",
    "HandedOver",
    "Outcome",
    "Peers",
    "PoolCall",
    "Refused",
    "RemoveExecution",
    "ShardCore",
    "ShardEnvironment",
    "ShardEvent",
    "TurnEffects",
    "WorkflowShard",
    "failed_results",
    "now_ms",
    "parked",
    "release_freed_memory",
    "shard_actor_name",
]
