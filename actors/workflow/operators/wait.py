"""WAIT and HUMAN: wait for an update through the API, or for `duration` / `until` to pass."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from actors.workflow.operators.base import Operator, register
from definitions.models import WorkflowTask
from definitions.validation import Finding, Review, TaskSite, blank, error

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord

_DURATION_PART = re.compile(
    r"(\d+)\s*(d|day|days|h|hr|hrs|hour|hours|m|min|mins|minute|minutes|s|sec|secs|second|seconds)\b"
)
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_UNTIL_FORMATS = ("%Y-%m-%d %H:%M %Z", "%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def parse_duration_seconds(text: str) -> int:
    """`30s`, `2m`, `1h 30m`, `2 days` -> seconds."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip(" ,"):
        raise ValueError(f"cannot read duration {text!r}: use forms like '30s', '2m', '1h 30m'")
    return sum(int(amount) * _UNIT_SECONDS[unit[0]] for amount, unit in parts)


def parse_until_ms(text: str) -> int:
    """`2026-12-01 10:00 UTC` (or ISO 8601) -> epoch milliseconds."""
    text = text.strip()
    for pattern in _UNTIL_FORMATS:
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return int(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp() * 1000)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"cannot read until {text!r}: use 'YYYY-MM-DD HH:MM UTC'") from None
    return int(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp() * 1000)


def _given(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


@register
class WaitOperator(Operator):
    task_type = "WAIT"
    parks_execution = True
    accepts_signal = True

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        params = site.task.input_parameters
        if not blank(params.get("duration")) and not blank(params.get("until")):
            return [error("inputParameters has both 'duration' and 'until'; give only one")]
        return []

    def blocks_until_signalled(self, task: Mapping[str, Any]) -> bool:
        # A WAIT with a duration or an until ends by itself (it has a waitTimeout).
        return not task.get("waitTimeout")

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        inputs = task["inputData"]
        duration, until = inputs.get("duration"), inputs.get("until")
        decider.start_task(task)
        if _given(duration) and _given(until):
            reason = "Both 'duration' and 'until' specified. Please provide only one input"
            decider.finish(task, "FAILED_WITH_TERMINAL_ERROR", {}, reason)
            return
        try:
            if duration:
                due = decider.now + parse_duration_seconds(str(duration)) * 1000
            elif until:
                due = parse_until_ms(str(until))
            else:
                return
        except ValueError as error:
            decider.finish(task, "FAILED_WITH_TERMINAL_ERROR", {}, str(error))
            return
        task["waitTimeout"] = due
        decider.set_timer(task, "wait", due)

    def redispatch(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        due = task.get("waitTimeout")
        if due:
            decider.set_timer(task, "wait", due)

    def on_timer(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask, kind: str) -> None:
        if kind == "wait":
            decider.finish(task, "COMPLETED")


@register
class HumanOperator(Operator):
    task_type = "HUMAN"
    parks_execution = True
    accepts_signal = True

    def blocks_until_signalled(self, task: Mapping[str, Any]) -> bool:
        return True

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        decider.start_task(task)
