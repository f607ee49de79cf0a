"""Workflow schedules as Conductor's scheduler has them, and its pure decisions.

`WorkflowSchedule` is Conductor's wire shape (`POST /api/scheduler/schedules`). The
functions here decide, given the time as an argument, when a schedule fires next
(`next_run`, Conductor's `computeNextScheduleForSingleCron`), what the workflow it
starts receives (`scheduled_start`), and which execution records a search selects
(`ExecutionQuery`, Conductor's `SchedulerSearchQuery`). No I/O, no clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from definitions.cron import CronError, CronExpression, zone
from definitions.models import ConductorModel, StartWorkflowRequest

# Conductor starts looking half a second before scheduleStartTime, so a start time that
# is itself a cron instant fires.
START_TIME_SLACK_MS = 500
# Execution ids are derived from (schedule, fire time): a fire handled twice writes one record.
_EXECUTION_NAMESPACE = uuid.UUID("5d1f0e43-8c1b-4a5e-9a57-3f2a8d0c6b11")
EXECUTION_STATES = ("POLLED", "FAILED", "EXECUTED")


class WorkflowSchedule(ConductorModel):
    name: str = ""
    cron_expression: str | None = None
    run_catchup_schedule_instances: bool = False
    paused: bool = False
    paused_reason: str | None = None
    start_workflow_request: StartWorkflowRequest | None = None
    zone_id: str = "UTC"
    cron_schedules: list[Any] = Field(default_factory=list)
    schedule_start_time: int | None = None
    schedule_end_time: int | None = None
    create_time: int | None = None
    updated_time: int | None = None
    created_by: str | None = None
    updated_by: str | None = None
    description: str | None = None
    next_run_time: int | None = None

    @field_validator("zone_id", "paused", "run_catchup_schedule_instances", "cron_schedules", mode="before")
    @classmethod
    def _null_is_the_default(cls, value: Any, info: ValidationInfo) -> Any:
        # Conductor's Java model reads a JSON null as its default (UTC, false, none).
        if value is not None:
            return value
        return {"zone_id": "UTC", "cron_schedules": []}.get(info.field_name or "", False)


class ScheduleError(ValueError):
    """A schedule Podium cannot run; the message names the problem."""


def checked(schedule: WorkflowSchedule) -> CronExpression:
    """The schedule's parsed cron expression, after checking what can be checked without
    Redis (the workflow's definition is the caller's to look up)."""
    if not schedule.name.strip():
        raise ScheduleError("Schedule name is required")
    if schedule.cron_schedules:
        raise ScheduleError(
            "cronSchedules (several cron expressions in one schedule) is not supported: "
            "use one schedule per cron expression"
        )
    if not schedule.cron_expression or not schedule.cron_expression.strip():
        raise ScheduleError("cronExpression is required")
    if schedule.start_workflow_request is None:
        raise ScheduleError("startWorkflowRequest is required")
    if not schedule.start_workflow_request.name:
        raise ScheduleError("startWorkflowRequest.name is required")
    start, end = schedule.schedule_start_time, schedule.schedule_end_time
    if start is not None and end is not None and end < start:
        raise ScheduleError(f"scheduleEndTime ({end}) is before scheduleStartTime ({start})")
    try:
        zone(schedule.zone_id)
        return CronExpression.parse(schedule.cron_expression)
    except CronError as error:
        raise ScheduleError(str(error)) from None


def next_run(schedule: WorkflowSchedule, cron: CronExpression, now_ms: int, last_ms: int) -> int | None:
    """When the schedule fires next, given the time and the fire time it last had (at a
    save, the time of the save); None: never again.

    With `runCatchupScheduleInstances` every instant after the last one fires, however
    far behind the clock it is (after downtime: one start per missed instant, one after
    another); without it the next instant after the later of now and the last one, so the
    instants missed while nothing ran are skipped (the one that was already due fires).
    """
    after = last_ms if schedule.run_catchup_schedule_instances else max(now_ms, last_ms)
    start = schedule.schedule_start_time
    if start is not None and after < start - START_TIME_SLACK_MS:
        after = start - START_TIME_SLACK_MS
    found = cron.next_after(after, schedule.zone_id)
    end = schedule.schedule_end_time
    if found is None or (end is not None and found > end):
        return None
    return found


def next_runs(cron_expression: str, now_ms: int, start: int | None, end: int | None, limit: int) -> list[int]:
    """`GET /api/scheduler/nextFewSchedules`: up to five next instants, in UTC."""
    cron = CronExpression.parse(cron_expression)
    preview = WorkflowSchedule(
        name="preview", cron_expression=cron_expression, schedule_start_time=start, schedule_end_time=end
    )
    found: list[int] = []
    last = now_ms
    for _ in range(max(0, min(5, limit))):
        following = next_run(preview, cron, last, last)
        if following is None:
            break
        found.append(following)
        last = following
    return found


def execution_id(schedule_name: str, fire_ms: int) -> str:
    return str(uuid.uuid5(_EXECUTION_NAMESPACE, f"{schedule_name}\x00{fire_ms}"))


def idempotency_key(schedule_name: str, fire_ms: int) -> str:
    return f"schedule:{schedule_name}:{fire_ms}"


def scheduled_start(schedule: WorkflowSchedule, fire_ms: int, executed_ms: int) -> StartWorkflowRequest:
    """The start of one fire: the schedule's request, with what Conductor adds to the input
    (`_startedByScheduler`, `_scheduledTime`, `_executedTime`, `_executionId`,
    `_schedulerCron`), and an idempotency key per (schedule, fire time) so that a fire
    handled twice starts one workflow."""
    request = schedule.start_workflow_request
    assert request is not None
    workflow_input = dict(request.input)
    workflow_input.update(
        {
            "_startedByScheduler": schedule.name,
            "_scheduledTime": fire_ms,
            "_executedTime": executed_ms,
            "_executionId": execution_id(schedule.name, fire_ms),
            "_schedulerCron": f"{schedule.cron_expression} {schedule.zone_id}",
        }
    )
    return request.model_copy(
        update={
            "input": workflow_input,
            "created_by": schedule.created_by,
            "idempotency_key": idempotency_key(schedule.name, fire_ms),
            "idempotency_strategy": "RETURN_EXISTING",
        }
    )


def execution_record(
    schedule: WorkflowSchedule,
    fire_ms: int,
    executed_ms: int,
    workflow_id: str | None,
    reason: str | None,
) -> dict[str, Any]:
    """Conductor's WorkflowScheduleExecutionModel for one fire."""
    request = schedule.start_workflow_request
    return {
        "executionId": execution_id(schedule.name, fire_ms),
        "scheduleName": schedule.name,
        "scheduledTime": fire_ms,
        "executionTime": executed_ms,
        "workflowName": request.name if request else None,
        "workflowId": workflow_id,
        "reason": reason,
        "stackTrace": None,
        "startWorkflowRequest": request.to_wire() if request else None,
        "state": "EXECUTED" if workflow_id else "FAILED",
        "zoneId": schedule.zone_id,
        "orgId": "0000",
    }


SORT_FIELDS = ("scheduledTime", "executionTime", "scheduleName", "workflowName", "state")


@dataclass
class ExecutionQuery:
    """`query` of `GET /api/scheduler/search/executions`, as Conductor parses it:
    `scheduleName IN (a,b) AND state IN (EXECUTED) AND scheduledTime>1 AND
    scheduledTime<2 AND workflowName=x AND executionId=y`; any other clause is a
    schedule name."""

    schedule_names: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    scheduled_after: int | None = None
    scheduled_before: int | None = None
    workflow_name: str | None = None
    execution_id: str | None = None

    @staticmethod
    def parse(query: str | None) -> ExecutionQuery:
        parsed = ExecutionQuery()
        if not query:
            return parsed
        for clause in (c.strip() for c in _split_and(query)):
            if not clause:
                continue
            if clause.startswith("scheduleName IN (") and clause.endswith(")"):
                parsed.schedule_names += _csv(clause[len("scheduleName IN (") : -1])
            elif clause.startswith("state IN (") and clause.endswith(")"):
                parsed.states += _csv(clause[len("state IN (") : -1])
            elif clause.startswith(("scheduledTime>", "scheduledTime<")):
                value = clause[len("scheduledTime>") :].strip()
                if not value.lstrip("-").isdigit():
                    raise ScheduleError(f"scheduledTime in the query must be epoch milliseconds, got {value!r}")
                if clause[len("scheduledTime")] == ">":
                    parsed.scheduled_after = int(value)
                else:
                    parsed.scheduled_before = int(value)
            elif clause.startswith("workflowName="):
                parsed.workflow_name = clause[len("workflowName=") :].strip()
            elif clause.startswith("executionId="):
                parsed.execution_id = clause[len("executionId=") :].strip()
            else:
                parsed.schedule_names.append(clause)
        return parsed

    def matches(self, record: dict[str, Any], free_text: str) -> bool:
        if self.states and record.get("state") not in self.states:
            return False
        scheduled = int(record.get("scheduledTime") or 0)
        if self.scheduled_after is not None and not scheduled > self.scheduled_after:
            return False
        if self.scheduled_before is not None and not scheduled < self.scheduled_before:
            return False
        if self.workflow_name and self.workflow_name.lower() not in str(record.get("workflowName") or "").lower():
            return False
        if self.execution_id and record.get("executionId") != self.execution_id:
            return False
        if free_text and free_text != "*":
            term = free_text.lower()
            fields = (record.get("scheduleName"), record.get("workflowName"), record.get("workflowId"))
            if not any(term in str(value or "").lower() for value in fields):
                return False
        return True


def sort_records(records: list[dict[str, Any]], sort: list[str]) -> list[dict[str, Any]]:
    """Conductor's `sort=field:ASC|DESC` options (an unknown field sorts by scheduledTime);
    scheduledTime DESC when none. The first option is the main order."""
    ordered = list(records)
    for option in reversed(sort or ["scheduledTime:DESC"]):
        name, _, direction = option.partition(":")
        key = name.strip() if name.strip() in SORT_FIELDS else "scheduledTime"
        ordered.sort(key=lambda record: _sort_value(record, key), reverse=direction.strip().upper() != "ASC")
    return ordered


def _sort_value(record: dict[str, Any], key: str) -> Any:
    value = record.get(key)
    return int(value or 0) if key.endswith("Time") else str(value or "")


def _split_and(query: str) -> list[str]:
    parts: list[str] = []
    words = query.split()
    current: list[str] = []
    for word in words:
        if word == "AND":
            parts.append(" ".join(current))
            current = []
        else:
            current.append(word)
    parts.append(" ".join(current))
    return parts


def _csv(text: str) -> list[str]:
    return [value.strip() for value in text.split(",") if value.strip()]
