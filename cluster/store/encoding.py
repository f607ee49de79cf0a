"""The encodings every part of the store shares: JSON, definition digests, queue scores,
timer members, and an execution's checkpoint hash read back (for its shard, and as
Conductor's API shows it)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from actors.workflow.state import TaskRecord, WorkflowRecord
from actors.workflow.task_view import api_task, definition_index

Json = dict[str, Any]


def ready_score(priority: Any, enqueued_ms: int) -> int:
    """Ready tasks go out by priority (1 first, 99 last, 0 or none after them, as Orkes
    documents it), then oldest first."""
    rank = priority if isinstance(priority, int) and 1 <= priority <= 99 else 100
    return rank * 10**13 + enqueued_ms


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def definition_digest(definition_json: bytes) -> bytes:
    """Executions of one definition share its stored JSON: the checkpoint holds this key."""
    return hashlib.blake2b(definition_json, digest_size=16).hexdigest().encode()


class Timer(NamedTuple):
    """A durable timer of one task: a timeout, a WAIT's end, a delayed dispatch (`kind`)."""

    workflow_id: str
    task_id: str
    kind: str

    def member(self) -> str:
        """Its member in the partition's timer set (scored by when it is due)."""
        return f"{self.workflow_id}|{self.task_id}|{self.kind}"

    @classmethod
    def of_member(cls, member: bytes | str) -> Timer:
        text = member.decode() if isinstance(member, bytes) else member
        workflow_id, task_id, kind = text.split("|", 2)
        return cls(workflow_id, task_id, kind)


@dataclass(frozen=True, slots=True)
class StoredExecution:
    """An execution's checkpoint as its shard reads it back."""

    workflow: WorkflowRecord
    tasks: list[TaskRecord]
    # The key of its definition's JSON (stored once per distinct definition).
    definition_digest: bytes


def stored_execution(raw: dict[bytes, bytes]) -> StoredExecution:
    tasks = [orjson.loads(value) for key, value in raw.items() if key.startswith(b"t:")]
    return StoredExecution(orjson.loads(raw[b"meta"]), tasks, raw[b"def"])


def execution_json(raw: dict[bytes, bytes], include_tasks: bool) -> Json:
    workflow: Json = orjson.loads(raw[b"meta"])
    definition = raw.get(b"def")
    if definition:
        workflow["workflowDefinition"] = orjson.loads(definition)
    if include_tasks:
        tasks = [orjson.loads(v) for k, v in raw.items() if k.startswith(b"t:")]
        tasks.sort(key=lambda t: t["seq"])
        index = definition_index(workflow.get("workflowDefinition"))
        workflow["tasks"] = [api_task(t, index) for t in tasks]
    return workflow
