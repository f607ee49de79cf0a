"""The scheduler's pure decisions (definitions/schedules.py): when a schedule fires next,
catch-up after downtime, start and end times, what a started workflow receives, and
which fire records a search selects."""

from __future__ import annotations

from typing import Any

import pytest

from definitions.models import StartWorkflowRequest
from definitions.schedules import (
    ExecutionQuery,
    ScheduleError,
    WorkflowSchedule,
    checked,
    execution_id,
    execution_record,
    next_run,
    next_runs,
    scheduled_start,
    sort_records,
)

MINUTE = 60_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def schedule(**fields: Any) -> WorkflowSchedule:
    values: dict[str, Any] = {
        "name": "nightly",
        "cronExpression": "0 * * * * *",
        "startWorkflowRequest": {"name": "report", "input": {"region": "eu"}},
        **fields,
    }
    return WorkflowSchedule.model_validate(values)


def fires_after_downtime(s: WorkflowSchedule, pending: int, back_at: int, limit: int = 20) -> list[int]:
    """The fire times a runner handles once it is back at `back_at`, with the timer at
    `pending` (the fire that was due when everything stopped), until one is in the future."""
    cron = checked(s)
    fired: list[int] = []
    timer: int | None = pending
    while timer is not None and timer <= back_at and len(fired) < limit:
        fired.append(timer)
        timer = next_run(s, cron, back_at, timer)
    return fired


def test_the_first_fire_is_the_next_instant_after_the_save() -> None:
    s = schedule()
    assert next_run(s, checked(s), T0 + 10_000, T0 + 10_000) == T0 + MINUTE


def test_without_catch_up_missed_instants_are_skipped_and_the_due_one_fires_once() -> None:
    s = schedule()
    back_at = T0 + 5 * MINUTE + 30_000
    assert fires_after_downtime(s, T0 + MINUTE, back_at) == [T0 + MINUTE]
    assert next_run(s, checked(s), back_at, T0 + MINUTE) == T0 + 6 * MINUTE


def test_with_catch_up_every_missed_instant_fires_in_order() -> None:
    s = schedule(runCatchupScheduleInstances=True)
    back_at = T0 + 5 * MINUTE + 30_000
    assert fires_after_downtime(s, T0 + MINUTE, back_at) == [T0 + m * MINUTE for m in range(1, 6)]
    assert next_run(s, checked(s), back_at, T0 + 5 * MINUTE) == T0 + 6 * MINUTE


def test_nothing_is_due_before_the_timer() -> None:
    s = schedule()
    assert fires_after_downtime(s, T0 + MINUTE, T0 + MINUTE - 1) == []


def test_the_start_time_holds_fires_back_and_is_itself_an_instant() -> None:
    s = schedule(scheduleStartTime=T0 + 10 * MINUTE)
    assert next_run(s, checked(s), T0, T0) == T0 + 10 * MINUTE


def test_no_fire_after_the_end_time() -> None:
    s = schedule(scheduleEndTime=T0 + 2 * MINUTE)
    cron = checked(s)
    assert next_run(s, cron, T0 + MINUTE, T0 + MINUTE) == T0 + 2 * MINUTE
    assert next_run(s, cron, T0 + 2 * MINUTE, T0 + 2 * MINUTE) is None


def test_catch_up_also_stops_at_the_end_time() -> None:
    s = schedule(runCatchupScheduleInstances=True, scheduleEndTime=T0 + 3 * MINUTE)
    assert fires_after_downtime(s, T0 + MINUTE, T0 + 10 * MINUTE) == [T0 + MINUTE, T0 + 2 * MINUTE, T0 + 3 * MINUTE]


def test_the_zone_decides_the_wall_clock() -> None:
    s = schedule(cronExpression="0 0 9 * * *", zoneId="America/New_York")
    assert next_run(s, checked(s), T0, T0) == T0 + 14 * 60 * MINUTE  # 09:00 EST is 14:00 UTC


def test_next_few_schedules_gives_at_most_five() -> None:
    assert next_runs("0 * * * * *", T0, None, None, 3) == [T0 + m * MINUTE for m in (1, 2, 3)]
    assert len(next_runs("0 * * * * *", T0, None, None, 50)) == 5
    assert next_runs("0 * * * * *", T0, None, T0 + 2 * MINUTE, 5) == [T0 + MINUTE, T0 + 2 * MINUTE]


def test_a_started_workflow_receives_what_conductor_adds() -> None:
    s = schedule(createdBy="ops")
    start = scheduled_start(s, T0 + MINUTE, T0 + MINUTE + 40)
    assert start.name == "report"
    assert start.input == {
        "region": "eu",
        "_startedByScheduler": "nightly",
        "_scheduledTime": T0 + MINUTE,
        "_executedTime": T0 + MINUTE + 40,
        "_executionId": execution_id("nightly", T0 + MINUTE),
        "_schedulerCron": "0 * * * * * UTC",
    }
    assert start.created_by == "ops"
    # One workflow per (schedule, fire time), however often the fire is handled.
    assert start.idempotency_key == f"schedule:nightly:{T0 + MINUTE}"
    assert start.idempotency_strategy == "RETURN_EXISTING"
    assert s.start_workflow_request == StartWorkflowRequest(name="report", input={"region": "eu"})


def test_the_execution_id_is_the_same_for_the_same_fire() -> None:
    assert execution_id("a", 1) == execution_id("a", 1)
    assert len({execution_id("a", 1), execution_id("a", 2), execution_id("b", 1)}) == 3


def test_a_record_is_executed_with_a_workflow_and_failed_without() -> None:
    s = schedule()
    done = execution_record(s, T0, T0 + 5, "wf-1", None)
    assert (done["state"], done["workflowId"], done["workflowName"]) == ("EXECUTED", "wf-1", "report")
    failed = execution_record(s, T0, T0 + 5, None, "No such workflow found by name: report")
    assert (failed["state"], failed["reason"]) == ("FAILED", "No such workflow found by name: report")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"name": " "}, "Schedule name is required"),
        ({"cronExpression": None}, "cronExpression is required"),
        ({"cronExpression": "* * * * *"}, "must consist of 6 fields"),
        ({"zoneId": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'"),
        ({"startWorkflowRequest": None}, "startWorkflowRequest is required"),
        ({"scheduleStartTime": 10, "scheduleEndTime": 5}, "scheduleEndTime (5) is before scheduleStartTime (10)"),
        ({"cronSchedules": [{"cronExpression": "0 * * * * *"}]}, "cronSchedules"),
    ],
)
def test_schedules_podium_cannot_run_are_refused_with_the_reason(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        checked(schedule(**fields))
    assert problem in str(raised.value)


def test_the_execution_query_as_conductor_parses_it() -> None:
    query = ExecutionQuery.parse(
        "scheduleName IN (a, b) AND state IN (EXECUTED) AND scheduledTime>10 AND scheduledTime<20"
        " AND workflowName=rep AND executionId=x1"
    )
    assert query == ExecutionQuery(["a", "b"], ["EXECUTED"], 10, 20, "rep", "x1")
    assert ExecutionQuery.parse("nightly").schedule_names == ["nightly"]
    with pytest.raises(ScheduleError, match="epoch milliseconds"):
        ExecutionQuery.parse("scheduledTime>soon")


def test_the_execution_query_filters_and_sorts_records() -> None:
    s = schedule()
    records = [execution_record(s, T0 + m * MINUTE, T0, f"wf-{m}", None) for m in range(1, 4)]
    records.append(execution_record(s, T0 + 4 * MINUTE, T0, None, "refused"))
    executed = ExecutionQuery.parse("state IN (EXECUTED) AND scheduledTime>" + str(T0 + MINUTE))
    assert [r["workflowId"] for r in sort_records([r for r in records if executed.matches(r, "*")], [])] == [
        "wf-3",
        "wf-2",
    ]
    assert [r["workflowId"] for r in sort_records(records, ["scheduledTime:ASC"])][:2] == ["wf-1", "wf-2"]
    assert [r["workflowId"] for r in records if ExecutionQuery().matches(r, "WF-2")] == ["wf-2"]


def test_null_fields_read_as_conductors_defaults() -> None:
    s = schedule(zoneId=None, paused=None, runCatchupScheduleInstances=None, cronSchedules=None)
    assert (s.zone_id, s.paused, s.run_catchup_schedule_instances, s.cron_schedules) == ("UTC", False, False, [])
    checked(s)


def test_times_beyond_any_calendar_have_no_next_fire() -> None:
    s = schedule(scheduleStartTime=10**20)
    assert next_run(s, checked(s), T0, T0) is None
    assert next_runs("0 * * * * *", 10**20, None, None, 5) == []
