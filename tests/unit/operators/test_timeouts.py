"""Retries, timeouts, optional and permissive tasks, failure workflows and WAIT/HUMAN, on a
hand-moved clock (durable timers fire through `Run.advance`).

Behaviour follows Conductor's DeciderService (`retry`, `checkTaskTimeout`,
`checkTaskPollTimeout`, `isResponseTimedOut`, `checkTotalTimeout`, `checkWorkflowTimeout`,
`timeoutTaskWithTimeoutPolicy`), WorkflowExecutorOps (`terminate`, `terminateWorkflow`),
ExecutionService.poll, the test-harness specs RetryPolicySpec, SimpleWorkflowSpec,
ForkJoinSpec, FailureWorkflowSpec and WaitTaskSpec, and docs/documentation/configuration/
taskdef.md. Rate and concurrency limits live in the Redis task queue, not in the state
machine, and are tested there.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from actors.workflow.retries import retry_delay_ms
from definitions.models import TaskDef
from tests.unit.machine_harness import Run
from tests.unit.operators.support import (
    conductor_definition,
    dispatched,
    of_type,
    rows,
    simple,
    task_def,
    types,
    without_retries,
    workflow,
)

LINEAR = "workflows/simple_workflow_1_integration_test.json"
RESPONSE_TIMEOUT_WF = "workflows/simple_workflow_with_resp_time_out_integration_test.json"
OPTIONAL_WF = "workflows/simple_workflow_with_optional_task_integration_test.json"
PERMISSIVE_WF = "workflows/simple_workflow_with_permissive_task_integration_test.json"
PERMISSIVE_OPTIONAL_WF = "workflows/simple_workflow_with_permissive_optional_task_integration_test.json"
PERMISSIVE_FORK_WF = "workflows/fork_join_with_no_permissive_task_retry_integration_test.json"
TERMINATE_FAILED_WF = "workflows/terminate_task_failed_workflow_integration.json"
INPUT = {"param1": "p1 value", "param2": "p2 value"}
WORKFLOW_TIMER = ("-", "workflow_timeout")


def flaky(**fields: Any) -> Run:
    """`a` (TaskDef `flaky` with `fields`), then `b`."""
    return Run(workflow(simple("a", name="flaky"), simple("b")), task_defs=[task_def("flaky", **fields)])


def retry_delays(run: Run, failures: int) -> list[int]:
    """Fail `a` that many times; the delay each new attempt was dispatched with."""
    delays = []
    for _ in range(failures):
        [dispatch] = of_type(run.fail("a"), cmd.DispatchTask)
        assert dispatch.task is run.task("a")
        delays.append(dispatch.delay_ms)
    return delays


def slow(**fields: Any) -> Run:
    """`a` (TaskDef `slow`: no retries, no response timeout unless `fields` say so), then `b`."""
    definition = {"retryCount": 0, "retryDelaySeconds": 0, "responseTimeoutSeconds": 0, **fields}
    return Run(workflow(simple("a", name="slow"), simple("b")), task_defs=[task_def("slow", **definition)])


def fork(ref: str, *branches: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "FORK_JOIN", "forkTasks": list(branches)}


def join(ref: str, *join_on: str) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "JOIN", "joinOn": list(join_on)}


def wait(ref: str, **inputs: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "WAIT", "inputParameters": inputs}


# -- retry logic -----------------------------------------------------------------------------


def test_fixed_retry_logic_waits_retry_delay_seconds_before_every_attempt() -> None:
    """DeciderService.retry, FIXED: startDelay = retryDelaySeconds; the new attempt carries it as
    startDelayInSeconds and callbackAfterSeconds, and its queue message is postponed by it."""
    run = flaky(retryCount=3, retryDelaySeconds=5, retryLogic="FIXED")

    assert retry_delays(run, 3) == [5_000, 5_000, 5_000]

    retry = run.task("a")
    assert (retry["retryCount"], retry["status"]) == (3, "SCHEDULED")
    assert retry["startDelayInSeconds"] == 5
    assert retry["callbackAfterSeconds"] == 5


@pytest.mark.parametrize(
    ("fields", "delays"),
    [
        # retryDelaySeconds * 2^retryCount of the failed attempt.
        ({"retryDelaySeconds": 2}, [2_000, 4_000, 8_000, 16_000]),
        # taskdef.md's table: base 1 s, maxRetryDelaySeconds 3 -> 1, 2, 3 (from 4), 3 (from 8).
        ({"retryDelaySeconds": 1, "maxRetryDelaySeconds": 3}, [1_000, 2_000, 3_000, 3_000]),
        # maxRetryDelaySeconds 0 disables the cap.
        ({"retryDelaySeconds": 1, "maxRetryDelaySeconds": 0}, [1_000, 2_000, 4_000, 8_000]),
    ],
)
def test_exponential_backoff_doubles_the_delay_up_to_max_retry_delay_seconds(
    fields: dict[str, Any], delays: list[int]
) -> None:
    """DeciderService.retry, EXPONENTIAL_BACKOFF, then applyMaxRetryDelayCap."""
    run = flaky(retryCount=4, retryLogic="EXPONENTIAL_BACKOFF", **fields)

    assert retry_delays(run, 4) == delays


@pytest.mark.parametrize(
    ("fields", "delays"),
    [
        # retryDelaySeconds * backoffScaleFactor * (retryCount + 1).
        ({"retryDelaySeconds": 3, "backoffScaleFactor": 1}, [3_000, 6_000, 9_000]),
        ({"retryDelaySeconds": 2, "backoffScaleFactor": 3}, [6_000, 12_000, 18_000]),
        # RetryPolicySpec "Linear backoff delay is capped by maxRetryDelaySeconds": 4 s, then 8 s -> 5 s.
        ({"retryDelaySeconds": 2, "backoffScaleFactor": 2, "maxRetryDelaySeconds": 5}, [4_000, 5_000, 5_000]),
    ],
)
def test_linear_backoff_grows_by_the_scale_factor_up_to_max_retry_delay_seconds(
    fields: dict[str, Any], delays: list[int]
) -> None:
    """DeciderService.retry, LINEAR_BACKOFF, then applyMaxRetryDelayCap."""
    run = flaky(retryCount=3, retryLogic="LINEAR_BACKOFF", **fields)

    assert retry_delays(run, 3) == delays


def test_max_retry_delay_seconds_caps_a_fixed_delay_too() -> None:
    """DeciderService.retry applies applyMaxRetryDelayCap in the FIXED case as well."""
    run = flaky(retryCount=2, retryDelaySeconds=10, retryLogic="FIXED", maxRetryDelaySeconds=4)

    assert retry_delays(run, 2) == [4_000, 4_000]


def test_the_capped_delay_is_what_callback_after_seconds_reports() -> None:
    """RetryPolicySpec "Exponential backoff delay is capped by maxRetryDelaySeconds": base 2 s,
    cap 3 s -> the rescheduled tasks have callbackAfterSeconds 2, then 3."""
    run = flaky(retryCount=5, retryDelaySeconds=2, retryLogic="EXPONENTIAL_BACKOFF", maxRetryDelaySeconds=3)

    run.fail("a")
    assert run.task("a")["callbackAfterSeconds"] == 2
    run.fail("a")
    assert run.task("a")["callbackAfterSeconds"] == 3


def test_backoff_jitter_adds_up_to_backoff_jitter_ms_to_the_delay_only() -> None:
    """RetryPolicySpec "backoffJitterMs adds a random offset in [0, maxJitterMs]": FIXED 60 s with
    5000 ms of jitter -> the delay (callbackAfterMs) is in [60 000, 65 000] ms while
    callbackAfterSeconds (and startDelayInSeconds) stay at the base 60."""
    run = flaky(retryCount=3, retryDelaySeconds=60, retryLogic="FIXED", backoffJitterMs=5_000)

    [delay] = retry_delays(run, 1)

    assert 60_000 <= delay <= 65_000
    retry = run.task("a")
    assert retry["callbackAfterSeconds"] == 60
    assert retry["startDelayInSeconds"] == 60


def test_the_cap_applies_before_the_jitter() -> None:
    """RetryPolicySpec "Cap is applied before jitter": base 2 s, cap 3 s, jitter 2000 ms -> the
    second retry waits [3000, 5000] ms and reports callbackAfterSeconds 3."""
    run = flaky(
        retryCount=5,
        retryDelaySeconds=2,
        retryLogic="EXPONENTIAL_BACKOFF",
        maxRetryDelaySeconds=3,
        backoffJitterMs=2_000,
    )

    first, second = retry_delays(run, 2)

    assert 2_000 <= first <= 4_000
    assert 3_000 <= second <= 5_000
    assert run.task("a")["callbackAfterSeconds"] == 3


def test_no_jitter_means_exactly_the_base_delay() -> None:
    """RetryPolicySpec "backoffJitterMs of zero produces no jitter": callbackAfterMs == 30 000."""
    run = flaky(retryCount=3, retryDelaySeconds=30, retryLogic="FIXED", backoffJitterMs=0)

    assert retry_delays(run, 1) == [30_000]


def test_the_jitter_is_deterministic_per_task_id_and_spread_within_its_bound() -> None:
    """Conductor draws the jitter from ThreadLocalRandom in [0, backoffJitterMs]; the state machine
    must replay identically, so Podium draws it from the task id: the same id always gets the
    same jitter, and different ids spread over [0, backoffJitterMs]."""
    definition = TaskDef.model_validate({"name": "t", "retryDelaySeconds": 1, "backoffJitterMs": 500})

    jitters = [retry_delay_ms(definition, 1, f"task-{n}") - 1_000 for n in range(200)]

    assert all(0 <= jitter <= 500 for jitter in jitters)
    assert len(set(jitters)) > 50
    assert [retry_delay_ms(definition, 1, f"task-{n}") - 1_000 for n in range(200)] == jitters
    # Replaying the same run gives the same delays.
    fields = {"retryCount": 3, "retryDelaySeconds": 1, "backoffJitterMs": 500}
    assert retry_delays(flaky(**fields), 3) == retry_delays(flaky(**fields), 3)


def test_a_terminal_error_is_never_retried_whatever_the_retries_left() -> None:
    """DeciderService.retry: FAILED_WITH_TERMINAL_ERROR is not retriable; the workflow FAILS."""
    run = flaky(retryCount=5, retryDelaySeconds=0)
    task_id = run.task("a")["taskId"]

    produced = run.fail("a", "fatal", terminal=True)

    assert run.status == "FAILED"
    assert dispatched(produced) == []
    assert types(run) == [("flaky", "FAILED_WITH_TERMINAL_ERROR")]
    assert run.state.workflow["reasonForIncompletion"] == (
        f"Task {task_id} failed with status: FAILED and reason: 'fatal'"
    )


def test_a_retried_attempt_is_linked_to_the_one_it_replaces() -> None:
    """DeciderService.retry: the copy gets a new id, retryCount + 1, retriedTaskId, status
    SCHEDULED, no poll count, worker or output; the failed attempt is marked retried; the
    first attempt's firstScheduledTime is kept across every attempt."""
    run = flaky(retryCount=2, retryDelaySeconds=1)
    first = run.task("a")
    first_scheduled = first["scheduledTime"]
    run.advance(2_000)
    run.poll("a", "worker-1")
    run.send(ev.TaskUpdate(first["taskId"], "IN_PROGRESS", {"progress": 1}))
    run.advance(1_000)

    run.fail("a", "first failure")

    second = run.task("a")
    assert second["taskId"] != first["taskId"]
    assert first["retried"] is True
    assert second["retried"] is False
    assert (second["retryCount"], second["retriedTaskId"]) == (1, first["taskId"])
    assert (second["status"], second["pollCount"], second["outputData"]) == ("SCHEDULED", 0, {})
    assert "workerId" not in second
    assert second["scheduledTime"] == run.now
    assert second["firstScheduledTime"] == first_scheduled
    assert second["seq"] > first["seq"]

    run.advance(5_000)
    run.fail("a")

    third = run.task("a")
    assert (third["retryCount"], third["retriedTaskId"]) == (2, second["taskId"])
    assert third["firstScheduledTime"] == first_scheduled


def test_a_retried_attempt_has_its_input_resolved_again() -> None:
    """DeciderService.retry (schema version 2): the old input, overlaid with inputParameters
    resolved anew, so a value that arrived since the first attempt is seen by the retry."""
    definition = workflow(
        fork("fork", [simple("a", name="flaky", inputParameters={"x": "${other.output.v}"})], [simple("other")]),
        join("join", "a", "other"),
    )
    run = Run(definition, task_defs=[task_def("flaky", retryCount=1, retryDelaySeconds=0)])
    assert run.task("a")["inputData"] == {"x": None}
    run.complete("other", {"v": 7})

    run.fail("a")

    assert run.task("a")["retryCount"] == 1
    assert run.task("a")["inputData"] == {"x": 7}


def test_retries_run_out_after_retry_count_attempts() -> None:
    """DeciderService.retry: once retryCount retries were made the workflow FAILS with the last
    attempt's reason."""
    run = flaky(retryCount=2, retryDelaySeconds=1)
    retry_delays(run, 2)
    last = run.task("a")

    produced = run.fail("a", "third strike")

    assert run.status == "FAILED"
    assert dispatched(produced) == []
    assert [status for _, _, status in rows(run)] == ["FAILED", "FAILED", "FAILED"]
    assert run.state.workflow["reasonForIncompletion"] == (
        f"Task {last['taskId']} failed with status: FAILED and reason: 'third strike'"
    )


# -- pollTimeoutSeconds ---------------------------------------------------------------------


def test_a_task_nobody_polls_times_out_after_poll_timeout_seconds_and_is_retried() -> None:
    """checkTaskPollTimeout: a SCHEDULED task not polled for pollTimeoutSeconds goes through its
    timeoutPolicy; with RETRY it is TIMED_OUT and a new attempt is scheduled."""
    run = slow(pollTimeoutSeconds=30, timeoutPolicy="RETRY", retryCount=1)
    first = run.task("a")
    assert run.timer(first["taskId"], "poll") == run.now + 30_000

    assert run.advance(29_999) == []
    assert first["status"] == "SCHEDULED"

    produced = run.advance(1)

    assert first["status"] == "TIMED_OUT"
    assert first["reasonForIncompletion"] == (
        "Task poll timed out after 30 seconds. Poll timeout configured as 30 seconds. "
        "Timeout policy configured to RETRY"
    )
    retry = run.task("a")
    assert (retry["status"], retry["retryCount"]) == ("SCHEDULED", 1)
    assert dispatched(produced) == ["a"]
    assert run.timer(retry["taskId"], "poll") == run.now + 30_000
    assert run.status == "RUNNING"


def test_polling_in_time_clears_the_poll_timeout() -> None:
    """checkTaskPollTimeout only looks at SCHEDULED tasks: once polled it no longer applies."""
    run = slow(pollTimeoutSeconds=30, timeoutPolicy="RETRY", retryCount=1)
    task_id = run.task("a")["taskId"]
    run.advance(10_000)

    produced = run.poll("a")

    assert cmd.ClearTimer(task_id, "poll") in produced
    assert run.timer(task_id, "poll") is None
    run.advance(3_600_000)
    assert run.task("a")["status"] == "IN_PROGRESS"


def test_a_poll_timeout_with_time_out_wf_times_the_workflow_out() -> None:
    """timeoutTaskWithTimeoutPolicy, TIME_OUT_WF: the task is TIMED_OUT and the workflow too."""
    run = slow(pollTimeoutSeconds=30, timeoutPolicy="TIME_OUT_WF", retryCount=3)

    run.advance(30_000)

    assert run.status == "TIMED_OUT"
    assert types(run) == [("slow", "TIMED_OUT")]


# -- timeoutSeconds -----------------------------------------------------------------------------


def test_timeout_seconds_counts_from_the_start_and_retry_policy_schedules_a_new_attempt() -> None:
    """checkTaskTimeout: IN_PROGRESS for timeoutSeconds since startTime -> timeoutPolicy; RETRY
    marks it TIMED_OUT and DeciderService.retry schedules another attempt."""
    run = slow(timeoutSeconds=60, timeoutPolicy="RETRY", retryCount=1)
    run.advance(5_000)
    run.poll("a")
    first = run.task("a")
    assert run.timer(first["taskId"], "timeout") == run.now + 60_000

    run.advance(59_999)
    assert first["status"] == "IN_PROGRESS"
    produced = run.advance(1)

    assert first["status"] == "TIMED_OUT"
    assert first["reasonForIncompletion"] == (
        "Task timed out after 60 seconds. Timeout configured as 60 seconds. Timeout policy configured to RETRY"
    )
    assert dispatched(produced) == ["a"]
    assert run.task("a")["retryCount"] == 1
    assert run.status == "RUNNING"


def test_a_timed_out_task_with_no_retries_left_times_the_workflow_out() -> None:
    """DeciderService.retry: a TIMED_OUT task that cannot be retried ends the workflow TIMED_OUT."""
    run = slow(timeoutSeconds=60, timeoutPolicy="RETRY", retryCount=1)
    run.poll("a")
    run.advance(60_000)
    run.poll("a")
    last = run.task("a")

    produced = run.advance(60_000)

    assert run.status == "TIMED_OUT"
    assert of_type(produced, cmd.WorkflowEnded) == [cmd.WorkflowEnded("TIMED_OUT")]
    assert run.state.workflow["reasonForIncompletion"] == (
        f"Task {last['taskId']} failed with status: TIMED_OUT and reason: 'Task timed out after 60 seconds. "
        "Timeout configured as 60 seconds. Timeout policy configured to RETRY'"
    )


def test_progress_updates_do_not_extend_timeout_seconds() -> None:
    """taskdef.md: timeoutSeconds runs from the first transition to IN_PROGRESS, whatever the
    worker reports since (that is what responseTimeoutSeconds is for)."""
    run = slow(timeoutSeconds=60, timeoutPolicy="RETRY", retryCount=0)
    run.poll("a")
    started = run.now
    task_id = run.task("a")["taskId"]
    run.advance(30_000)

    run.send(ev.TaskUpdate(task_id, "IN_PROGRESS", {"half": True}))

    assert run.timer(task_id, "timeout") == started + 60_000
    run.advance_to(started + 60_000)
    assert run.task("a")["status"] == "TIMED_OUT"


def test_time_out_wf_times_the_workflow_out_even_with_retries_left() -> None:
    """timeoutTaskWithTimeoutPolicy, TIME_OUT_WF: TerminateWorkflowException(reason, TIMED_OUT, task)
    is thrown before any retry is considered: no new attempt, the workflow is TIMED_OUT with the
    task's timeout reason."""
    run = slow(timeoutSeconds=60, timeoutPolicy="TIME_OUT_WF", retryCount=3)
    run.poll("a")

    produced = run.advance(60_000)

    assert run.status == "TIMED_OUT"
    assert types(run) == [("slow", "TIMED_OUT")]
    assert dispatched(produced) == []
    reason = (
        "Task timed out after 60 seconds. Timeout configured as 60 seconds. Timeout policy configured to TIME_OUT_WF"
    )
    assert run.task("a")["reasonForIncompletion"] == reason
    assert run.state.workflow["reasonForIncompletion"] == reason
    assert of_type(produced, cmd.WorkflowEnded) == [cmd.WorkflowEnded("TIMED_OUT")]


def test_alert_only_reports_the_timeout_and_the_task_keeps_running() -> None:
    """timeoutTaskWithTimeoutPolicy, ALERT_ONLY: only recorded (an Alert here); the task stays
    IN_PROGRESS and the worker can still complete it."""
    run = slow(timeoutSeconds=60, timeoutPolicy="ALERT_ONLY", retryCount=3)
    run.poll("a")

    produced = run.advance(60_000)

    [alert] = of_type(produced, cmd.Alert)
    assert "Task timed out after 60 seconds" in alert.message
    assert "ALERT_ONLY" in alert.message
    assert run.task("a")["status"] == "IN_PROGRESS"
    assert run.status == "RUNNING"
    assert dispatched(run.complete("a")) == ["b"]


def test_alert_only_on_a_poll_timeout_leaves_the_task_scheduled() -> None:
    """checkTaskPollTimeout with ALERT_ONLY: recorded, the task still waits for a worker."""
    run = slow(pollTimeoutSeconds=30, timeoutPolicy="ALERT_ONLY")

    produced = run.advance(30_000)

    [alert] = of_type(produced, cmd.Alert)
    assert "Task poll timed out after 30 seconds" in alert.message
    assert run.task("a")["status"] == "SCHEDULED"


# -- responseTimeoutSeconds ------------------------------------------------------------------


def response_timeout_run(**fields: Any) -> Run:
    """SimpleWorkflowSpec's RTOWF: `task_rt` has responseTimeoutSeconds 10."""
    definition = {"retryCount": 1, "retryDelaySeconds": 0, "responseTimeoutSeconds": 10, **fields}
    return Run(conductor_definition(RESPONSE_TIMEOUT_WF), INPUT, task_defs=[task_def("task_rt", **definition)])


def test_a_polled_task_that_goes_silent_times_out_and_is_retried() -> None:
    """SimpleWorkflowSpec "Test Simple Workflow with response timeout": polled, no update for
    responseTimeoutSeconds -> TIMED_OUT ("responseTimeout: 10 exceeded ...") and a new attempt."""
    run = response_timeout_run()
    run.advance(1_000)
    run.poll("t1")
    first = run.task("t1")
    assert run.timer(first["taskId"], "response") == run.now + 10_000

    run.advance(9_999)
    assert first["status"] == "IN_PROGRESS"
    produced = run.advance(1)

    assert first["status"] == "TIMED_OUT"
    assert first["reasonForIncompletion"] == (
        f"responseTimeout: 10 exceeded for the taskId: {first['taskId']} with Task Definition: task_rt"
    )
    assert types(run) == [("task_rt", "TIMED_OUT"), ("task_rt", "SCHEDULED")]
    assert dispatched(produced) == ["t1"]
    assert run.status == "RUNNING"
    # The late worker's result for the timed-out attempt is ignored.
    assert run.send(ev.TaskUpdate(first["taskId"], "COMPLETED", {"op": "late"})) == []


def test_a_response_timeout_is_retried_whatever_the_timeout_policy() -> None:
    """isResponseTimedOut -> timeoutTask sets TIMED_OUT without looking at timeoutPolicy; the
    task is then retried like any other TIMED_OUT one, even under TIME_OUT_WF."""
    run = response_timeout_run(timeoutPolicy="TIME_OUT_WF")
    run.poll("t1")

    run.advance(10_000)

    assert types(run) == [("task_rt", "TIMED_OUT"), ("task_rt", "SCHEDULED")]
    assert run.status == "RUNNING"


def test_a_heartbeat_restarts_the_response_window() -> None:
    """isResponseTimedOut: the window runs from the task's last updateTime, which an IN_PROGRESS
    update (a heartbeat) moves."""
    run = response_timeout_run()
    run.poll("t1")
    task_id = run.task("t1")["taskId"]
    run.advance(8_000)

    run.send(ev.TaskUpdate(task_id, "IN_PROGRESS", {"beat": 1}))

    assert run.timer(task_id, "response") == run.now + 10_000
    run.advance(9_999)
    assert run.task("t1")["status"] == "IN_PROGRESS"
    run.advance(1)
    assert run.task("t1")["taskId"] != task_id


def test_callback_after_seconds_pushes_the_response_deadline_and_the_old_timer_is_rearmed() -> None:
    """SimpleWorkflowSpec (response timeout, second attempt): an IN_PROGRESS update with
    callbackAfterSeconds 2 puts the task back in its queue for 2 s; isResponseTimedOut adds the
    callback to the window, so nothing times out before callback + responseTimeoutSeconds. The
    timer already in flight for the old deadline, when it fires, is armed again for the new one."""
    run = response_timeout_run()
    run.poll("t1")
    task_id = run.task("t1")["taskId"]
    old_due = run.timer(task_id, "response")
    assert old_due is not None
    run.advance(1_000)

    produced = run.send(ev.TaskUpdate(task_id, "IN_PROGRESS", {"op": "working"}, callback_after_seconds=2))

    [again] = of_type(produced, cmd.DispatchTask)
    assert again.delay_ms == 2_000
    new_due = run.now + 12_000
    assert run.timer(task_id, "response") == new_due
    # The worker takes it again once the callback is over.
    run.advance(2_000)
    run.poll("t1")
    # The timer set for the old deadline is delivered: armed again, nothing times out.
    run.advance_to(old_due)
    assert run.fire(task_id, "response") == [cmd.SetTimer(task_id, "response", new_due)]
    assert run.task("t1")["status"] == "IN_PROGRESS"
    run.advance_to(new_due - 1)
    run.complete("t1", {"op": "task1.done"})
    run.complete("t2")
    assert run.status == "COMPLETED"
    assert [status for _, _, status in rows(run)] == ["COMPLETED", "COMPLETED"]


def test_the_response_window_of_a_retried_attempt_starts_at_its_poll() -> None:
    """ExecutionService.poll resets callbackAfterSeconds to 0 when giving the task to a worker, so
    a retried attempt (callbackAfterSeconds = its retry delay until then) gets exactly
    responseTimeoutSeconds from its poll."""
    run = response_timeout_run(retryDelaySeconds=30)
    run.poll("t1")
    run.fail("t1")
    retry = run.task("t1")
    run.advance(30_000)

    run.poll("t1")

    assert retry["callbackAfterSeconds"] == 0
    assert run.timer(retry["taskId"], "response") == run.now + 10_000


def test_a_response_timeout_with_no_retries_left_times_the_workflow_out() -> None:
    """DeciderService.retry: a TIMED_OUT task with no retries left -> workflow TIMED_OUT."""
    run = response_timeout_run(retryCount=0)
    run.poll("t1")

    run.advance(10_000)

    assert run.status == "TIMED_OUT"
    assert "responseTimeout: 10 exceeded" in run.state.workflow["reasonForIncompletion"]


# -- totalTimeoutSeconds ----------------------------------------------------------------------


def test_total_timeout_is_one_budget_for_every_attempt() -> None:
    """checkTotalTimeout: measured from the first attempt's firstScheduledTime, which every retry
    keeps, so each attempt's deadline is the same moment."""
    run = slow(totalTimeoutSeconds=120, timeoutPolicy="RETRY", retryCount=10, retryDelaySeconds=5)
    first = run.task("a")
    deadline = first["firstScheduledTime"] + 120_000
    assert run.timer(first["taskId"], "total") == deadline
    run.advance(10_000)

    run.fail("a")

    retry = run.task("a")
    assert run.timer(retry["taskId"], "total") == deadline


def test_running_over_the_total_timeout_times_the_task_out_with_no_further_retries() -> None:
    """RetryPolicySpec "totalTimeoutSeconds exceeded in checkTotalTimeout": the task is TIMED_OUT
    under RETRY; DeciderService.retry's total-budget guard then refuses another attempt and ends
    the workflow TIMED_OUT ("... No further retries will be attempted.")."""
    run = slow(totalTimeoutSeconds=120, timeoutPolicy="RETRY", retryCount=10, retryDelaySeconds=5)
    run.advance(10_000)
    run.fail("a")
    run.advance(20_000)
    run.poll("a")
    task = run.task("a")

    produced = run.advance_to(task["firstScheduledTime"] + 120_000)

    assert task["status"] == "TIMED_OUT"
    assert task["reasonForIncompletion"] == (
        f"Task slow/{task['taskId']} exceeded total timeout of 120 seconds (elapsed 120 seconds across all "
        "attempts including retry delays). Timeout policy: RETRY"
    )
    assert dispatched(produced) == []
    assert run.status == "TIMED_OUT"
    assert run.state.workflow["reasonForIncompletion"] == (
        f"Task {task['taskId']}/slow exceeded total timeout of 120 seconds (elapsed 120 seconds across all "
        "attempts). No further retries will be attempted."
    )


def test_a_failure_after_the_total_budget_is_spent_is_not_retried() -> None:
    """RetryPolicySpec "totalTimeoutSeconds exceeded on retry": a FAILED attempt past the budget
    is not retried, whatever retryCount says; the workflow FAILS (the task FAILED, not TIMED_OUT)."""
    run = slow(totalTimeoutSeconds=5, timeoutPolicy="TIME_OUT_WF", retryCount=10)
    run.poll("a")
    # The total timer has not been delivered yet when the worker's failure arrives.
    run.now += 60_000

    produced = run.fail("a")

    assert dispatched(produced) == []
    assert run.status == "FAILED"
    assert "No further retries will be attempted." in run.state.workflow["reasonForIncompletion"]


def test_total_timeout_with_time_out_wf_times_the_workflow_out() -> None:
    """checkTotalTimeout -> timeoutTaskWithTimeoutPolicy, TIME_OUT_WF: the workflow is TIMED_OUT
    with the total-timeout reason."""
    run = slow(totalTimeoutSeconds=60, timeoutPolicy="TIME_OUT_WF", retryCount=10)
    run.poll("a")

    run.advance(60_000)

    assert run.status == "TIMED_OUT"
    assert run.state.workflow["reasonForIncompletion"].startswith("Task slow/")
    assert "exceeded total timeout of 60 seconds" in run.state.workflow["reasonForIncompletion"]


def test_total_timeout_with_alert_only_only_alerts() -> None:
    """checkTotalTimeout with ALERT_ONLY: recorded, the task carries on."""
    run = slow(totalTimeoutSeconds=60, timeoutPolicy="ALERT_ONLY", retryCount=10)
    run.poll("a")

    produced = run.advance(60_000)

    [alert] = of_type(produced, cmd.Alert)
    assert "exceeded total timeout of 60 seconds" in alert.message
    assert run.task("a")["status"] == "IN_PROGRESS"


def test_a_total_timeout_of_zero_sets_no_budget() -> None:
    """RetryPolicySpec "totalTimeoutSeconds=0 is disabled": retries continue as normal."""
    run = slow(totalTimeoutSeconds=0, retryCount=5)

    assert run.timer(run.task("a")["taskId"], "total") is None
    run.now += 3_600_000
    run.fail("a")
    assert run.task("a")["status"] == "SCHEDULED"


# -- timers a task owns ------------------------------------------------------------------------


def test_ending_a_task_clears_every_timer_it_owns() -> None:
    """A finished task is no longer checked by the decider: its durable timers are removed."""
    run = slow(pollTimeoutSeconds=30, timeoutSeconds=60, responseTimeoutSeconds=20, totalTimeoutSeconds=600)
    task_id = run.task("a")["taskId"]
    assert {kind for (owner, kind) in run.timers if owner == task_id} == {"poll", "total"}

    run.poll("a")
    assert {kind for (owner, kind) in run.timers if owner == task_id} == {"timeout", "response", "total"}

    produced = run.complete("a")

    assert {(c.task_id, c.kind) for c in of_type(produced, cmd.ClearTimer)} == {
        (task_id, "timeout"),
        (task_id, "response"),
        (task_id, "total"),
    }
    assert [key for key in run.timers if key[0] == task_id] == []


def test_terminating_the_workflow_clears_the_timers_of_its_tasks() -> None:
    run = slow(timeoutSeconds=60, responseTimeoutSeconds=20)
    run.poll("a")
    task_id = run.task("a")["taskId"]

    produced = run.send(ev.Terminate("stop"))

    assert {(c.task_id, c.kind) for c in of_type(produced, cmd.ClearTimer)} == {
        (task_id, "timeout"),
        (task_id, "response"),
    }


def test_a_timer_delivered_early_is_armed_again_for_its_real_due_time() -> None:
    """A durable timer can be delivered before it is due (a restarted timer service, a clock
    skew): nothing times out, the same timer is set again."""
    run = slow(timeoutSeconds=60, timeoutPolicy="TIME_OUT_WF")
    run.poll("a")
    task_id = run.task("a")["taskId"]
    due = run.timer(task_id, "timeout")
    assert due is not None
    run.advance(1_000)

    produced = run.fire(task_id, "timeout")

    assert produced == [cmd.SetTimer(task_id, "timeout", due)]
    assert run.task("a")["status"] == "IN_PROGRESS"
    assert run.status == "RUNNING"


def test_a_timer_of_a_task_that_ended_is_ignored() -> None:
    run = slow(timeoutSeconds=60, timeoutPolicy="TIME_OUT_WF")
    run.poll("a")
    task_id = run.task("a")["taskId"]
    run.complete("a")
    run.advance(120_000)

    assert run.fire(task_id, "timeout") == []
    assert run.fire(task_id, "response") == []
    assert run.task("a")["status"] == "COMPLETED"
    assert run.status == "RUNNING"


def test_a_timer_of_a_superseded_attempt_is_ignored() -> None:
    run = slow(timeoutSeconds=60, timeoutPolicy="TIME_OUT_WF", retryCount=1)
    run.poll("a")
    first_id = run.task("a")["taskId"]
    run.fail("a")
    run.advance(120_000)

    assert run.fire(first_id, "timeout") == []
    assert run.task("a")["status"] == "SCHEDULED"
    assert run.status == "RUNNING"


# -- the workflow's timeoutSeconds -------------------------------------------------------------


def timed_workflow(policy: str, **extra: Any) -> Run:
    return Run(workflow(simple("a"), simple("b"), timeoutSeconds=60, timeoutPolicy=policy, **extra), INPUT)


def test_a_workflow_past_its_timeout_seconds_with_time_out_wf_is_timed_out() -> None:
    """checkWorkflowTimeout, TIME_OUT_WF: TerminateWorkflowException(reason, TIMED_OUT); pending
    tasks are cancelled."""
    run = timed_workflow("TIME_OUT_WF")
    started = run.now
    assert run.timers[WORKFLOW_TIMER] == started + 60_000
    run.poll("a")

    assert run.advance(59_999) == []
    produced = run.advance(1)

    assert run.status == "TIMED_OUT"
    assert run.state.workflow["reasonForIncompletion"] == (
        "Workflow timed out after 60 seconds. Timeout configured as 60 seconds. "
        "Timeout policy configured to TIME_OUT_WF"
    )
    assert run.task("a")["status"] == "CANCELED"
    assert of_type(produced, cmd.CancelTask) == [cmd.CancelTask(run.task("a"))]
    assert of_type(produced, cmd.WorkflowEnded) == [cmd.WorkflowEnded("TIMED_OUT")]


def test_a_workflow_past_its_timeout_seconds_with_alert_only_keeps_running() -> None:
    """checkWorkflowTimeout, ALERT_ONLY: only recorded."""
    run = timed_workflow("ALERT_ONLY")

    produced = run.advance(60_000)

    [alert] = of_type(produced, cmd.Alert)
    assert "Workflow timed out after 60 seconds" in alert.message
    assert run.status == "RUNNING"
    run.complete("a")
    run.complete("b")
    assert run.status == "COMPLETED"


def test_a_paused_workflow_still_times_out() -> None:
    """DeciderService.decide calls checkWorkflowTimeout before it returns for a PAUSED workflow."""
    run = timed_workflow("TIME_OUT_WF")
    run.send(ev.Pause())

    run.advance(60_000)

    assert run.status == "TIMED_OUT"


def test_a_workflow_timer_delivered_early_is_armed_again() -> None:
    run = timed_workflow("TIME_OUT_WF")
    due = run.timers[WORKFLOW_TIMER]
    run.advance(1_000)

    assert run.fire(*WORKFLOW_TIMER) == [cmd.SetTimer(*WORKFLOW_TIMER, due)]
    assert run.status == "RUNNING"


def test_a_workflow_timer_after_the_workflow_ended_is_ignored() -> None:
    run = timed_workflow("TIME_OUT_WF")
    run.complete("a")
    run.complete("b")

    run.now += 120_000

    assert run.fire(*WORKFLOW_TIMER) == []
    assert run.status == "COMPLETED"


def test_a_workflow_without_timeout_seconds_sets_no_workflow_timer() -> None:
    run = Run(workflow(simple("a")))

    assert WORKFLOW_TIMER not in run.timers


# -- optional tasks --------------------------------------------------------------------------


def test_an_optional_task_out_of_retries_completes_with_errors_and_the_workflow_goes_on() -> None:
    """DeciderService.decide: a terminal unsuccessful optional task that retry() gave up on becomes
    COMPLETED_WITH_ERRORS and the next task is scheduled; the workflow COMPLETES."""
    run = Run(
        conductor_definition(OPTIONAL_WF),
        INPUT,
        task_defs=[task_def("task_optional", retryCount=1, retryDelaySeconds=0)],
    )
    run.fail("t1")
    assert run.task("t1")["status"] == "SCHEDULED"

    produced = run.fail("t1", "still broken")

    assert types(run) == [
        ("task_optional", "FAILED"),
        ("task_optional", "COMPLETED_WITH_ERRORS"),
        ("integration_task_2", "SCHEDULED"),
    ]
    assert dispatched(produced) == ["t2"]
    run.complete("t2", {"uuid": "u"})
    assert run.status == "COMPLETED"
    assert run.output == {"o1": "p1 value", "o2": "u", "o3": None}


def test_an_optional_task_that_times_out_under_retry_completes_with_errors() -> None:
    """checkTaskTimeout with RETRY -> TIMED_OUT, then the optional rule applies."""
    run = Run(
        workflow(simple("opt", name="slow", optional=True), simple("b")),
        task_defs=[task_def("slow", timeoutSeconds=30, timeoutPolicy="RETRY", retryCount=0, responseTimeoutSeconds=0)],
    )
    run.poll("opt")

    produced = run.advance(30_000)

    assert run.task("opt")["status"] == "COMPLETED_WITH_ERRORS"
    assert dispatched(produced) == ["b"]
    assert run.status == "RUNNING"


def test_an_optional_task_that_times_out_under_time_out_wf_still_times_the_workflow_out() -> None:
    """timeoutTaskWithTimeoutPolicy throws TerminateWorkflowException for TIME_OUT_WF before the
    decider ever looks at `optional`."""
    run = Run(
        workflow(simple("opt", name="slow", optional=True), simple("b")),
        task_defs=[task_def("slow", timeoutSeconds=30, timeoutPolicy="TIME_OUT_WF", responseTimeoutSeconds=0)],
    )
    run.poll("opt")

    run.advance(30_000)

    assert run.status == "TIMED_OUT"
    assert run.task("opt")["status"] == "TIMED_OUT"


# -- permissive tasks ------------------------------------------------------------------------


def test_a_failed_permissive_task_lets_the_workflow_go_on_then_fails_it_at_the_end() -> None:
    """DeciderService.decide: a permissive (not optional) task keeps its FAILED status, the next
    task is scheduled, and when the workflow would complete it FAILS with
    "Task <id> failed with status: <status> and reason: '<reason>'" for the last attempt."""
    run = Run(conductor_definition(PERMISSIVE_WF), INPUT)
    run.fail("t1", "first")
    assert run.task("t1")["status"] == "SCHEDULED"
    last = run.task("t1")

    produced = run.fail("t1", "second")

    assert types(run) == [
        ("task_permissive", "FAILED"),
        ("task_permissive", "FAILED"),
        ("integration_task_2", "SCHEDULED"),
    ]
    assert dispatched(produced) == ["t2"]
    assert run.status == "RUNNING"

    produced = run.complete("t2", {"uuid": "u"})

    assert run.status == "FAILED"
    assert run.state.workflow["reasonForIncompletion"] == (
        f"Task {last['taskId']} failed with status: FAILED and reason: 'second'"
    )
    assert of_type(produced, cmd.WorkflowEnded) == [cmd.WorkflowEnded("FAILED")]


def test_every_failed_permissive_task_is_listed() -> None:
    """The message joins each failed permissive task's line with ". "."""
    run = Run(conductor_definition(PERMISSIVE_WF), INPUT)
    run.fail("t1", "one")
    run.fail("t1", "two")
    t1 = run.task("t1")
    run.fail("t2", "three")
    run.fail("t2", "four")
    t2 = run.task("t2")

    assert run.status == "FAILED"
    assert run.state.workflow["reasonForIncompletion"] == (
        f"Task {t1['taskId']} failed with status: FAILED and reason: 'two'. "
        f"Task {t2['taskId']} failed with status: FAILED and reason: 'four'"
    )


def test_a_permissive_task_that_succeeds_on_retry_does_not_fail_the_workflow() -> None:
    run = Run(conductor_definition(PERMISSIVE_WF), INPUT)
    run.fail("t1")
    run.complete("t1", {"op": "ok"})
    run.complete("t2")

    assert run.status == "COMPLETED"


def test_a_permissive_and_optional_task_behaves_as_optional() -> None:
    """DeciderService.decide: the permissive rule only applies when the task is not optional."""
    run = Run(definition := conductor_definition(PERMISSIVE_OPTIONAL_WF), INPUT, task_defs=without_retries(definition))

    run.fail("t1", "ignored")

    assert run.task("t1")["status"] == "COMPLETED_WITH_ERRORS"
    run.complete("t2")
    assert run.status == "COMPLETED"


def test_a_timed_out_permissive_task_is_reported_with_its_own_status() -> None:
    run = Run(
        workflow(simple("p", name="slow", permissive=True), simple("b")),
        task_defs=[task_def("slow", timeoutSeconds=30, timeoutPolicy="RETRY", retryCount=0, responseTimeoutSeconds=0)],
    )
    run.poll("p")
    run.advance(30_000)
    assert run.task("b")["status"] == "SCHEDULED"

    run.complete("b")

    assert run.status == "FAILED"
    reason = run.state.workflow["reasonForIncompletion"]
    assert f"Task {run.task('p')['taskId']} failed with status: TIMED_OUT" in reason


def test_permissive_fork_branches_fail_the_workflow_only_when_the_join_is_reached() -> None:
    """ForkJoinSpec "Test retrying a failed permissive fork join workflow": t2 failing keeps the
    workflow RUNNING with the JOIN waiting and t3 scheduled; once t3 fails too the JOIN FAILS and
    so does the workflow, and t4 after the JOIN is never scheduled."""
    run = Run(conductor_definition(PERMISSIVE_FORK_WF))
    run.complete("t1")

    run.fail("t2", "Failed....")

    assert run.status == "RUNNING"
    assert types(run) == [
        ("FORK", "COMPLETED"),
        ("integration_p_task_0_RT_1", "COMPLETED"),
        ("integration_p_task_0_RT_2", "FAILED"),
        ("JOIN", "IN_PROGRESS"),
        ("integration_p_task_0_RT_3", "SCHEDULED"),
    ]

    run.fail("t3", "Failed....")

    assert run.status == "FAILED"
    assert [status for _, status in types(run)] == ["COMPLETED", "COMPLETED", "FAILED", "FAILED", "FAILED"]


# -- failureWorkflow ---------------------------------------------------------------------------


def failing_run(failure_workflow: str, workflow_input: dict[str, Any] | None = None, **start: Any) -> Run:
    definition = conductor_definition(LINEAR)
    definition["failureWorkflow"] = failure_workflow
    return Run(definition, {**INPUT, **(workflow_input or {})}, task_defs=without_retries(definition), **start)


def test_a_failed_workflow_starts_its_failure_workflow_and_names_it_in_its_output() -> None:
    """WorkflowExecutorOps.terminate/terminateWorkflow: the failureWorkflow is started with
    workflowId, reason, failureStatus, failureTaskId and the failed workflow itself, with the
    same correlationId and taskToDomain; the output's "conductor.failure_workflow" is its id."""
    run = failing_run("on_failure", correlation_id="corr-1", task_to_domain={"*": "blue"})
    failed_task_id = run.task("t1")["taskId"]

    produced = run.fail("t1", "broken")

    [start] = of_type(produced, cmd.StartWorkflow)
    assert start.name == "on_failure"
    assert start.correlation_id == "corr-1"
    assert start.task_to_domain == {"*": "blue"}
    assert start.input["workflowId"] == "wf-1"
    assert start.input["reason"] == f"Task {failed_task_id} failed with status: FAILED and reason: 'broken'"
    assert start.input["failureStatus"] == "FAILED"
    assert start.input["failureTaskId"] == failed_task_id
    failed_workflow = start.input["failedWorkflow"]
    assert failed_workflow["workflowId"] == "wf-1"
    assert failed_workflow["status"] == "FAILED"
    assert [task["taskId"] for task in failed_workflow["tasks"]] == [failed_task_id]
    assert not [key for task in failed_workflow["tasks"] for key in task if key.startswith("_")]
    assert run.output["conductor.failure_workflow"] == start.workflow_id
    assert start.workflow_id != "wf-1"


def test_the_failure_workflow_also_gets_the_failed_workflows_input() -> None:
    """WorkflowExecutorOps.terminateWorkflow builds the input as `new HashMap<>(workflow.getInput())`
    plus workflowId, reason, failureStatus, failureTaskId and failedWorkflow (FailureWorkflowSpec's
    failure workflow reads `${workflow.input}.a` from it)."""
    run = failing_run("on_failure", {"a": 1})

    [start] = of_type(run.fail("t1"), cmd.StartWorkflow)

    assert start.input["a"] == 1
    assert start.input["param1"] == "p1 value"
    assert start.input["workflowId"] == "wf-1"


def test_a_timed_out_workflow_starts_its_failure_workflow_with_that_status() -> None:
    """terminate() runs for TIMED_OUT as for FAILED: failureStatus is the workflow's status."""
    definition = workflow(simple("a", name="slow"), failureWorkflow="on_failure")
    run = Run(definition, task_defs=[task_def("slow", timeoutSeconds=30, timeoutPolicy="TIME_OUT_WF")])
    run.poll("a")

    produced = run.advance(30_000)

    [start] = of_type(produced, cmd.StartWorkflow)
    assert start.input["failureStatus"] == "TIMED_OUT"
    assert start.input["failureTaskId"] == run.task("a")["taskId"]


def test_a_workflow_timeout_starts_the_failure_workflow_without_a_failed_task() -> None:
    """checkWorkflowTimeout throws TerminateWorkflowException without a task: no failureTaskId."""
    run = Run(workflow(simple("a"), timeoutSeconds=10, timeoutPolicy="TIME_OUT_WF", failureWorkflow="on_failure"))

    produced = run.advance(10_000)

    [start] = of_type(produced, cmd.StartWorkflow)
    assert start.input["failureStatus"] == "TIMED_OUT"
    assert "failureTaskId" not in start.input


@pytest.mark.parametrize("name_form", ["$workflow.input.failureWfName", "${workflow.input.failureWfName}"])
def test_the_failure_workflow_name_can_come_from_the_workflow_input(name_form: str) -> None:
    """terminate(): a failureWorkflow starting with "$" names a workflow input
    ("$workflow.input.failureWfName", as in simple_workflow_1_integration_test.json); Podium also
    reads the "${workflow.input.failureWfName}" expression form."""
    run = failing_run(name_form, {"failureWfName": "compensate"})

    [start] = of_type(run.fail("t1"), cmd.StartWorkflow)

    assert start.name == "compensate"


def test_no_failure_workflow_is_started_when_its_name_input_is_missing() -> None:
    run = Run(definition := conductor_definition(LINEAR), INPUT, task_defs=without_retries(definition))

    produced = run.fail("t1")

    assert run.status == "FAILED"
    assert of_type(produced, cmd.StartWorkflow) == []
    assert "conductor.failure_workflow" not in run.output


def test_a_completed_workflow_starts_no_failure_workflow() -> None:
    run = failing_run("on_failure")
    run.complete("t1", {"op": "x"})
    run.complete("t2")

    assert run.status == "COMPLETED"
    assert of_type(run.commands, cmd.StartWorkflow) == []


def test_terminating_through_the_api_starts_no_failure_workflow() -> None:
    """WorkflowExecutorOps.terminateWorkflow(workflowId, reason) passes no failureWorkflow."""
    run = failing_run("on_failure")

    run.send(ev.Terminate("operator stop"))

    assert run.status == "TERMINATED"
    assert of_type(run.commands, cmd.StartWorkflow) == []
    assert "conductor.failure_workflow" not in run.output


def test_terminating_through_the_api_with_trigger_failure_workflow_starts_it() -> None:
    """DELETE /workflow/{id}?triggerFailureWorkflow=true (Orkes Conductor's flag, which Podium's
    gateway accepts): the workflow is TERMINATED and its failureWorkflow started all the same,
    with failureStatus TERMINATED and the given reason."""
    run = failing_run("on_failure")

    produced = run.send(ev.Terminate("operator stop", trigger_failure_workflow=True))

    assert run.status == "TERMINATED"
    [start] = of_type(produced, cmd.StartWorkflow)
    assert start.name == "on_failure"
    assert start.input["failureStatus"] == "TERMINATED"
    assert start.input["reason"] == "operator stop"
    assert run.output["conductor.failure_workflow"] == start.workflow_id


def test_a_terminate_task_failing_the_workflow_is_its_failure_task() -> None:
    """FailureWorkflowSpec "Test workflow with a task that failed": the failure workflow gets
    `failureTaskId` == the TERMINATE task's id (terminate() takes the exception's task)."""
    run = Run(conductor_definition(TERMINATE_FAILED_WF), {"a": 1})

    [start] = of_type(run.commands, cmd.StartWorkflow)

    assert run.status == "FAILED"
    assert start.input["failureTaskId"] == run.task("terminate0")["taskId"]


# -- WAIT and HUMAN on the clock ----------------------------------------------------------------


def test_a_wait_with_a_duration_completes_when_its_timer_is_due() -> None:
    """WaitTaskSpec / Wait: IN_PROGRESS until `duration` has passed, then COMPLETED and the next
    task is scheduled."""
    run = Run(workflow(wait("w", duration="30s"), simple("after")))
    started = run.now

    assert run.advance(29_999) == []
    assert run.task("w")["status"] == "IN_PROGRESS"

    produced = run.advance(1)

    assert run.task("w")["status"] == "COMPLETED"
    assert run.task("w")["endTime"] == started + 30_000
    assert dispatched(produced) == ["after"]


def test_a_wait_until_completes_at_that_moment() -> None:
    run = Run(workflow(wait("w", until="1970-01-01 00:20 UTC"), simple("after")), now=1_000_000)
    due = 20 * 60 * 1000
    assert run.timer(run.task("w")["taskId"], "wait") == due

    run.advance_to(due - 1)
    assert run.task("w")["status"] == "IN_PROGRESS"
    run.advance_to(due)

    assert run.task("w")["status"] == "COMPLETED"
    assert run.task("after")["status"] == "SCHEDULED"


def test_a_timed_wait_completed_through_the_api_clears_its_timer() -> None:
    """WaitTaskSpec: a WAIT is completed by a task update; its timer then has nothing to do."""
    run = Run(workflow(wait("w", duration="1h"), simple("after")))
    task_id = run.task("w")["taskId"]

    produced = run.send(ev.TaskUpdate(task_id, "COMPLETED", {"approved": True}))

    assert cmd.ClearTimer(task_id, "wait") in produced
    assert run.timer(task_id, "wait") is None
    assert dispatched(produced) == ["after"]


def test_waits_in_two_fork_branches_join_when_the_longer_one_ends() -> None:
    definition = workflow(
        fork("fork", [wait("short", duration="10s")], [wait("long", duration="1m")]),
        join("join", "short", "long"),
        simple("after"),
    )
    run = Run(definition)

    run.advance(10_000)
    assert run.statuses() == {
        "fork": "COMPLETED",
        "short": "COMPLETED",
        "long": "IN_PROGRESS",
        "join": "IN_PROGRESS",
    }

    produced = run.advance(50_000)

    assert run.task("join")["status"] == "COMPLETED"
    assert dispatched(produced) == ["after"]


def test_a_wait_in_a_loop_waits_again_in_every_iteration() -> None:
    loop = {
        "name": "loop",
        "taskReferenceName": "loop",
        "type": "DO_WHILE",
        "loopCondition": "if ($.loop['iteration'] < 2) { true; } else { false; }",
        "loopOver": [wait("pause", duration="5s")],
    }
    run = Run(workflow(loop))
    first = run.task("pause__1")
    assert run.timer(first["taskId"], "wait") == run.now + 5_000

    run.advance(5_000)

    second = run.task("pause__2")
    assert first["status"] == "COMPLETED"
    assert second["status"] == "IN_PROGRESS"
    assert run.timer(second["taskId"], "wait") == run.now + 5_000
    run.advance(5_000)
    assert run.task("loop")["status"] == "COMPLETED"
    assert run.status == "COMPLETED"


def test_a_human_task_waits_however_long_it_takes_for_its_update() -> None:
    """HUMAN: no timer of its own; only an update through the API ends it."""
    run = Run(workflow({"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"}, simple("after")))

    assert run.timers == {}
    assert run.advance(7 * 86_400_000) == []
    assert run.task("approve")["status"] == "IN_PROGRESS"

    produced = run.send(ev.TaskUpdate(run.task("approve")["taskId"], "COMPLETED", {"ok": True}))

    assert run.task("approve")["status"] == "COMPLETED"
    assert run.task("approve")["endTime"] == run.now
    assert dispatched(produced) == ["after"]
