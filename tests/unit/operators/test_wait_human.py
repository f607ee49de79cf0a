"""WAIT and HUMAN: tasks that wait in the engine, for an update or for time to pass.

Behaviour follows Conductor's WaitTaskSpec and WaitTaskMapper: a WAIT is IN_PROGRESS at
once; with `duration` or `until` it completes when that time comes (a durable timer,
SetTimer), without either it waits for an update through the API; both given is an
error. A HUMAN task waits for an update. Neither is ever given to a worker.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, dispatched, of_type, rows, simple, types, workflow

WAIT_WF = "workflows/wait_workflow_integration_test.json"


def wait(ref: str, **inputs: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "WAIT", "inputParameters": inputs}


def human(ref: str) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "HUMAN"}


def update(run: Run, ref: str, status: str = "COMPLETED", output: dict[str, Any] | None = None) -> list[cmd.Command]:
    return run.send(ev.TaskUpdate(run.task(ref)["taskId"], status, output or {}))


def test_a_wait_without_time_waits_for_an_update() -> None:
    run = Run(conductor_definition(WAIT_WF))

    assert types(run) == [("WAIT", "IN_PROGRESS")]
    assert run.task("wait0")["startTime"] == run.now
    assert of_type(run.commands, cmd.SetTimer) == []
    assert of_type(run.commands, cmd.DispatchTask) == []

    produced = update(run, "wait0")

    assert types(run) == [("WAIT", "COMPLETED"), ("integration_task_1", "SCHEDULED")]
    assert dispatched(produced) == ["t1"]
    run.complete("t1")
    assert run.status == "COMPLETED"


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [("30s", 30), ("2m", 120), ("1h 30m", 5400), ("2 days", 172_800), ("45", 45), ("10 seconds", 10)],
)
def test_a_duration_sets_a_durable_timer(duration: str, seconds: int) -> None:
    run = Run(workflow(wait("w", duration=duration), simple("after")))

    task = run.task("w")
    assert task["status"] == "IN_PROGRESS"
    assert of_type(run.commands, cmd.SetTimer) == [cmd.SetTimer(task["taskId"], "wait", run.now + seconds * 1000)]
    assert task["waitTimeout"] == run.now + seconds * 1000


def test_the_timer_firing_completes_the_wait_and_the_workflow_moves_on() -> None:
    run = Run(workflow(wait("w", duration="${workflow.input.pause}"), simple("after")), {"pause": "5s"})
    run.now += 5_000

    produced = run.send(ev.TimerFired(run.task("w")["taskId"], "wait"))

    assert rows(run) == [("w", "WAIT", "COMPLETED"), ("after", "after", "SCHEDULED")]
    assert run.task("w")["endTime"] == run.now
    assert dispatched(produced) == ["after"]


def test_until_waits_for_that_moment() -> None:
    run = Run(workflow(wait("w", until="2030-01-02 03:04 UTC")))

    due = int(datetime(2030, 1, 2, 3, 4, tzinfo=UTC).timestamp() * 1000)
    assert of_type(run.commands, cmd.SetTimer) == [cmd.SetTimer(run.task("w")["taskId"], "wait", due)]


def test_both_duration_and_until_is_a_terminal_error() -> None:
    run = Run(workflow(wait("w", duration="1s", until="2030-01-01 00:00 UTC")))

    assert run.task("w")["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert "Both 'duration' and 'until'" in run.task("w")["reasonForIncompletion"]
    assert run.status == "FAILED"


def test_an_unreadable_duration_is_a_terminal_error() -> None:
    run = Run(workflow(wait("w", duration="soon")))

    assert run.task("w")["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert run.status == "FAILED"
    assert of_type(run.commands, cmd.SetTimer) == []


def test_a_timed_wait_can_still_be_completed_early_and_the_late_timer_is_ignored() -> None:
    run = Run(workflow(wait("w", duration="1h"), simple("after")))
    update(run, "w", output={"early": True})
    assert run.task("after")["status"] == "SCHEDULED"

    produced = run.send(ev.TimerFired(run.task("w")["taskId"], "wait"))

    assert produced == []
    assert len(run.state.tasks) == 2
    assert run.task("w")["outputData"] == {"early": True}


def test_redispatch_sets_the_same_timer_again() -> None:
    run = Run(workflow(wait("w", duration="10m")))
    [timer] = of_type(run.commands, cmd.SetTimer)
    run.now += 60_000

    produced = run.send(ev.Redispatch())

    assert of_type(produced, cmd.SetTimer) == [timer]


def test_a_wait_failed_through_the_api_fails_the_workflow() -> None:
    run = Run(workflow(wait("w"), simple("after")))

    update(run, "w", "FAILED_WITH_TERMINAL_ERROR")

    assert run.status == "FAILED"
    assert len(run.state.tasks) == 1


def test_a_human_task_waits_for_its_update_and_passes_its_output_on() -> None:
    definition = workflow(human("approve"), simple("after", inputParameters={"ok": "${approve.output.approved}"}))
    run = Run(definition)

    assert rows(run) == [("approve", "HUMAN", "IN_PROGRESS")]
    assert of_type(run.commands, cmd.DispatchTask) == []
    assert of_type(run.commands, cmd.SetTimer) == []

    update(run, "approve", output={"approved": True})

    assert run.task("after")["inputData"] == {"ok": True}


def test_a_human_task_can_report_progress_before_completing() -> None:
    run = Run(workflow(human("review")))

    update(run, "review", "IN_PROGRESS", {"step": 1})
    assert run.task("review")["status"] == "IN_PROGRESS"
    update(run, "review", "COMPLETED", {"step": 2})

    assert run.task("review")["outputData"] == {"step": 2}
    assert run.status == "COMPLETED"


def test_a_human_task_rejected_fails_the_workflow() -> None:
    run = Run(workflow(human("approve"), simple("after")))

    update(run, "approve", "FAILED")

    assert run.status == "FAILED"
    assert run.task("approve")["status"] == "FAILED"


def test_terminating_a_workflow_cancels_a_wait_without_queue_commands() -> None:
    run = Run(workflow(wait("w", duration="1h")))

    produced = run.send(ev.Terminate("no more waiting"))

    assert run.task("w")["status"] == "CANCELED"
    assert of_type(produced, cmd.CancelTask) == []
    assert run.status == "TERMINATED"
