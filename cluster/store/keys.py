"""Every Redis key Podium uses, and the only code that spells the key names.

Layout (all keys start with `podium:`):

| key | type | holds |
|---|---|---|
| `meta:wf:{name}` | hash version -> WorkflowDef JSON | workflow definitions |
| `meta:wfnames` | set | names with at least one version |
| `meta:task` | hash name -> TaskDef JSON | task definitions |
| `defs` | hash digest -> WorkflowDef JSON | the definitions executions run, stored once each |
| `{pN}:wf:{id}` | hash `meta`, `def` (digest), `t:{taskId}` | one execution's checkpoint |
| `{pN}:running` | set of ids | executions to recover in partition N |
| `{pN}:timers` | zset `id|taskId|kind` by due ms | durable timers of partition N |
| `{pN}:inbox` | hash message id -> event | messages between executions |
| `{pN}:lease` | hash `holder`, `epoch`, `until`, `clean` | who owns partition N (cluster/leases.py) |
| `{pN}:outbox` | list of JSON write lists | on a Redis Cluster, writes outside the slot until applied (outbox.py) |
| `shards` | hash shard name -> JSON `{node, pid, beat}` | the shard registry: heartbeats of every shard |
| `draining` | set of shard names | shards being retired: they hand their partitions over |
| `queue-ready` | pub/sub channel | the queue key of each queue a turn made tasks ready in (wakes long polls) |
| `taskwf` | hash taskId -> workflowId | finding a task by its id |
| `queue:{q:<type>}[:<domain>]` | zset taskId by priority rank, then enqueue ms | tasks ready for external workers |
| `queuedelay:{q:<type>}[:<domain>]` | zset taskId by visible-at ms | tasks waiting out a delay (then made ready) |
| `queued:{q:<type>}[:<domain>]` | hash taskId -> Task JSON | what a poll hands out (kept until its poll is recorded) |
| `queueunack:{q:<type>}[:<domain>]` | zset taskId by ms | handed out, poll not recorded yet: ready again then |
| `running:{name}` | set of ids | RUNNING/PAUSED executions of a workflow |
| `corr:{name}:{correlationId}` | set of ids | executions by correlation id |
| `poolqueue:{q:<type>}` | zset, like `queue:` | limited Python pool tasks waiting for a slot (any shard feeds them) |
| `poolqueuedelay:{q:<type>}` | zset, like `queuedelay:` | pool tasks waiting out a delay |
| `poolqueued:{q:<type>}` | hash, like `queued:` | what a pool poll hands out |
| `poolqueueunack:{q:<type>}` | zset, like `queueunack:` | pool tasks handed out whose result has not been recorded |
| `inflight:{q:<type>}` | set of task ids | tasks handed out and not ended (concurrentExecLimit) |
| `ratewin:{q:<type>}` | zset taskId by hand-out ms | hand-outs within the rate window (rateLimitPerFrequency) |
| `idem:{name}:{key}` | string workflow id | the execution an idempotencyKey started |
| `log:{taskId}` | list | task execution logs |
| `polldata:{type}` | hash worker -> JSON | last poll per worker |
| `pools` | hash type -> pool size | task types served by Python actor pools |
| `pools:colocated` | hash type -> module | those of them each shard runs in its own process too |
| `cluster` | hash | settings fixed at creation (`partitions`) |
| `events` | stream of `{event, payload, id}` | the event bus: EVENT task messages and events posted to the API |
| `brokers:outbox` | stream like `events` | EVENT messages for a broker sink, until a gateway publishes them |
| `meta:eventhandlers` | hash name -> EventHandler JSON | event handlers |
| `{sched}:defs` | hash name -> WorkflowSchedule JSON | workflow schedules (cluster/store/schedules.py) |
| `{sched}:timers` | zset name by next fire ms | each active schedule's durable timer (claimed: its claim's end) |
| `{sched}:firing` | hash name -> fire ms | schedules a gateway claimed and is firing, and the fire time |
| `{sched}:runs:<name>` | zset executionId by scheduled ms | the fires of one schedule, for search |
| `{sched}:run` | hash executionId -> JSON | one record per fire (WorkflowScheduleExecutionModel) |
| `{sched}:runnames` | set | schedules with fire records (deleted ones included) |
| `{ix}:wf:all` | zset id by startTime | every execution, for search (cluster/search.py) |
| `{ix}:wf:type:<name>` | zset id by startTime | executions of one workflow type |
| `{ix}:wf:status:<status>` | zset id by startTime | executions in one status |
| `{ix}:wf:corr:<correlationId>` | zset id by startTime | executions with one correlation id (any type) |
| `{ix}:wf:sum` | hash id -> JSON array (`WORKFLOW_SUMMARY_FIELDS`, indexes.py) | what search filters and sorts on |
| `{ix}:task:type:<type>` | zset taskId by updateTime (of its last status change) | tasks of one task type, for search |
| `{ix}:task:status:<status>` | zset taskId by updateTime | tasks in one status |
| `{ix}:tmp:<token>` | zset | a search's scratch set, deleted in the transaction that makes it |
| `auth:keys` | hash key id -> JSON `{id, name, role, hash, createTime}` | application keys (secrets salted, hashed) |
| `auth:tokensecret` | string | the key that signs API tokens, when `PODIUM_TOKEN_SECRET` is unset |
| `auth:fail:addr:<address>`, `auth:fail:key:<id>` | counter, expires | failed `POST /api/token` attempts |

The `{ix}:` entries change only when an execution's status (or start time, correlation id,
version) or a task's status changes, with the checkpoint that made
the change; the scores of one member are equal in every index it is in. Tasks have no
`all` set (every task is in exactly one status set) and no summary (their records in
`{pN}:wf:{id}` serve).

`{pN}`, `{q:<type>}`, `{ix}` and `{sched}` are Redis Cluster hash tags: every key of one
partition, of one task type's queues, of the search indexes and of the schedules lives in
one slot. Keys written before the tags existed (`queue:<domain>:<type>`, `ix:...`) are renamed at start
(`cluster/store/layout.py`).
"""

from __future__ import annotations

import zlib

PREFIX = "podium:"


def partition_of(workflow_id: str, partitions: int) -> int:
    """A stable hash: the same id lands in the same partition on every node and run."""
    return zlib.crc32(workflow_id.encode()) % partitions


class Keys:
    @staticmethod
    def workflow_def(name: str) -> str:
        return f"{PREFIX}meta:wf:{name}"

    workflow_names = f"{PREFIX}meta:wfnames"
    task_defs = f"{PREFIX}meta:task"
    definitions = f"{PREFIX}defs"
    task_workflow = f"{PREFIX}taskwf"
    pools = f"{PREFIX}pools"
    colocated_workers = f"{PREFIX}pools:colocated"
    cluster = f"{PREFIX}cluster"
    events = f"{PREFIX}events"
    broker_outbox = f"{PREFIX}brokers:outbox"
    event_handlers = f"{PREFIX}meta:eventhandlers"
    auth_keys = f"{PREFIX}auth:keys"
    auth_token_secret = f"{PREFIX}auth:tokensecret"

    @staticmethod
    def auth_failures(kind: str, who: str) -> str:
        return f"{PREFIX}auth:fail:{kind}:{who}"

    @staticmethod
    def _in_partition(partition: int, rest: str) -> str:
        # The one place the hash tag is written: every key of a partition shares it.
        return f"{PREFIX}{{p{partition}}}:{rest}"

    @staticmethod
    def execution(partition: int, workflow_id: str) -> str:
        return Keys._in_partition(partition, f"wf:{workflow_id}")

    @staticmethod
    def partition_running(partition: int) -> str:
        return Keys._in_partition(partition, "running")

    @staticmethod
    def timers(partition: int) -> str:
        return Keys._in_partition(partition, "timers")

    @staticmethod
    def inbox(partition: int) -> str:
        return Keys._in_partition(partition, "inbox")

    @staticmethod
    def _queue_tag(task_type: str) -> str:
        # Every key of a task type's queues shares this hash tag: a poll's script (ready,
        # delayed, payloads, in flight, rate window) stays in one slot on a Redis Cluster,
        # and the types spread over the cluster.
        return f"{{q:{task_type}}}"

    @staticmethod
    def queue(task_type: str, domain: str | None = None) -> str:
        tag = Keys._queue_tag(task_type)
        return f"{PREFIX}queue:{tag}:{domain}" if domain else f"{PREFIX}queue:{tag}"

    @staticmethod
    def queue_name(queue_key: str) -> tuple[str, str | None] | None:
        """(task type, domain) of a `queue:` or `queuedelay:` key; None for other keys."""
        for kind in ("queue", "queuedelay"):
            marker = f"{PREFIX}{kind}:{{q:"
            if queue_key.startswith(marker):
                task_type, _, domain = queue_key[len(marker) :].partition("}")
                return task_type, domain[1:] or None
        return None

    @staticmethod
    def _beside_queue(queue_key: str, suffix: str) -> str:
        """A key kept beside a queue (`queue:` or `poolqueue:`), in its hash slot:
        `queue<suffix>:...`."""
        for kind in ("queue", "poolqueue"):
            marker = f"{PREFIX}{kind}:"
            if queue_key.startswith(marker):
                return f"{PREFIX}{kind}{suffix}:{queue_key[len(marker) :]}"
        raise ValueError(f"not a queue key: {queue_key}")

    @staticmethod
    def queue_delayed(queue_key: str) -> str:
        return Keys._beside_queue(queue_key, "delay")

    @staticmethod
    def queue_unacked(queue_key: str) -> str:
        return Keys._beside_queue(queue_key, "unack")

    @staticmethod
    def queue_tasks(queue_key: str) -> str:
        # A prefix of its own, so no task type or domain can make it collide with a queue.
        if queue_key.startswith(f"{PREFIX}poolqueue:"):
            return queue_key.replace(f"{PREFIX}poolqueue:", f"{PREFIX}poolqueued:", 1)
        return queue_key.replace(f"{PREFIX}queue:", f"{PREFIX}queued:", 1)

    @staticmethod
    def pool_queue(task_type: str) -> str:
        return f"{PREFIX}poolqueue:{Keys._queue_tag(task_type)}"

    @staticmethod
    def lease(partition: int) -> str:
        return Keys._in_partition(partition, "lease")

    @staticmethod
    def outbox(partition: int) -> str:
        return Keys._in_partition(partition, "outbox")

    shard_registry = f"{PREFIX}shards"
    # A pub/sub channel, not a key: each message names a queue that just got ready tasks.
    queue_ready_channel = f"{PREFIX}queue-ready"
    draining_shards = f"{PREFIX}draining"

    @staticmethod
    def in_flight(task_type: str) -> str:
        return f"{PREFIX}inflight:{Keys._queue_tag(task_type)}"

    @staticmethod
    def rate_window(task_type: str) -> str:
        return f"{PREFIX}ratewin:{Keys._queue_tag(task_type)}"

    @staticmethod
    def running(name: str) -> str:
        return f"{PREFIX}running:{name}"

    @staticmethod
    def correlated(name: str, correlation_id: str) -> str:
        return f"{PREFIX}corr:{name}:{correlation_id}"

    @staticmethod
    def idempotency(name: str, key: str) -> str:
        return f"{PREFIX}idem:{name}:{key}"

    @staticmethod
    def task_log(task_id: str) -> str:
        return f"{PREFIX}log:{task_id}"

    @staticmethod
    def poll_data(task_type: str) -> str:
        return f"{PREFIX}polldata:{task_type}"

    # -- schedules: one hash tag, so the scripts that claim and advance them stay in one slot --

    SCHEDULES = f"{PREFIX}{{sched}}:"
    schedules = f"{SCHEDULES}defs"
    schedule_timers = f"{SCHEDULES}timers"
    schedules_firing = f"{SCHEDULES}firing"
    schedule_runs = f"{SCHEDULES}run"
    schedule_run_names = f"{SCHEDULES}runnames"

    @staticmethod
    def schedule_runs_of(name: str) -> str:
        return f"{Keys.SCHEDULES}runs:{name}"

    # -- search indexes (the `ix:` keys) --
    # One hash tag for all of them: a search intersects and unions them in one command.

    INDEX = f"{PREFIX}{{ix}}:"
    workflow_index_all = f"{INDEX}wf:all"
    workflow_summaries = f"{INDEX}wf:sum"

    @staticmethod
    def workflow_index_type(name: str) -> str:
        return f"{Keys.INDEX}wf:type:{name}"

    @staticmethod
    def workflow_index_status(status: str) -> str:
        return f"{Keys.INDEX}wf:status:{status}"

    @staticmethod
    def workflow_index_correlation(correlation_id: str) -> str:
        return f"{Keys.INDEX}wf:corr:{correlation_id}"

    @staticmethod
    def task_index_type(task_type: str) -> str:
        return f"{Keys.INDEX}task:type:{task_type}"

    @staticmethod
    def task_index_status(status: str) -> str:
        return f"{Keys.INDEX}task:status:{status}"

    @staticmethod
    def search_scratch(token: str) -> str:
        return f"{Keys.INDEX}tmp:{token}"
