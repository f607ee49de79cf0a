"""The search indexes (the `ix:` keys): what a checkpoint writes to them, and removing an
execution from them. Searching them is cluster/search.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actors.workflow.state import WorkflowState
from cluster.store.encoding import Json, dumps
from cluster.store.keys import Keys

# What search filters and sorts on, one JSON array per execution in this field order;
# the result pages themselves are read from the checkpoints. (A task's summary would
# repeat its record, which every step that changes the task writes anyway.)
WORKFLOW_SUMMARY_FIELDS = ("workflowType", "version", "status", "startTime", "endTime", "correlationId")
WORKFLOW_INDEX_STATUSES = ("RUNNING", "PAUSED", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED")

# One turn's index changes travel as ONE argument of the checkpoint's script (redis-py
# encodes every argument in Python: a command, or even an argument, per change would
# cost the shard more than the changes cost Redis), applied with one call per key. The
# payload is the JSON of `IndexWrites`: [ZREM, ZADD, HSET, HDEL], each {key: [arguments...]},
# applied in that order. Scores are strings (exact).
APPLY_INDEX_WRITES_LUA = """
local function apply_index_writes(payload)
  local writes = cjson.decode(payload)
  local commands = {'ZREM', 'ZADD', 'HSET', 'HDEL'}
  for c = 1, 4 do
    for key, args in pairs(writes[c]) do
      for i = 1, #args, 1000 do
        redis.call(commands[c], key, unpack(args, i, math.min(i + 999, #args)))
      end
    end
  end
end
"""


def _append(group: dict[str, list[str]], key: str, *values: str) -> None:
    found = group.get(key)
    if found is None:
        group[key] = list(values)
    else:
        found.extend(values)


class IndexWrites:
    """One turn's search index changes, grouped by key and command. A member is never both
    removed from and added to one key in a turn, so removals can all go first."""

    __slots__ = ("hdel", "hset", "zadd", "zrem")

    def __init__(self) -> None:
        self.zrem: dict[str, list[str]] = {}
        self.zadd: dict[str, list[str]] = {}  # key -> [score, member, score, member, ...]
        self.hset: dict[str, list[str]] = {}  # key -> [field, value, ...]
        self.hdel: dict[str, list[str]] = {}

    def __bool__(self) -> bool:
        return bool(self.zadd or self.zrem or self.hset or self.hdel)

    def payload(self) -> bytes:
        return dumps([self.zrem, self.zadd, self.hset, self.hdel])


def _workflow_signature(workflow: Mapping[str, Any]) -> tuple[Any, ...]:
    """The fields of an execution its index entries depend on."""
    return (
        workflow["status"],
        workflow.get("startTime") or 0,
        workflow.get("correlationId"),
        workflow.get("workflowVersion"),
    )


@dataclass(slots=True)
class Indexed:
    """What the search indexes hold for one execution in a shard's memory, so a checkpoint
    writes index entries only when the execution's status (start time, correlation id,
    version) or a task's status changed, never for a step that changed neither."""

    signature: tuple[Any, ...] | None = None
    tasks: dict[str, tuple[str, str]] = field(default_factory=dict)  # taskId -> (status, taskType)

    @staticmethod
    def of(state: WorkflowState) -> Indexed:
        """An execution loaded from its checkpoint: the indexes were written with it."""
        return Indexed(
            _workflow_signature(state.workflow), {t["taskId"]: (t["status"], t["taskType"]) for t in state.tasks}
        )


def _unindex(pipe: Any, workflow_id: str, workflow: Json, tasks: list[Json]) -> None:
    """Delete an execution's and its tasks' search index entries."""
    pipe.zrem(Keys.workflow_index_all, workflow_id)
    pipe.zrem(Keys.workflow_index_type(workflow["workflowName"]), workflow_id)
    for status in WORKFLOW_INDEX_STATUSES:
        pipe.zrem(Keys.workflow_index_status(status), workflow_id)
    if workflow.get("correlationId"):
        pipe.zrem(Keys.workflow_index_correlation(workflow["correlationId"]), workflow_id)
    pipe.hdel(Keys.workflow_summaries, workflow_id)
    if not tasks:
        return
    by_key: dict[str, list[str]] = {}
    for task in tasks:
        by_key.setdefault(Keys.task_index_type(task["taskType"]), []).append(task["taskId"])
        by_key.setdefault(Keys.task_index_status(task["status"]), []).append(task["taskId"])
    for key, members in by_key.items():
        pipe.zrem(key, *members)
