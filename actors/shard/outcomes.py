"""What a shard answers for each event it is given (see `ShardCore.deliver`): an `Outcome`,
or `Refused` for a lifecycle operation the execution's state does not allow. Gateways turn
these into HTTP answers in one place (`gateway.errors.raise_for_answer`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from actors.workflow import events as ev


class Outcome(StrEnum):
    # The event changed the execution (or started it).
    OK = "ok"
    # The execution had nothing to do with it (an ended workflow asked to pause, a
    # replayed start, a message already handled).
    IGNORED = "ignored"
    # No such execution.
    NOT_FOUND = "not_found"
    # The execution has no task with the event's id.
    TASK_NOT_FOUND = "task_not_found"
    # The execution's partition is not (or no longer) served here: ask the partition's owner.
    MOVED = "moved"


@dataclass(frozen=True, slots=True)
class Refused:
    """A lifecycle operation refused; nothing changed. `status` is the HTTP status (409 for
    a workflow in the wrong state, 400 for a bad request)."""

    status: int
    message: str

    @classmethod
    def of(cls, rejection: ev.Rejected) -> Refused:
        return cls(rejection.status, rejection.message)


@dataclass(frozen=True, slots=True)
class HandedOver:
    """The result was applied, and the task it scheduled for the same worker is that
    worker's next one (update-v2), already IN_PROGRESS: the task as the API shows it."""

    task: dict[str, Any]


# One event's answer.
Answer = Outcome | Refused | HandedOver
