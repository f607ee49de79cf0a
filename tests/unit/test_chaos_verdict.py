"""chaos/verdict.py: what a chaos run counts as lost, stuck, broken or run twice."""

from __future__ import annotations

from collections import Counter
from typing import Any

from chaos.verdict import EXPECTED_REFERENCES, Fault, Started, broken_transitions, judge


def completed(workflow_id: str, end_ms: int, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    tasks = [{"referenceTaskName": ref, "retryCount": 0, "status": "COMPLETED"} for ref in sorted(EXPECTED_REFERENCES)]
    return {"workflowId": workflow_id, "status": "COMPLETED", "endTime": end_ms, "tasks": tasks + (extra or [])}


def verdict_of(final: dict[str, Any], faults: list[Fault] | None = None, runs: dict[Any, list[float]] | None = None):
    started = [Started(f"k{n}", workflow_id, "python", 0.0) for n, workflow_id in enumerate(final)]
    times = runs or {}
    counts = Counter({key: len(at) for key, at in times.items()})
    return judge(started, faults or [], final, counts, times, lambda workflow_id: int(workflow_id[-1]))


def test_a_clean_run_passes() -> None:
    verdict = verdict_of({"w1": completed("w1", 5000), "w2": completed("w2", 6000)})
    assert verdict.passed and verdict.completed == 2


def test_a_404_is_missing_and_fails_the_run() -> None:
    verdict = verdict_of({"w1": completed("w1", 5000), "w2": None})
    assert verdict.missing == ["w2"] and not verdict.passed


def test_a_running_workflow_after_the_drain_is_stuck() -> None:
    verdict = verdict_of({"w1": {"status": "RUNNING", "tasks": []}})
    assert verdict.stuck == ["w1"] and not verdict.passed


def test_a_failed_workflow_fails_the_run_with_its_reason() -> None:
    verdict = verdict_of({"w1": {"status": "FAILED", "reasonForIncompletion": "worker pool lost", "tasks": []}})
    assert verdict.failed == ["w1 FAILED: worker pool lost"] and not verdict.passed


def test_a_task_listed_twice_is_a_broken_transition() -> None:
    twice = completed("w1", 5000, [{"referenceTaskName": "step_3", "retryCount": 0, "status": "COMPLETED"}])
    assert broken_transitions(twice) == "tasks listed twice: ['step_3']"
    assert not verdict_of({"w1": twice}).passed


def test_a_task_never_run_is_a_lost_transition() -> None:
    workflow = completed("w1", 5000)
    workflow["tasks"] = [t for t in workflow["tasks"] if t["referenceTaskName"] != "join"]
    assert broken_transitions(workflow) == "tasks never run: ['join']"


def test_a_retried_attempt_is_not_a_broken_transition() -> None:
    workflow = completed("w1", 5000)
    step = next(t for t in workflow["tasks"] if t["referenceTaskName"] == "step_2")
    step["status"] = "TIMED_OUT"
    workflow["tasks"].append({"referenceTaskName": "step_2", "retryCount": 1, "status": "COMPLETED"})
    assert broken_transitions(workflow) is None


def test_a_task_run_again_after_a_fault_is_accounted_for() -> None:
    fault = Fault("pool-kill", at=100.5, target="pool actor pid 1")
    verdict = verdict_of({"w1": completed("w1", 105_000)}, [fault], {("w1", "step_1", 0): [100.0, 101.0]})
    assert (verdict.ran_twice, verdict.ran_twice_after_a_fault, verdict.passed) == (1, 1, True)


def test_a_task_run_twice_with_no_fault_between_fails_the_run() -> None:
    fault = Fault("pool-kill", at=50.0, target="pool actor pid 1")
    verdict = verdict_of({"w1": completed("w1", 105_000)}, [fault], {("w1", "step_1", 0): [100.0, 101.0]})
    assert verdict.ran_twice_unexplained and not verdict.passed


def test_recovery_is_the_time_to_the_next_completion_in_an_affected_partition() -> None:
    fault = Fault("shard-kill", at=10.0, target="shard 0", partitions=frozenset({2}))
    final = {"w1": completed("w1", 10_500), "w2": completed("w2", 12_000)}
    recovery = verdict_of(final, [fault]).recovery["shard-kill"]
    assert recovery == {"faults": 1, "medianMs": 2000.0, "maxMs": 2000.0, "notRecovered": 0}


def test_a_task_run_again_after_a_pause_that_began_before_its_first_run_is_accounted_for() -> None:
    # The paused shard's pool ran the task while the shard slept; the new owner ran it again.
    pause = Fault("shard-stop", at=95.0, target="shard 0", ended_at=99.5)
    verdict = verdict_of({"w1": completed("w1", 105_000)}, [pause], {("w1", "step_1", 0): [97.5, 99.4]})
    assert (verdict.ran_twice_after_a_fault, verdict.passed) == (1, True)
