"""Each worker's record of what it ran, kept where no fault reaches: one append-only file
per worker process in the run's directory, a line per execution, written before the
result is reported (so a worker killed after running a task has still counted it)."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

COUNTS_DIR_VARIABLE = "PODIUM_CHAOS_COUNTS"


def record(workflow_id: str, reference: str, retry_count: int) -> None:
    directory = os.environ.get(COUNTS_DIR_VARIABLE)
    if not directory:
        return
    line = f"{workflow_id} {reference} {retry_count} {time.time():.3f}\n"
    # O_APPEND writes of one short line land whole even with several writers.
    fd = os.open(Path(directory) / f"{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


Execution = tuple[str, str, int]


def read(directory: Path) -> tuple[Counter[Execution], dict[Execution, list[float]]]:
    """How many times each (workflowId, taskReferenceName, retryCount) ran, and when."""
    counts: Counter[Execution] = Counter()
    times: dict[Execution, list[float]] = {}
    for path in directory.glob("*.log"):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 4:
                continue  # a line cut by a kill mid-write
            key = (parts[0], parts[1], int(parts[2]))
            counts[key] += 1
            times.setdefault(key, []).append(float(parts[3]))
    return counts, times
