"""What a chaos run lost, ran twice or broke: a pure reading of what the run recorded.

Inputs: the workflows started (with the time each start was acknowledged), the faults
injected, every started workflow as read back at the end (None for a 404), and the
workers' execution counts. The run passes when nothing is lost, stuck or broken, no
workflow FAILED, and every task that ran more than once ran again after a fault.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chaos.counts import Execution

# Every task of the reference workflow (bench/workflows.py), as a completed execution lists them.
EXPECTED_REFERENCES = frozenset(
    {f"step_{n}" for n in range(1, 7)}
    | {"fork", "branch_a", "branch_b", "join", "route", "note", "remember", "child", "summarise"}
)
WORKER_REFERENCES = frozenset({f"step_{n}" for n in range(1, 7)} | {"branch_a", "branch_b"})
# A task that ran again within this long before a fault still ran again because of it
# (the first run's result was on its way when the process died).
FAULT_SLACK_SECONDS = 2.0


@dataclass(frozen=True)
class Started:
    key: str  # the client's correlation id and idempotency key
    workflow_id: str
    kind: str  # "python" or "external"
    at: float


@dataclass
class Fault:
    kind: str
    at: float
    target: str
    partitions: frozenset[int] | None = None  # None: every partition
    ended_at: float = 0.0


@dataclass
class Verdict:
    started: int = 0
    completed: int = 0
    failed: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    ran_twice: int = 0
    ran_twice_after_a_fault: int = 0
    ran_twice_unexplained: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    recovery: dict[str, dict[str, float | int | None]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        lost = self.failed or self.stuck or self.missing or self.broken or self.ran_twice_unexplained
        return not lost and self.started > 0 and self.completed == self.started

    def as_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "started": self.started,
            "completed": self.completed,
            "failed": len(self.failed),
            "stuck": len(self.stuck),
            "missing": len(self.missing),
            "taskExecutionsRunTwice": self.ran_twice,
            "runTwiceAfterAFault": self.ran_twice_after_a_fault,
            "runTwiceUnexplained": len(self.ran_twice_unexplained),
            "brokenTransitions": len(self.broken),
            "faults": self.faults,
            "recoveryMs": self.recovery,
            "examples": {
                "failed": self.failed[:5],
                "stuck": self.stuck[:5],
                "missing": self.missing[:5],
                "runTwiceUnexplained": self.ran_twice_unexplained[:5],
                "broken": self.broken[:5],
            },
        }


def broken_transitions(workflow: dict[str, Any]) -> str | None:
    """Why a COMPLETED reference workflow's task list is not one clean run, or None."""
    seen: Counter[tuple[str, int]] = Counter(
        (task["referenceTaskName"], task.get("retryCount", 0)) for task in workflow.get("tasks", [])
    )
    duplicated = sorted(ref for (ref, _), n in seen.items() if n > 1)
    if duplicated:
        return f"tasks listed twice: {duplicated}"
    missing = sorted(EXPECTED_REFERENCES - {ref for ref, _ in seen})
    if missing:
        return f"tasks never run: {missing}"
    unfinished = sorted(
        t["referenceTaskName"]
        for t in workflow["tasks"]
        if t["status"] not in ("COMPLETED", "SKIPPED")
        and t["referenceTaskName"] in EXPECTED_REFERENCES
        and not _retried(workflow, t)
    )
    if unfinished:
        return f"tasks not completed: {unfinished}"
    return None


def _retried(workflow: dict[str, Any], task: dict[str, Any]) -> bool:
    return any(
        other["referenceTaskName"] == task["referenceTaskName"]
        and other.get("retryCount", 0) > task.get("retryCount", 0)
        for other in workflow["tasks"]
    )


def _explained(times: list[float], faults: list[Fault]) -> bool:
    """Whether a fault was under way between the first run and the last (a pause lasts
    from its start to its end; a kill is an instant)."""
    first, last = min(times), max(times)
    return any(
        fault.at <= last and max(fault.at, fault.ended_at) >= first - FAULT_SLACK_SECONDS for fault in faults
    )


def _unexplained(execution: Execution, times: list[float], faults: list[Fault]) -> str:
    """What to look at: when it ran, and the faults nearest to its first run."""
    first = min(times)
    nearest = sorted(faults, key=lambda fault: abs(fault.at - first))[:2]
    runs = ", ".join(f"{t - first:+.3f} s" for t in sorted(times))
    near = "; ".join(f"{fault.kind} at {fault.at - first:+.3f} s" for fault in nearest) or "no fault"
    return f"{execution} ran {len(times)} times (at {runs}); nearest faults: {near}"


def _recovery(faults: list[Fault], completions: list[tuple[float, int]]) -> dict[str, dict[str, float | int | None]]:
    """Per fault kind: from the fault to the next workflow of an affected partition that
    completed (milliseconds)."""
    by_kind: dict[str, list[float]] = defaultdict(list)
    unrecovered: Counter[str] = Counter()
    ordered = sorted(completions)
    for fault in faults:
        following = next(
            (
                end
                for end, partition in ordered
                if end > fault.at and (fault.partitions is None or partition in fault.partitions)
            ),
            None,
        )
        if following is None:
            unrecovered[fault.kind] += 1
        else:
            by_kind[fault.kind].append((following - fault.at) * 1000)
    kinds = sorted({fault.kind for fault in faults})
    return {
        kind: {
            "faults": len(by_kind[kind]) + unrecovered[kind],
            "medianMs": statistics.median(by_kind[kind]) if by_kind[kind] else None,
            "maxMs": max(by_kind[kind]) if by_kind[kind] else None,
            "notRecovered": unrecovered[kind],
        }
        for kind in kinds
    }


def judge(
    started: list[Started],
    faults: list[Fault],
    final: dict[str, dict[str, Any] | None],
    counts: Counter[Execution],
    times: dict[Execution, list[float]],
    partition_of: Callable[[str], int],
) -> Verdict:
    verdict = Verdict(started=len(started), faults=dict(Counter(fault.kind for fault in faults)))
    completions: list[tuple[float, int]] = []
    ours: set[str] = set()
    for start in started:
        workflow = final.get(start.workflow_id)
        ours.add(start.workflow_id)
        if workflow is None:
            verdict.missing.append(start.workflow_id)
            continue
        status = workflow["status"]
        if status == "COMPLETED":
            verdict.completed += 1
            completions.append((workflow["endTime"] / 1000, partition_of(start.workflow_id)))
            child = next((t for t in workflow["tasks"] if t["referenceTaskName"] == "child"), None)
            if child is not None and child.get("subWorkflowId"):
                ours.add(child["subWorkflowId"])
            why = broken_transitions(workflow)
            if why is not None:
                verdict.broken.append(f"{start.workflow_id}: {why}")
        elif status in ("RUNNING", "PAUSED"):
            verdict.stuck.append(start.workflow_id)
        else:
            verdict.failed.append(f"{start.workflow_id} {status}: {workflow.get('reasonForIncompletion')}")
    for execution, count in counts.items():
        if count < 2 or execution[0] not in ours:
            continue
        verdict.ran_twice += 1
        if _explained(times[execution], faults):
            verdict.ran_twice_after_a_fault += 1
        else:
            verdict.ran_twice_unexplained.append(_unexplained(execution, times[execution], faults))
    verdict.recovery = _recovery(faults, completions)
    return verdict


def table(verdict: Verdict) -> str:
    """The verdict as the markdown table docs/reliability.md carries."""
    data = verdict.as_json()
    rows = [
        ("started", data["started"]),
        ("completed", data["completed"]),
        ("failed", data["failed"]),
        ("stuck (not ended after the drain)", data["stuck"]),
        ("missing (404)", data["missing"]),
        ("task executions run twice", data["taskExecutionsRunTwice"]),
        ("... of them after a fault", data["runTwiceAfterAFault"]),
        ("executions with a duplicated or lost transition", data["brokenTransitions"]),
    ]
    lines = ["| figure | value |", "| --- | --- |", *(f"| {name} | {value} |" for name, value in rows)]
    lines += [
        "",
        "| fault | injected | recovery p50 | recovery max | not recovered |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind, found in data["recoveryMs"].items():
        median = "-" if found["medianMs"] is None else f"{found['medianMs']:.0f} ms"
        worst = "-" if found["maxMs"] is None else f"{found['maxMs']:.0f} ms"
        lines.append(f"| {kind} | {found['faults']} | {median} | {worst} | {found['notRecovered']} |")
    lines += ["", f"**{'PASSED' if verdict.passed else 'FAILED'}**"]
    return "\n".join(lines)
