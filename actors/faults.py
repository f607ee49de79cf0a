"""Which Ray errors mean a process or node went away, as opposed to an error raised by
Podium's or a worker's own code: the first are retried elsewhere or later, never turned
into a task failure or an HTTP 500."""

from __future__ import annotations

import ray

from actors.stream import ChannelLost

PROCESS_LOSS: tuple[type[BaseException], ...] = (
    ray.exceptions.RayActorError,  # died, or unavailable while Ray restarts it
    ray.exceptions.ActorUnschedulableError,  # pinned to a node that is gone
    ray.exceptions.NodeDiedError,
    ray.exceptions.OwnerDiedError,
    ChannelLost,  # a stream to an actor closed: its process went away
)


def is_process_loss(error: BaseException) -> bool:
    return isinstance(error, PROCESS_LOSS)
