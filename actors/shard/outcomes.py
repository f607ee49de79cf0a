"""What a shard answers for each event it is given (see `ShardCore.deliver`)."""

from __future__ import annotations

from actors.workflow import events as ev

# Results of `deliver`, one per event.
OK, NOT_FOUND, TASK_NOT_FOUND, IGNORED = "ok", "not_found", "task_not_found", "ignored"
# The execution's partition is not (or no longer) served here: ask the partition's owner.
MOVED = "moved"
REJECTED_PREFIX = "rejected:"


def rejected_outcome(rejection: ev.Rejected) -> str:
    """A refused lifecycle operation travels back as `rejected:{status}:{message}`."""
    return f"{REJECTED_PREFIX}{rejection.status}:{rejection.message}"


def parse_rejection(outcome: str) -> tuple[int, str] | None:
    """(HTTP status, message) of a refused operation, or None for any other outcome."""
    if not outcome.startswith(REJECTED_PREFIX):
        return None
    status, _, message = outcome[len(REJECTED_PREFIX) :].partition(":")
    return int(status), message
