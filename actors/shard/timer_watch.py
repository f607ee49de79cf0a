"""TimerWatch: which partitions' timer sets a shard has to read at a timer tick.

A partition's timers are written only by the shard that holds its lease, inside that
shard's turns. So once a shard has read a partition's earliest due timer, it knows the
next one until it loses the partition: every timer it arms after that goes through
`armed`. A tick then reads only the partitions with something due, instead of one
sorted set per partition served every 100 ms (which cost a shard about a tenth of its
CPU at rest). A partition the shard takes over, and every partition at each sweep (a
safety net), is read whole again.
"""

from __future__ import annotations

from collections.abc import Iterable

NEVER = 2**63


class TimerWatch:
    def __init__(self) -> None:
        # partition -> earliest due time (ms) of a timer that may be in its set; a lower
        # bound: timers cleared since leave it early, which only costs a read.
        self._next_due: dict[int, int] = {}
        # What turns armed while a read was on its way (the read may predate them).
        self._armed_during_read: dict[int, int] | None = None
        self._reading: set[int] = set()

    def forget(self, partitions: Iterable[int]) -> None:
        """Partitions taken over or lost: read them whole at the next tick."""
        for partition in partitions:
            self._next_due.pop(partition, None)
            self._reading.discard(partition)

    def forget_all(self) -> None:
        self._next_due.clear()
        self._reading.clear()

    def armed(self, partition: int, due_ms: int) -> None:
        """A timer is written (called once its turn's write landed, never before)."""
        if due_ms < self._next_due.get(partition, NEVER):
            self._next_due[partition] = due_ms
        if self._armed_during_read is not None:
            self._armed_during_read[partition] = min(due_ms, self._armed_during_read.get(partition, NEVER))

    def to_read(self, serving: Iterable[int], now_ms: int) -> list[int]:
        """Served partitions whose timer set is unknown or has something due by now."""
        self._armed_during_read = {}
        self._reading = {p for p in serving if self._next_due.get(p, 0) <= now_ms}
        return sorted(self._reading)

    def read(self, next_due: dict[int, int | None], still_due: set[int]) -> None:
        """What a read found: each partition's earliest timer due after the read (None:
        nothing), and the partitions it returned due timers of (read again next tick,
        until their turns clear them)."""
        armed = self._armed_during_read or {}
        self._armed_during_read = None
        for partition, due in next_due.items():
            if partition not in self._reading:
                continue  # lost or taken over again while the read was on its way
            earliest = min(NEVER if due is None else due, armed.get(partition, NEVER))
            self._next_due[partition] = 0 if partition in still_due else earliest
        self._reading = set()
