"""Operations on a whole execution: restart, retry, rerun, skip a task, reset callbacks,
decide, and a child that runs again — on linear workflows and inside FORK, DO_WHILE and
SUB_WORKFLOW, on a hand-moved clock.

Behaviour follows Conductor's WorkflowExecutorOps (`restart`, `retry` and `taskToBeRescheduled`,
`rerunWF` and `finalizeRerun`, `skipTaskFromWorkflow`, `resetCallbacksForWorkflow`,
`updateAndPushParents`, `decide`) and the test-harness specs SimpleWorkflowSpec, ForkJoinSpec,
DoWhileSpec, SubWorkflowRestartSpec, SubWorkflowRetrySpec and SubWorkflowRerunSpec. A refused
operation raises `Rejected` and changes nothing: 409 for a workflow in the wrong state, 400
for a request naming something that does not exist.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from actors.workflow.state import WorkflowState
from definitions.models import WorkflowDef
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
FORK_WF = "workflows/fork_join_with_no_task_retry_integration_test.json"
PERMISSIVE_FORK_WF = "workflows/fork_join_with_no_permissive_task_retry_integration_test.json"
DO_WHILE_WF = "workflows/do_while_integration_test.json"
DO_WHILE = conductor_definition(DO_WHILE_WF)
WITH_SUB_WF = "workflows/workflow_with_sub_workflow_1_integration_test.json"
FORK_SUB_WF = "workflows/fork_join_sub_workflow.json"
INPUT = {"param1": "p1 value", "param2": "p2 value"}
SUB_INPUT = {**INPUT, "subwf": "sub_workflow", "nextSubwf": "integration_test_wf"}


def rejected(run: Run, event: ev.Event) -> ev.Rejected:
    """Send `event`, expecting it refused; the execution must be left as it was."""
    before = (run.status, rows(run), len(run.commands))
    with pytest.raises(ev.Rejected) as caught:
        run.send(event)
    assert (run.status, rows(run), len(run.commands)) == before
    return caught.value


def child_finished(
    run: Run, ref: str, status: str, output: dict[str, Any] | None = None, reason: str | None = None
) -> list[cmd.Command]:
    task = run.task(ref)
    return run.send(ev.ChildFinished(task["taskId"], task["subWorkflowId"], status, output or {}, reason))


def sub_workflow(ref: str, name: str = "child", **extra: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": name}, **extra}


def loop(ref: str, condition: str, *body: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "DO_WHILE",
        "loopCondition": condition,
        "loopOver": list(body),
    }


def failed_linear(**start: Any) -> Run:
    """simple_workflow_1 with t1 COMPLETED and t2 FAILED (no retries): the workflow FAILED."""
    run = Run(
        conductor_definition(LINEAR),
        INPUT,
        task_defs=[task_def("integration_task_2", retryCount=0, retryDelaySeconds=60)],
        **start,
    )
    run.advance(1_000)
    run.complete("t1", {"op": "task1.done"})
    run.advance(1_000)
    run.fail("t2", "failure...0")
    assert run.status == "FAILED"
    return run


def failed_fork() -> Run:
    """ForkJoinSpec "Test retrying a failed fork join workflow", up to the failure: t1 COMPLETED,
    t2 FAILED, so the JOIN and t3 (scheduled after t1) are CANCELED and the workflow FAILED."""
    definition = conductor_definition(FORK_WF)
    run = Run(definition, task_defs=without_retries(definition))
    run.complete("t1")
    run.fail("t2", "Failed....")
    assert run.status == "FAILED"
    assert types(run) == [
        ("FORK", "COMPLETED"),
        ("integration_task_0_RT_1", "COMPLETED"),
        ("integration_task_0_RT_2", "FAILED"),
        ("JOIN", "CANCELED"),
        ("integration_task_0_RT_3", "CANCELED"),
    ]
    return run


def failed_child(**start: Any) -> Run:
    """SubWorkflowRetrySpec's parent: t1 COMPLETED, its SUB_WORKFLOW t2's child FAILED."""
    run = Run(conductor_definition(WITH_SUB_WF), SUB_INPUT, **start)
    run.complete("t1", {"op": "task1.done"})
    child_finished(run, "t2", "FAILED", reason="leaf failed")
    assert run.status == "FAILED"
    return run


# -- restart ---------------------------------------------------------------------------------


def test_restart_runs_an_ended_workflow_again_from_its_first_task_under_the_same_id() -> None:
    """WorkflowExecutorOps.restart: only for a terminal workflow; every task is removed, reason,
    endTime and output are reset, createTime is now, the input is kept, and the decider
    schedules the first task again. SimpleWorkflowSpec "restart without using the latest
    definition"."""
    run = failed_linear()
    old_ids = {task["taskId"] for task in run.state.tasks}
    run.advance(5_000)

    produced = run.send(ev.Restart())

    assert run.status == "RUNNING"
    assert run.state.workflow_id == "wf-1"
    assert old_ids <= run.state.removed_task_ids
    assert rows(run) == [("t1", "integration_task_1", "SCHEDULED")]
    first = run.task("t1")
    assert first["taskId"] not in old_ids
    assert (first["inputData"]["p1"], first["inputData"]["p3"]) == ("p1 value", first["taskId"])
    assert dispatched(produced) == ["t1"]
    assert cmd.WorkflowReopened() in produced
    workflow_state = run.state.workflow
    assert "reasonForIncompletion" not in workflow_state
    assert (workflow_state["endTime"], workflow_state["output"]) == (0, {})
    assert workflow_state["createTime"] == run.now
    assert workflow_state["input"] == INPUT

    run.complete("t1", {"op": "again"})
    run.complete("t2", {"uuid": "u"})
    assert run.status == "COMPLETED"
    assert run.output == {"o1": "p1 value", "o2": "u", "o3": "again"}


def test_restart_can_take_a_new_definition() -> None:
    """restart(useLatestDefinitions=true): the latest definition replaces the execution's
    (SimpleWorkflowSpec "restart with the latest definition")."""
    run = failed_linear()
    latest = conductor_definition(LINEAR)
    latest["version"] = 2
    latest["tasks"] = [simple("fresh", name="integration_task_3"), *latest["tasks"]]

    run.send(ev.Restart(definition=WorkflowDef.model_validate(latest)))

    assert run.state.workflow["workflowVersion"] == 2
    assert rows(run) == [("fresh", "integration_task_3", "SCHEDULED")]
    run.complete("fresh")
    assert run.task("t1")["status"] == "SCHEDULED"


def test_a_completed_non_restartable_workflow_cannot_be_restarted() -> None:
    """SimpleWorkflowSpec "Test non restartable simple workflow": restart of a COMPLETED workflow
    whose definition says restartable=false is refused ("... is non-restartable")."""
    definition = conductor_definition(LINEAR)
    definition["restartable"] = False
    run = Run(definition, INPUT)
    run.complete("t1", {"op": "x"})
    run.complete("t2")

    error = rejected(run, ev.Restart())

    assert "non-restartable" in error.message
    assert run.status == "COMPLETED"


def test_a_failed_non_restartable_workflow_can_still_be_restarted() -> None:
    """SimpleWorkflowSpec "Test non restartable simple workflow": the FAILED run is restarted."""
    definition = conductor_definition(LINEAR)
    definition["restartable"] = False
    run = Run(definition, INPUT, task_defs=without_retries(definition))
    run.fail("t1", "failure...0")

    run.send(ev.Restart())

    assert run.status == "RUNNING"
    assert rows(run) == [("t1", "integration_task_1", "SCHEDULED")]


@pytest.mark.parametrize("event", [ev.Restart(), ev.Rerun(), ev.Retry()])
def test_a_running_or_paused_workflow_cannot_be_restarted_retried_or_rerun(event: ev.Event) -> None:
    """restart and rerunWF throw ConflictException (409) for a workflow not in a terminal state;
    retry refuses it too ("Workflow is still running", a NotFoundException in Conductor, which
    Podium answers with 409 like the other two)."""
    run = Run(conductor_definition(LINEAR), INPUT)
    assert rejected(run, event).status == 409
    run.send(ev.Pause())
    assert rejected(run, event).status == 409


def test_restarting_a_parent_starts_a_new_child() -> None:
    """SubWorkflowRestartSpec "Test restart on the root in a 3-level subworkflow": the restarted
    root's SUB_WORKFLOW task starts a NEW child workflow."""
    run = failed_child()
    old_child = run.task("t2")["subWorkflowId"]
    run.send(ev.Restart())

    produced = run.complete("t1", {"op1": "task1.done"})

    task = run.task("t2")
    assert task["status"] == "IN_PROGRESS"
    assert task["subWorkflowId"] != old_child
    [start] = of_type(produced, cmd.StartChild)
    assert start.child_workflow_id == task["subWorkflowId"]
    child_finished(run, "t2", "COMPLETED")
    assert run.status == "COMPLETED"
    assert types(run) == [("integration_task_1", "COMPLETED"), ("SUB_WORKFLOW", "COMPLETED")]


def test_a_terminated_workflow_can_be_restarted() -> None:
    run = Run(conductor_definition(LINEAR), INPUT)
    run.send(ev.Terminate("stop"))

    run.send(ev.Restart())

    assert run.status == "RUNNING"
    assert rows(run) == [("t1", "integration_task_1", "SCHEDULED")]


def test_restarting_a_child_makes_its_parent_wait_for_it_again() -> None:
    """restart -> updateAndPushParents: the parent's SUB_WORKFLOW task goes back to IN_PROGRESS."""
    run = failed_linear(parent_workflow_id="parent-1", parent_workflow_task_id="parent-task-1")

    produced = run.send(ev.Restart())

    assert of_type(produced, cmd.ReopenParent) == [cmd.ReopenParent("parent-1", "parent-task-1", "wf-1")]


def test_a_restarted_workflow_gets_its_whole_timeout_again() -> None:
    """checkWorkflowTimeout measures from createTime, which restart sets to now: the old timer,
    still in flight for the first run's deadline, is armed again for the new one."""
    run = Run(workflow(simple("a"), timeoutSeconds=60, timeoutPolicy="TIME_OUT_WF"))
    first_due = run.timers[("-", "workflow_timeout")]
    run.advance(60_000)
    assert run.status == "TIMED_OUT"
    run.advance(30_000)

    run.send(ev.Restart())

    new_due = run.now + 60_000
    assert run.timers[("-", "workflow_timeout")] == new_due
    run.now = first_due + 30_000
    assert run.fire("-", "workflow_timeout") == [cmd.SetTimer("-", "workflow_timeout", new_due)]
    assert run.status == "RUNNING"


def test_timers_of_the_tasks_a_restart_removed_are_ignored() -> None:
    run = Run(
        workflow(simple("a", name="slow"), simple("b")),
        task_defs=[task_def("slow", timeoutSeconds=60, retryCount=0, responseTimeoutSeconds=0)],
    )
    run.poll("a")
    old_id = run.task("a")["taskId"]
    run.send(ev.Terminate("stop"))
    run.send(ev.Restart())

    assert run.fire(old_id, "timeout") == []
    assert run.status == "RUNNING"
    assert run.task("a")["status"] == "SCHEDULED"


# -- retry -----------------------------------------------------------------------------------


def test_retry_reschedules_the_failed_task_at_once_and_completes() -> None:
    """WorkflowExecutorOps.retry / taskToBeRescheduled: the last failed attempt gets a copy with a
    new id, retryCount + 1, retriedTaskId, SCHEDULED with callbackAfterSeconds 0 (no retry delay),
    its input resolved again; the workflow is RUNNING with lastRetriedTime set.
    SimpleWorkflowSpec "Test simple workflow with retry at workflow level"."""
    run = failed_linear()
    failed = run.task("t2")
    run.advance(10_000)

    produced = run.send(ev.Retry())

    assert run.status == "RUNNING"
    assert cmd.WorkflowReopened() in produced
    assert "reasonForIncompletion" not in run.state.workflow
    assert run.state.workflow["lastRetriedTime"] == run.now
    assert types(run) == [
        ("integration_task_1", "COMPLETED"),
        ("integration_task_2", "FAILED"),
        ("integration_task_2", "SCHEDULED"),
    ]
    retry = run.task("t2")
    assert failed["retried"] is True
    assert (retry["retryCount"], retry["retriedTaskId"]) == (1, failed["taskId"])
    assert retry["callbackAfterSeconds"] == 0
    assert retry["inputData"] == {"tp1": "p1 value", "tp2": "task1.done", "tp3": retry["taskId"]}
    [dispatch] = of_type(produced, cmd.DispatchTask)
    assert (dispatch.task, dispatch.delay_ms) == (retry, 0)

    run.complete("t2", {"uuid": "u"})
    assert run.status == "COMPLETED"
    assert run.output == {"o1": "p1 value", "o2": "u", "o3": "task1.done"}


def test_a_retried_task_that_fails_again_is_not_retried_beyond_its_retry_count() -> None:
    """DeciderService.retry compares the attempt's retryCount with the TaskDef's: a workflow-level
    retry past it gets no automatic retries."""
    run = Run(
        workflow(simple("a", name="flaky")),
        task_defs=[task_def("flaky", retryCount=1, retryDelaySeconds=0)],
    )
    run.fail("a")
    run.fail("a")
    assert run.status == "FAILED"

    run.send(ev.Retry())
    assert run.task("a")["retryCount"] == 2
    run.fail("a")

    assert run.status == "FAILED"
    assert len(run.state.tasks) == 3


def test_retry_reschedules_a_task_cancelled_by_a_terminate() -> None:
    """retry(): a CANCELED task (other than a JOIN or DO_WHILE) is retriable."""
    run = Run(conductor_definition(LINEAR), INPUT)
    run.send(ev.Terminate("stop"))

    produced = run.send(ev.Retry())

    assert types(run) == [("integration_task_1", "CANCELED"), ("integration_task_1", "SCHEDULED")]
    assert dispatched(produced) == ["t1"]


def test_retry_reschedules_a_timed_out_task() -> None:
    run = Run(
        workflow(simple("a", name="slow")),
        task_defs=[task_def("slow", timeoutSeconds=30, timeoutPolicy="TIME_OUT_WF", responseTimeoutSeconds=0)],
    )
    run.poll("a")
    run.advance(30_000)
    assert run.status == "TIMED_OUT"

    run.send(ev.Retry())

    assert [status for _, _, status in rows(run)] == ["TIMED_OUT", "SCHEDULED"]
    assert run.status == "RUNNING"


def test_a_workflow_with_nothing_to_retry_is_refused() -> None:
    """retry(): "There are no retryable tasks! Use restart if you want to attempt entire workflow
    execution again." (ConflictException)."""
    run = Run(conductor_definition(LINEAR), INPUT)
    run.complete("t1", {"op": "x"})
    run.complete("t2")

    error = rejected(run, ev.Retry())

    assert error.status == 409
    assert error.message == (
        "There are no retryable tasks! Use restart if you want to attempt entire workflow execution again."
    )


def test_retrying_a_child_makes_its_parent_wait_for_it_again() -> None:
    """retry -> updateAndPushParents."""
    run = failed_linear(parent_workflow_id="parent-1", parent_workflow_task_id="parent-task-1")

    produced = run.send(ev.Retry())

    assert of_type(produced, cmd.ReopenParent) == [cmd.ReopenParent("parent-1", "parent-task-1", "wf-1")]


def test_a_retried_workflow_gets_its_whole_timeout_again_from_the_retry() -> None:
    """checkWorkflowTimeout measures from lastRetriedTime once the workflow was retried; the
    tasks its timeout cancelled are retried."""
    run = Run(workflow(simple("a"), timeoutSeconds=60, timeoutPolicy="TIME_OUT_WF"))
    run.advance(60_000)
    assert run.status == "TIMED_OUT"
    assert run.task("a")["status"] == "CANCELED"
    run.advance(10_000)

    run.send(ev.Retry())

    assert run.timers[("-", "workflow_timeout")] == run.now + 60_000
    assert [status for _, _, status in rows(run)] == ["CANCELED", "SCHEDULED"]
    run.advance(59_999)
    assert run.status == "RUNNING"
    run.advance(1)
    assert run.status == "TIMED_OUT"


# retry inside a FORK


def test_retry_inside_a_fork_reopens_the_join_and_retries_both_branches() -> None:
    """ForkJoinSpec "Test retrying a failed fork join workflow": the CANCELED JOIN goes back to
    IN_PROGRESS (same task), the FAILED t2 and the CANCELED t3 get new SCHEDULED attempts; once
    both complete the JOIN completes and t4 runs."""
    run = failed_fork()
    join_id = run.task("fanouttask_join")["taskId"]

    produced = run.send(ev.Retry())

    assert run.status == "RUNNING"
    assert types(run) == [
        ("FORK", "COMPLETED"),
        ("integration_task_0_RT_1", "COMPLETED"),
        ("integration_task_0_RT_2", "FAILED"),
        ("JOIN", "IN_PROGRESS"),
        ("integration_task_0_RT_3", "CANCELED"),
        ("integration_task_0_RT_2", "SCHEDULED"),
        ("integration_task_0_RT_3", "SCHEDULED"),
    ]
    assert run.task("fanouttask_join")["taskId"] == join_id
    assert sorted(dispatched(produced)) == ["t2", "t3"]

    run.complete("t3")
    assert run.task("fanouttask_join")["status"] == "IN_PROGRESS"
    run.complete("t2")
    assert run.task("fanouttask_join")["status"] == "COMPLETED"
    run.complete("t4")

    assert run.status == "COMPLETED"
    assert [status for _, status in types(run)] == [
        "COMPLETED",
        "COMPLETED",
        "FAILED",
        "COMPLETED",
        "CANCELED",
        "COMPLETED",
        "COMPLETED",
        "COMPLETED",
    ]


def test_retry_of_a_failed_permissive_fork_reopens_the_failed_join() -> None:
    """ForkJoinSpec "Test retrying a failed permissive fork join workflow": the FAILED JOIN over
    failed permissive tasks goes back to IN_PROGRESS; t2 and t3 are retried; the workflow then
    COMPLETES (8 tasks)."""
    run = Run(conductor_definition(PERMISSIVE_FORK_WF))
    run.complete("t1")
    run.fail("t2", "Failed....")
    run.fail("t3", "Failed....")
    assert run.status == "FAILED"

    run.send(ev.Retry())

    assert [status for _, status in types(run)] == [
        "COMPLETED",
        "COMPLETED",
        "FAILED",
        "IN_PROGRESS",
        "FAILED",
        "SCHEDULED",
        "SCHEDULED",
    ]
    run.complete("t3")
    run.complete("t2")
    run.complete("t4")
    assert run.status == "COMPLETED"
    assert len(run.state.tasks) == 8


# retry inside a DO_WHILE


def test_retry_inside_a_do_while_reopens_the_loop_and_it_carries_on() -> None:
    """DoWhileSpec "Test retrying a failed do while workflow": the CANCELED DO_WHILE is back
    IN_PROGRESS, the failed integration_task_0 gets a new attempt in the same iteration, and the
    iteration then runs to the end."""
    run = Run(DO_WHILE, {"loop": 1}, task_defs=without_retries(DO_WHILE))
    run.fail("integration_task_0__1", "induced..failure")
    assert run.status == "FAILED"
    assert types(run) == [("DO_WHILE", "CANCELED"), ("integration_task_0", "FAILED")]

    run.send(ev.Retry())

    assert types(run) == [
        ("DO_WHILE", "IN_PROGRESS"),
        ("integration_task_0", "FAILED"),
        ("integration_task_0", "SCHEDULED"),
    ]
    assert run.task("integration_task_0__1")["iteration"] == 1

    run.complete("integration_task_0__1")
    body = [task_type for task_type, _ in types(run)][3:]
    assert body == ["FORK", "integration_task_1", "integration_task_2", "JOIN"]
    run.complete("integration_task_1__1")
    run.complete("integration_task_2__1")

    assert run.status == "COMPLETED"
    assert types(run) == [
        ("DO_WHILE", "COMPLETED"),
        ("integration_task_0", "FAILED"),
        ("integration_task_0", "COMPLETED"),
        ("FORK", "COMPLETED"),
        ("integration_task_1", "COMPLETED"),
        ("integration_task_2", "COMPLETED"),
        ("JOIN", "COMPLETED"),
    ]


def test_a_task_in_a_do_while_is_retried_automatically_within_its_iteration() -> None:
    """DoWhileSpec "Test auto retrying a failed do while workflow": retryCount 1 -> the failed
    attempt is retried (same iteration, retriedTaskId) and the loop goes on."""
    run = Run(
        conductor_definition(DO_WHILE_WF),
        {"loop": 1},
        task_defs=[task_def("integration_task_0", retryCount=1, retryDelaySeconds=0)],
    )
    first = run.task("integration_task_0__1")

    run.fail("integration_task_0__1", "induced..failure")

    retry = run.task("integration_task_0__1")
    assert run.status == "RUNNING"
    assert (retry["retryCount"], retry["retriedTaskId"], retry["iteration"]) == (1, first["taskId"], 1)
    run.complete("integration_task_0__1")
    run.complete("integration_task_1__1")
    run.complete("integration_task_2__1")
    assert run.status == "COMPLETED"
    assert len(run.state.tasks) == 7


def test_retry_in_a_later_iteration_retries_that_iteration_and_the_loop_finishes() -> None:
    run = Run(DO_WHILE, {"loop": 2}, task_defs=without_retries(DO_WHILE))
    for ref in ("integration_task_0__1", "integration_task_1__1", "integration_task_2__1"):
        run.complete(ref)
    run.fail("integration_task_0__2")
    assert run.status == "FAILED"

    run.send(ev.Retry())

    assert run.task("integration_task_0__2")["status"] == "SCHEDULED"
    for ref in ("integration_task_0__2", "integration_task_1__2", "integration_task_2__2"):
        run.complete(ref)
    assert run.status == "COMPLETED"
    assert run.task("loopTask")["outputData"]["iteration"] == 2


# retry of a SUB_WORKFLOW task


def test_retry_of_a_failed_sub_workflow_task_starts_a_new_child() -> None:
    """SubWorkflowRetrySpec "Test retry on the root in a 3-level subworkflow": the root gets a new
    SUB_WORKFLOW task (retriedTaskId = the failed one, which is marked retried) with a NEW child."""
    run = failed_child()
    failed = run.task("t2")
    old_child = failed["subWorkflowId"]

    produced = run.send(ev.Retry())

    retry = run.task("t2")
    assert types(run) == [
        ("integration_task_1", "COMPLETED"),
        ("SUB_WORKFLOW", "FAILED"),
        ("SUB_WORKFLOW", "IN_PROGRESS"),
    ]
    assert failed["retried"] is True
    assert retry["retriedTaskId"] == failed["taskId"]
    assert retry["subWorkflowId"] != old_child
    [start] = of_type(produced, cmd.StartChild)
    assert (start.child_workflow_id, start.parent_task_id) == (retry["subWorkflowId"], retry["taskId"])
    assert of_type(produced, cmd.RetryChild) == []

    child_finished(run, "t2", "COMPLETED", {"done": True})
    assert run.status == "COMPLETED"
    assert len(run.state.tasks) == 3


def test_retry_resuming_sub_workflow_tasks_retries_the_child_in_place() -> None:
    """SubWorkflowRetrySpec "Test retry on the root with resume flag": no new task and no new
    child; the SUB_WORKFLOW task is IN_PROGRESS again while the failed child itself is retried."""
    run = failed_child()
    task = run.task("t2")
    child_id = task["subWorkflowId"]

    produced = run.send(ev.Retry(resume_subworkflow_tasks=True))

    assert run.status == "RUNNING"
    assert types(run) == [("integration_task_1", "COMPLETED"), ("SUB_WORKFLOW", "IN_PROGRESS")]
    assert run.task("t2") is task
    assert "reasonForIncompletion" not in task
    assert of_type(produced, cmd.RetryChild) == [cmd.RetryChild(child_id, "wf-1", task["taskId"])]
    assert of_type(produced, cmd.StartChild) == []
    # The retried child tells the parent it runs again: nothing more to do.
    assert run.send(ev.ChildReopened(task["taskId"], child_id)) == []

    child_finished(run, "t2", "COMPLETED", {"op": "task1.done"})
    assert run.status == "COMPLETED"
    assert types(run) == [("integration_task_1", "COMPLETED"), ("SUB_WORKFLOW", "COMPLETED")]


# -- rerun -----------------------------------------------------------------------------------


def test_rerun_from_the_start_runs_with_the_new_input_and_correlation_id() -> None:
    """rerunWF without a task id: every task removed, the workflow RUNNING with the new input and
    correlationId, and the first task scheduled (SubWorkflowRerunSpec "rerun on the root-level")."""
    run = failed_linear()
    old_ids = {task["taskId"] for task in run.state.tasks}

    produced = run.send(ev.Rerun(workflow_input={"param1": "new 1", "param2": "new 2"}, correlation_id="again"))

    assert run.status == "RUNNING"
    assert old_ids <= run.state.removed_task_ids
    assert rows(run) == [("t1", "integration_task_1", "SCHEDULED")]
    assert run.task("t1")["inputData"]["p1"] == "new 1"
    assert run.state.workflow["input"] == {"param1": "new 1", "param2": "new 2"}
    assert run.state.workflow["correlationId"] == "again"
    assert cmd.WorkflowReopened() in produced
    assert dispatched(produced) == ["t1"]


def test_rerun_from_a_task_drops_the_later_tasks_and_runs_it_again_with_the_given_input() -> None:
    """rerunWF with a task id: tasks after it (by seq) are removed; the task itself, same id, is
    SCHEDULED again with its output cleared and `taskInput` as input."""
    run = Run(conductor_definition(LINEAR), INPUT)
    run.complete("t1", {"op": "first"})
    run.complete("t2", {"uuid": "u1"})
    assert run.status == "COMPLETED"
    t1 = run.task("t1")
    t2_id = run.task("t2")["taskId"]

    produced = run.send(ev.Rerun(task_id=t1["taskId"], task_input={"p1": "override"}))

    assert run.status == "RUNNING"
    assert t2_id in run.state.removed_task_ids
    assert rows(run) == [("t1", "integration_task_1", "SCHEDULED")]
    assert run.task("t1") is t1
    assert (t1["inputData"], t1["outputData"]) == ({"p1": "override"}, {})
    assert dispatched(produced) == ["t1"]
    assert cmd.WorkflowReopened() in produced

    run.complete("t1", {"op": "second"})
    assert run.task("t2")["inputData"]["tp2"] == "second"
    run.complete("t2", {"uuid": "u2"})
    assert run.status == "COMPLETED"
    assert run.output == {"o1": "p1 value", "o2": "u2", "o3": "second"}


def test_rerun_from_the_failed_task_runs_it_again() -> None:
    run = failed_linear()
    t2 = run.task("t2")

    run.send(ev.Rerun(task_id=t2["taskId"]))

    assert rows(run) == [("t1", "integration_task_1", "COMPLETED"), ("t2", "integration_task_2", "SCHEDULED")]
    assert "reasonForIncompletion" not in t2
    run.complete("t2")
    assert run.status == "COMPLETED"


def test_rerun_from_a_task_in_a_fork_branch_still_completes_the_workflow() -> None:
    """Rerunning from t2 (second branch) removes every later task by seq, the other branch's t3
    and the JOIN included; they are scheduled again — the JOIN waiting on `joinOn` as when the
    fork first ran — so the fork finishes and the workflow completes; t1 is not run again."""
    run = Run(conductor_definition(FORK_WF))
    run.complete("t1")
    run.complete("t2")
    run.complete("t3")
    run.complete("t4")
    assert run.status == "COMPLETED"
    t1 = run.task("t1")

    produced = run.send(ev.Rerun(task_id=run.task("t2")["taskId"]))

    assert run.status == "RUNNING"
    assert run.task("t1") is t1
    assert sorted(dispatched(produced)) == ["t2", "t3"]
    join_task = run.task("fanouttask_join")
    assert join_task["status"] == "IN_PROGRESS"
    assert join_task["inputData"] == {"joinOn": ["t3", "t2"]}
    assert "t4" not in run.state.by_ref

    run.complete("t2")
    assert join_task["status"] == "IN_PROGRESS"
    produced = run.complete("t3")

    assert join_task["status"] == "COMPLETED"
    assert dispatched(produced) == ["t4"]
    run.complete("t4")
    assert run.status == "COMPLETED"
    assert t1["status"] == "COMPLETED"


def test_rerun_from_a_task_in_a_do_while_reopens_the_loop() -> None:
    """finalizeRerun: a DO_WHILE (or JOIN) left terminal and unsuccessful by the failure goes back
    to IN_PROGRESS; the rerun task's iteration then runs on and the loop completes."""
    run = Run(DO_WHILE, {"loop": 1}, task_defs=without_retries(DO_WHILE))
    run.fail("integration_task_0__1", "broken")
    assert run.task("loopTask")["status"] == "CANCELED"

    run.send(ev.Rerun(task_id=run.task("integration_task_0__1")["taskId"]))

    assert run.status == "RUNNING"
    assert run.task("loopTask")["status"] == "IN_PROGRESS"
    assert run.task("integration_task_0__1")["status"] == "SCHEDULED"
    run.complete("integration_task_0__1")
    run.complete("integration_task_1__1")
    run.complete("integration_task_2__1")
    assert run.task("loopTask")["status"] == "COMPLETED"
    assert run.status == "COMPLETED"


def test_rerun_from_a_fork_branch_inside_a_do_while_waits_for_the_whole_iteration() -> None:
    """Rerun from integration_task_1__1 (a fork branch in the loop body): the later tasks of the
    iteration are scheduled again, the JOIN waits for both branches, the DO_WHILE is IN_PROGRESS
    until the iteration really ends."""
    run = Run(DO_WHILE, {"loop": 1}, task_defs=without_retries(DO_WHILE))
    run.complete("integration_task_0__1")
    run.fail("integration_task_1__1", "broken")
    assert run.status == "FAILED"

    run.send(ev.Rerun(task_id=run.task("integration_task_1__1")["taskId"]))

    assert run.task("integration_task_1__1")["status"] == "SCHEDULED"
    assert run.task("integration_task_2__1")["status"] == "SCHEDULED"
    assert run.task("join__1")["status"] == "IN_PROGRESS"
    assert run.task("loopTask")["status"] == "IN_PROGRESS"
    run.complete("integration_task_1__1")
    run.complete("integration_task_2__1")
    assert run.task("join__1")["status"] == "COMPLETED"
    assert run.task("loopTask")["status"] == "COMPLETED"
    assert run.status == "COMPLETED"


def test_rerun_from_a_sub_workflow_task_starts_a_new_child() -> None:
    """rerunWF on a SUB_WORKFLOW task: the task is reset in place and a fresh child started."""
    run = failed_child()
    task = run.task("t2")
    old_child = task["subWorkflowId"]

    produced = run.send(ev.Rerun(task_id=task["taskId"]))

    assert run.task("t2") is task
    assert task["status"] == "IN_PROGRESS"
    assert task["subWorkflowId"] != old_child
    [start] = of_type(produced, cmd.StartChild)
    assert start.child_workflow_id == task["subWorkflowId"]
    child_finished(run, "t2", "COMPLETED")
    assert run.status == "COMPLETED"


def test_rerunning_a_child_makes_its_parent_wait_for_it_again() -> None:
    """rerunWF -> updateAndPushParents (SubWorkflowRerunSpec "rerun on the leaf-level")."""
    run = failed_linear(parent_workflow_id="parent-1", parent_workflow_task_id="parent-task-1")

    produced = run.send(ev.Rerun(task_id=run.task("t2")["taskId"]))

    assert of_type(produced, cmd.ReopenParent) == [cmd.ReopenParent("parent-1", "parent-task-1", "wf-1")]


def test_rerun_from_an_unknown_task_is_a_bad_request() -> None:
    """rerun(): IllegalArgumentException "Task <id> not found" (400)."""
    run = failed_linear()

    assert rejected(run, ev.Rerun(task_id="no-such-task")).status == 400


# -- skip a task -----------------------------------------------------------------------------


def three_tasks() -> Run:
    return Run(workflow(simple("a"), simple("b"), simple("c", inputParameters={"fromB": "${b.output.x}"})))


def test_a_task_skipped_before_it_is_reached_is_passed_over() -> None:
    """skipTaskFromWorkflow: a SKIPPED task with the request's input and output is added; when the
    workflow reaches it DeciderService.getNextTask moves past it (isTaskSkipped), and its output
    is there for later tasks."""
    run = three_tasks()

    produced = run.send(ev.SkipTask("b", task_input={"i": 1}, task_output={"x": "given"}))

    assert dispatched(produced) == []
    assert rows(run) == [("a", "a", "SCHEDULED"), ("b", "b", "SKIPPED")]
    skipped = run.task("b")
    assert (skipped["inputData"], skipped["outputData"]) == ({"i": 1}, {"x": "given"})

    produced = run.complete("a")

    assert dispatched(produced) == ["c"]
    assert run.task("c")["inputData"] == {"fromB": "given"}
    assert [status for _, _, status in rows(run)] == ["COMPLETED", "SKIPPED", "SCHEDULED"]
    run.complete("c")
    assert run.status == "COMPLETED"


def test_skipping_the_last_task_lets_the_workflow_complete_early() -> None:
    run = Run(workflow(simple("a"), simple("b")))
    run.send(ev.SkipTask("b"))

    run.complete("a")

    assert run.status == "COMPLETED"
    assert dispatched(run.commands) == ["a"]


def test_a_task_skipped_in_a_fork_branch_counts_as_done_for_the_join() -> None:
    """The JOIN sees the SKIPPED task as terminal and successful."""
    run = Run(conductor_definition(FORK_WF))
    run.send(ev.SkipTask("t3"))

    run.complete("t1")
    assert run.task("fanouttask_join")["status"] == "IN_PROGRESS"
    produced = run.complete("t2")

    assert run.task("fanouttask_join")["status"] == "COMPLETED"
    assert dispatched(produced) == ["t4"]


def test_a_task_already_reached_cannot_be_skipped() -> None:
    """skipTaskFromWorkflow: "The task referenced <ref> has already been processed, cannot be
    skipped" (Podium answers 409)."""
    run = three_tasks()

    error = rejected(run, ev.SkipTask("a"))

    assert error.status == 409
    assert error.message == "The task referenced a has already been processed, cannot be skipped"
    run.send(ev.SkipTask("b"))
    assert rejected(run, ev.SkipTask("b")).status == 409


def test_a_task_not_in_the_definition_cannot_be_skipped() -> None:
    """skipTaskFromWorkflow: "The task referenced by <ref> does not exist in the WorkflowDefinition"
    (Podium answers 400)."""
    run = three_tasks()

    assert rejected(run, ev.SkipTask("nope")).status == 400


def test_only_a_running_workflow_can_skip_a_task() -> None:
    """skipTaskFromWorkflow: "The workflow <id> is not running so the task referenced by <ref>
    cannot be skipped" (Podium answers 409)."""
    run = three_tasks()
    run.send(ev.Pause())
    assert rejected(run, ev.SkipTask("b")).status == 409
    run.send(ev.Terminate())
    assert rejected(run, ev.SkipTask("b")).status == 409


# -- reset callbacks --------------------------------------------------------------------------


def test_reset_callbacks_dispatches_a_task_waiting_out_its_retry_delay_now() -> None:
    """resetCallbacksForWorkflow: a SCHEDULED worker task with callbackAfterSeconds > 0 (a retry
    waiting its delay) is made visible at once and its callbackAfterSeconds set to 0."""
    run = Run(
        workflow(simple("a", name="flaky")),
        task_defs=[task_def("flaky", retryCount=1, retryDelaySeconds=600)],
    )
    [delayed] = of_type(run.fail("a"), cmd.DispatchTask)
    assert delayed.delay_ms == 600_000
    retry = run.task("a")

    produced = run.send(ev.ResetCallbacks())

    assert cmd.ClearTimer(retry["taskId"], cmd.DISPATCH_TIMER) in produced
    [now] = of_type(produced, cmd.DispatchTask)
    assert (now.task, now.delay_ms) == (retry, 0)
    assert retry["callbackAfterSeconds"] == 0
    run.complete("a")
    assert run.status == "COMPLETED"


def test_reset_callbacks_dispatches_a_task_a_worker_postponed_now() -> None:
    """SimpleWorkflowSpec "Test simple workflow when the task's call back after seconds are
    reset": after an IN_PROGRESS update with callbackAfterSeconds 3600 the task is pollable again
    only once the callbacks are reset."""
    run = Run(conductor_definition(LINEAR), INPUT)
    run.poll("t1")
    task = run.task("t1")
    run.send(ev.TaskUpdate(task["taskId"], "IN_PROGRESS", {"op": "task1.in.progress"}, callback_after_seconds=3600))

    produced = run.send(ev.ResetCallbacks())

    [now] = of_type(produced, cmd.DispatchTask)
    assert (now.task, now.delay_ms) == (task, 0)
    assert task["callbackAfterSeconds"] == 0
    run.complete("t1", {"op": "task1.done"})
    assert run.task("t2")["inputData"]["tp2"] == "task1.done"


def test_reset_callbacks_dispatches_a_task_waiting_out_its_start_delay_now() -> None:
    """SimpleTaskMapper sets callbackAfterSeconds = startDelay, so a delayed start is reset too."""
    run = Run(workflow(simple("a", startDelay=30)))

    produced = run.send(ev.ResetCallbacks())

    [now] = of_type(produced, cmd.DispatchTask)
    assert now.delay_ms == 0


def test_reset_callbacks_leaves_tasks_that_are_not_waiting_alone() -> None:
    run = Run(
        workflow(
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [simple("a")],
                    [{"name": "w", "taskReferenceName": "w", "type": "WAIT", "inputParameters": {"duration": "1h"}}],
                ],
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "w"]},
        )
    )

    assert run.send(ev.ResetCallbacks()) == []
    assert run.task("w")["status"] == "IN_PROGRESS"


def test_reset_callbacks_of_an_ended_workflow_is_refused() -> None:
    """resetCallbacksForWorkflow: ConflictException "Workflow is in terminal state. Status = ..."."""
    run = Run(workflow(simple("a")))
    run.complete("a")

    error = rejected(run, ev.ResetCallbacks())

    assert error.status == 409
    assert error.message == "Workflow is in terminal state. Status = COMPLETED"


# -- decide ----------------------------------------------------------------------------------


def reloaded(run: Run) -> None:
    """Load the execution again from its tasks, as a shard does after a restart."""
    run.state = WorkflowState(run.state.workflow, run.state.definition, [dict(task) for task in run.state.tasks])


def test_decide_moves_on_from_a_task_that_finished_but_was_not_decided() -> None:
    """WorkflowExecutorOps.decide: a terminal task not yet executed is decided and what follows is
    scheduled (PUT /workflow/decide/{id})."""
    run = Run(workflow(simple("a"), simple("b")))
    task = run.task("a")
    task.update(status="COMPLETED", endTime=run.now, outputData={"v": 1})
    reloaded(run)

    produced = run.send(ev.Decide())

    assert dispatched(produced) == ["b"]
    assert run.task("a")["executed"] is True


def test_decide_evaluates_a_join_whose_branches_are_done() -> None:
    run = Run(conductor_definition(FORK_WF))
    run.complete("t1")
    run.complete("t3")
    # t2 finished and was decided, but the JOIN's evaluation was lost.
    run.task("t2").update(status="COMPLETED", executed=True, endTime=run.now)
    reloaded(run)
    assert run.task("fanouttask_join")["status"] == "IN_PROGRESS"

    produced = run.send(ev.Decide())

    assert run.task("fanouttask_join")["status"] == "COMPLETED"
    assert dispatched(produced) == ["t4"]


def test_decide_with_nothing_to_do_changes_nothing() -> None:
    """DeciderService.decide on a workflow waiting for its workers, or already ended: no outcome."""
    run = Run(workflow(simple("a"), simple("b")))
    before = rows(run)

    assert run.send(ev.Decide()) == []
    assert rows(run) == before

    run.complete("a")
    run.complete("b")
    assert run.send(ev.Decide()) == []
    assert run.status == "COMPLETED"


# -- a child that runs again -----------------------------------------------------------------


def test_a_reopened_child_brings_its_ended_parent_back_to_running() -> None:
    """updateAndPushParents (SubWorkflowRestartSpec "restart on the mid-level"): the parent's
    SUB_WORKFLOW task is IN_PROGRESS again, its reason cleared, and the parent RUNNING; when the
    child then completes, so does the parent."""
    run = failed_child()
    task = run.task("t2")

    produced = run.send(ev.ChildReopened(task["taskId"], task["subWorkflowId"]))

    assert run.status == "RUNNING"
    assert "reasonForIncompletion" not in run.state.workflow
    assert task["status"] == "IN_PROGRESS"
    assert "reasonForIncompletion" not in task
    assert cmd.WorkflowReopened() in produced
    assert len(run.state.tasks) == 2

    produced = child_finished(run, "t2", "COMPLETED", {"op": "done"})

    assert task["status"] == "COMPLETED"
    assert run.status == "COMPLETED"
    assert of_type(produced, cmd.WorkflowEnded) == [cmd.WorkflowEnded("COMPLETED")]


def test_a_reopened_child_reopens_every_ancestor() -> None:
    """updateAndPushParents walks up the chain of parents."""
    run = failed_child(parent_workflow_id="root-1", parent_workflow_task_id="root-task-1")
    task = run.task("t2")

    produced = run.send(ev.ChildReopened(task["taskId"], task["subWorkflowId"]))

    assert of_type(produced, cmd.ReopenParent) == [cmd.ReopenParent("root-1", "root-task-1", "wf-1")]


def test_a_reopened_child_in_a_fork_reopens_the_join_and_the_cancelled_branch() -> None:
    """updateAndPushParents: in the parent, a CANCELED JOIN goes back to IN_PROGRESS and any other
    CANCELED task is SCHEDULED again and queued, so the other branch runs and the JOIN can
    complete."""
    run = Run(conductor_definition(FORK_SUB_WF), INPUT)
    child_finished(run, "st1", "FAILED", reason="child failed")
    assert run.status == "FAILED"
    assert run.task("t2")["status"] == "CANCELED"
    assert run.task("fanouttask_join")["status"] == "CANCELED"
    st1 = run.task("st1")

    produced = run.send(ev.ChildReopened(st1["taskId"], st1["subWorkflowId"]))

    assert run.status == "RUNNING"
    assert run.task("fanouttask_join")["status"] == "IN_PROGRESS"
    assert run.task("t2")["status"] == "SCHEDULED"
    assert dispatched(produced) == ["t2"]

    child_finished(run, "st1", "COMPLETED")
    run.complete("t2")
    assert run.task("fanouttask_join")["status"] == "COMPLETED"
    assert run.status == "COMPLETED"


def test_a_reopened_child_in_a_do_while_reopens_the_loop() -> None:
    """updateAndPushParents reopens a CANCELED DO_WHILE; the loop then runs to its end."""
    definition = workflow(loop("loop", "if ($.loop['iteration'] < 2) { true; } else { false; }", sub_workflow("st")))
    run = Run(definition)
    child_finished(run, "st__1", "COMPLETED")
    child_finished(run, "st__2", "FAILED", reason="child failed")
    assert run.status == "FAILED"
    st = run.task("st__2")

    run.send(ev.ChildReopened(st["taskId"], st["subWorkflowId"]))

    assert run.task("loop")["status"] == "IN_PROGRESS"
    assert st["status"] == "IN_PROGRESS"
    child_finished(run, "st__2", "COMPLETED")
    assert run.task("loop")["status"] == "COMPLETED"
    assert run.status == "COMPLETED"


def test_an_optional_childs_reopening_leaves_the_parent_alone() -> None:
    """updateAndPushParents: "Sub workflow task ... is optional, skip updating parents"."""
    definition = workflow(sub_workflow("st", optional=True), simple("after"), simple("last"))
    run = Run(definition, task_defs=without_retries(definition))
    child_finished(run, "st", "FAILED")
    run.complete("after")
    run.fail("last")
    assert run.status == "FAILED"
    st = run.task("st")

    assert run.send(ev.ChildReopened(st["taskId"], st["subWorkflowId"])) == []
    assert run.status == "FAILED"
    assert st["status"] == "COMPLETED_WITH_ERRORS"


def test_a_reopened_child_of_a_superseded_attempt_is_ignored() -> None:
    """updateAndPushParents stops at a SUB_WORKFLOW task that was retried: the parent has moved on."""
    run = Run(
        workflow(sub_workflow("st", name="child")),
        task_defs=[task_def("st", retryCount=1, retryDelaySeconds=0)],
    )
    first = run.task("st")
    child_finished(run, "st", "FAILED")
    assert first["retried"] is True

    assert run.send(ev.ChildReopened(first["taskId"], first["subWorkflowId"])) == []
    assert run.task("st")["taskId"] != first["taskId"]
    assert run.task("st")["status"] == "IN_PROGRESS"


def test_a_reopening_for_another_child_is_ignored() -> None:
    run = failed_child()
    task = run.task("t2")

    assert run.send(ev.ChildReopened(task["taskId"], "some-other-child")) == []
    assert run.status == "FAILED"
