"""The workflow around its tasks: pause and resume, terminate, output, expressions,
retries per TaskDef, optional tasks, and events that arrive too late.

Behaviour follows Conductor's SimpleWorkflowSpec and DeciderService: retry delays are
FIXED (`retryDelaySeconds`), EXPONENTIAL_BACKOFF (delay * 2^n) or LINEAR_BACKOFF
(delay * backoffScaleFactor * (n + 1)) for the (n + 1)th retry; when retries run out the
workflow ends FAILED (TIMED_OUT for a timed-out task, TERMINATED for a cancelled one) with
"Task <id> failed with status: <STATUS> and reason: '<reason>'", and its output is
resolved as on completion.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from tests.unit.machine_harness import Run
from tests.unit.operators.support import (
    conductor_definition,
    dispatched,
    of_type,
    rows,
    simple,
    types,
    without_retries,
    workflow,
)

LINEAR = "workflows/simple_workflow_1_integration_test.json"
INPUT = {"param1": "p1 value", "param2": "p2 value"}


def task_def(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, **fields}


# -- pause and resume -----------------------------------------------------------------------


def test_a_paused_workflow_records_results_but_schedules_nothing_until_resumed() -> None:
    run = Run(conductor_definition(LINEAR), INPUT)
    run.send(ev.Pause())
    assert run.status == "PAUSED"

    produced = run.complete("t1", {"op": "done"})

    assert run.task("t1")["status"] == "COMPLETED"
    assert dispatched(produced) == []
    assert types(run) == [("integration_task_1", "COMPLETED")]

    produced = run.send(ev.Resume())

    assert run.status == "RUNNING"
    assert dispatched(produced) == ["t2"]
    assert run.task("t2")["inputData"]["tp2"] == "done"


def test_a_paused_workflow_does_not_complete_until_resumed() -> None:
    run = Run(workflow(simple("only")))
    run.send(ev.Pause())
    run.complete("only")
    assert run.status == "PAUSED"

    produced = run.send(ev.Resume())

    assert run.status == "COMPLETED"
    assert of_type(produced, cmd.WorkflowEnded) == [cmd.WorkflowEnded("COMPLETED")]


def test_pause_and_resume_only_apply_in_the_right_state() -> None:
    run = Run(workflow(simple("a")))

    assert run.send(ev.Resume()) == []
    assert run.status == "RUNNING"
    run.send(ev.Pause())
    assert run.send(ev.Pause()) == []
    assert run.status == "PAUSED"


def test_a_timer_firing_while_paused_completes_the_wait_and_resume_moves_on() -> None:
    run = Run(
        workflow(
            {"name": "w", "taskReferenceName": "w", "type": "WAIT", "inputParameters": {"duration": "1s"}}, simple("b")
        )
    )
    run.send(ev.Pause())

    run.send(ev.TimerFired(run.task("w")["taskId"], "wait"))
    assert run.task("w")["status"] == "COMPLETED"
    assert len(run.state.tasks) == 1

    assert dispatched(run.send(ev.Resume())) == ["b"]


# -- terminate -------------------------------------------------------------------------------


def test_terminate_cancels_pending_tasks_and_takes_them_out_of_their_queues() -> None:
    run = Run(conductor_definition(LINEAR), INPUT)
    run.now += 10

    produced = run.send(ev.Terminate("operator says stop"))

    assert run.status == "TERMINATED"
    workflow_state = run.state.workflow
    assert workflow_state["reasonForIncompletion"] == "operator says stop"
    assert workflow_state["endTime"] == run.now
    task = run.task("t1")
    assert task["status"] == "CANCELED"
    assert task["endTime"] == run.now
    assert of_type(produced, cmd.CancelTask) == [cmd.CancelTask(task)]
    assert of_type(produced, cmd.WorkflowEnded) == [cmd.WorkflowEnded("TERMINATED")]
    # Like Conductor, a terminated workflow still gets its output resolved.
    assert run.output == {"o1": "p1 value", "o2": None, "o3": None}


def test_a_paused_workflow_can_be_terminated() -> None:
    run = Run(workflow(simple("a")))
    run.send(ev.Pause())

    run.send(ev.Terminate())

    assert run.status == "TERMINATED"
    assert run.state.workflow["reasonForIncompletion"] == "Terminated"


def test_a_finished_workflow_ignores_terminate_and_every_other_event() -> None:
    run = Run(workflow(simple("a")))
    task_id = run.task("a")["taskId"]
    run.complete("a", {"v": 1})
    assert run.status == "COMPLETED"

    for event in (
        ev.Terminate("too late"),
        ev.Pause(),
        ev.TaskUpdate(task_id, "FAILED"),
        ev.TaskPolled(task_id),
        ev.TimerFired(task_id, "wait"),
        ev.ChildFinished(task_id, "child", "COMPLETED"),
        ev.Redispatch(),
    ):
        assert run.send(event) == []
    assert run.status == "COMPLETED"
    assert run.task("a")["status"] == "COMPLETED"
    assert run.output == {"v": 1}


def test_a_task_cancelled_from_outside_terminates_the_workflow() -> None:
    run = Run(workflow(simple("a"), simple("b")))

    run.send(ev.TaskUpdate(run.task("a")["taskId"], "CANCELED", reason_for_incompletion="cancelled by hand"))

    assert run.status == "TERMINATED"
    assert "cancelled by hand" in run.state.workflow["reasonForIncompletion"]
    assert len(run.state.tasks) == 1


# -- events for finished work ------------------------------------------------------------


def test_a_second_result_for_a_finished_task_is_ignored() -> None:
    run = Run(workflow(simple("a"), simple("b")))
    run.complete("a", {"first": True})
    task_id = run.task("a")["taskId"]

    assert run.send(ev.TaskUpdate(task_id, "COMPLETED", {"second": True})) == []
    assert run.send(ev.TaskUpdate(task_id, "FAILED")) == []

    assert run.task("a")["outputData"] == {"first": True}
    assert [ref for ref, _, _ in rows(run)] == ["a", "b"]


def test_a_result_for_a_retried_attempt_is_ignored() -> None:
    run = Run(workflow(simple("a", name="flaky")), task_defs=[task_def("flaky", retryCount=1, retryDelaySeconds=0)])
    first_id = run.task("a")["taskId"]
    run.fail("a")

    assert run.send(ev.TaskUpdate(first_id, "COMPLETED", {"late": True})) == []
    assert run.task("a")["status"] == "SCHEDULED"
    assert run.status == "RUNNING"


def test_an_unknown_task_id_is_ignored() -> None:
    run = Run(workflow(simple("a")))

    assert run.send(ev.TaskUpdate("no-such-task", "COMPLETED")) == []
    assert run.send(ev.TaskPolled("no-such-task")) == []
    assert run.send(ev.TimerFired("no-such-task", "wait")) == []


def test_a_task_is_polled_only_once() -> None:
    run = Run(workflow(simple("a")))
    task_id = run.task("a")["taskId"]
    run.send(ev.TaskPolled(task_id, "w1"))

    run.send(ev.TaskPolled(task_id, "w2"))

    assert run.task("a")["workerId"] == "w1"
    assert run.task("a")["pollCount"] == 1


def test_a_task_cannot_be_updated_to_scheduled() -> None:
    run = Run(workflow(simple("a")))

    with pytest.raises(ValueError, match="SCHEDULED"):
        run.send(ev.TaskUpdate(run.task("a")["taskId"], "SCHEDULED"))


# -- output parameters and expressions ------------------------------------------------------


def test_output_parameters_and_expressions() -> None:
    definition = workflow(
        simple("t", inputParameters={"list": "${workflow.input.items[1]}", "key": "${workflow.input.map['a-b']}"}),
        outputParameters={
            "fromTask": "${t.output.deep.value}",
            "listItem": "${t.output.list[0]}",
            "text": "id=${workflow.workflowId} n=${t.output.n}",
            "literal": "$${not.resolved}",
            "nested": {"items": ["${workflow.input.items}", 1]},
            "missing": "${t.output.nothing.here}",
            "meta": {"type": "${workflow.workflowType}", "version": "${workflow.version}"},
            "correlation": "${workflow.correlationId}",
        },
        name="expr_wf",
    )
    run = Run(definition, {"items": ["x", "y"], "map": {"a-b": 7}}, correlation_id="corr")
    assert run.task("t")["inputData"] == {"list": "y", "key": 7}

    run.complete("t", {"deep": {"value": 3}, "list": [True], "n": 5})

    assert run.output == {
        "fromTask": 3,
        "listItem": True,
        "text": "id=wf-1 n=5",
        "literal": "${not.resolved}",
        "nested": {"items": [["x", "y"], 1]},
        "missing": None,
        "meta": {"type": "expr_wf", "version": 1},
        "correlation": "corr",
    }


def test_the_workflow_input_template_fills_missing_inputs() -> None:
    definition = workflow(simple("t", inputParameters={"a": "${workflow.input.a}", "b": "${workflow.input.b}"}))
    definition["inputTemplate"] = {"a": "default a", "b": "default b"}

    run = Run(definition, {"b": "given b"})

    assert run.state.workflow["input"] == {"a": "default a", "b": "given b"}
    assert run.task("t")["inputData"] == {"a": "default a", "b": "given b"}


def test_task_output_can_be_read_whole_and_by_input() -> None:
    definition = workflow(
        simple("a", inputParameters={"x": 1}),
        simple("b", inputParameters={"aOut": "${a.output}", "aIn": "${a.input.x}", "aStatus": "${a.status}"}),
    )
    run = Run(definition)

    run.complete("a", {"y": 2})

    assert run.task("b")["inputData"] == {"aOut": {"y": 2}, "aIn": 1, "aStatus": "COMPLETED"}


# -- retries ---------------------------------------------------------------------------------


def test_a_failed_task_is_retried_with_its_input_resolved_again_after_the_fixed_delay() -> None:
    run = Run(
        conductor_definition(LINEAR),
        INPUT,
        task_defs=[task_def("integration_task_2", retryCount=3, retryDelaySeconds=2)],
    )
    run.complete("t1", {"op": "task1.output"})
    first = run.task("t2")

    produced = run.fail("t2", "failure...0")

    retry = run.task("t2")
    assert retry is not first
    [dispatch] = of_type(produced, cmd.DispatchTask)
    assert dispatch.task is retry
    assert dispatch.delay_ms == 2_000
    assert retry["retryCount"] == 1
    assert retry["retriedTaskId"] == first["taskId"]
    assert first["inputData"] == {"tp1": "p1 value", "tp2": "task1.output", "tp3": first["taskId"]}
    # As Conductor's retry: inputParameters are resolved again, so ${CPEWF_TASK_ID} is the new attempt's id.
    assert retry["inputData"] == {"tp1": "p1 value", "tp2": "task1.output", "tp3": retry["taskId"]}
    assert first["retried"] is True
    assert run.status == "RUNNING"


def test_retries_then_success_complete_the_workflow_and_record_the_failed_task() -> None:
    run = Run(
        conductor_definition(LINEAR),
        INPUT,
        task_defs=[task_def("integration_task_2", retryCount=3, retryDelaySeconds=2)],
    )
    run.complete("t1", {"op": "x"})
    run.fail("t2")
    run.fail("t2")

    run.complete("t2", {"uuid": "u"})

    assert run.status == "COMPLETED"
    assert types(run) == [
        ("integration_task_1", "COMPLETED"),
        ("integration_task_2", "FAILED"),
        ("integration_task_2", "FAILED"),
        ("integration_task_2", "COMPLETED"),
    ]
    tasks = run.state.tasks
    assert tasks[2]["retriedTaskId"] == tasks[1]["taskId"]
    assert tasks[3]["retriedTaskId"] == tasks[2]["taskId"]
    assert run.state.workflow["failedReferenceTaskNames"] == ["t2"]
    assert run.state.workflow["failedTaskNames"] == ["integration_task_2"]


@pytest.mark.parametrize(
    ("retry_logic", "scale", "delays"),
    [
        ("FIXED", 1, [3_000, 3_000, 3_000]),
        ("EXPONENTIAL_BACKOFF", 1, [3_000, 6_000, 12_000]),
        ("LINEAR_BACKOFF", 2, [6_000, 12_000, 18_000]),
    ],
)
def test_retry_delays_follow_the_retry_logic(retry_logic: str, scale: int, delays: list[int]) -> None:
    definition = task_def("flaky", retryCount=3, retryDelaySeconds=3, retryLogic=retry_logic, backoffScaleFactor=scale)
    run = Run(workflow(simple("a", name="flaky")), task_defs=[definition])

    seen = []
    for _ in delays:
        [dispatch] = of_type(run.fail("a"), cmd.DispatchTask)
        seen.append(dispatch.delay_ms)

    assert seen == delays
    assert run.task("a")["retryCount"] == 3


def test_running_out_of_retries_fails_the_workflow_with_conductors_reason_and_output() -> None:
    definition = conductor_definition(LINEAR)
    definition["outputParameters"]["validationErrors"] = "${t1.output.ErrorMessage}"
    run = Run(definition, INPUT, task_defs=[task_def("integration_task_1", retryCount=1, retryDelaySeconds=0)])
    run.fail("t1", "first")

    task = run.task("t1")
    produced = run.send(
        ev.TaskUpdate(task["taskId"], "FAILED", {"ErrorMessage": "There was an error"}, "NON TRANSIENT ERROR")
    )

    assert run.status == "FAILED"
    assert run.state.workflow["reasonForIncompletion"] == (
        f"Task {task['taskId']} failed with status: FAILED and reason: 'NON TRANSIENT ERROR'"
    )
    assert run.output["o1"] == "p1 value"
    assert run.output["validationErrors"] == "There was an error"
    assert of_type(produced, cmd.WorkflowEnded) == [cmd.WorkflowEnded("FAILED")]
    assert dispatched(produced) == []
    assert len(run.state.tasks) == 2


def test_a_terminal_error_is_never_retried() -> None:
    run = Run(conductor_definition(LINEAR), INPUT, task_defs=[task_def("integration_task_1", retryCount=5)])

    run.fail("t1", "NON TRANSIENT ERROR OCCURRED", terminal=True)

    assert run.status == "FAILED"
    assert run.task("t1")["retryCount"] == 0
    assert run.state.workflow["failedReferenceTaskNames"] == ["t1"]
    assert (
        "failed with status: FAILED and reason: 'NON TRANSIENT ERROR OCCURRED'"
        in run.state.workflow["reasonForIncompletion"]
    )


def test_a_simple_task_without_a_task_def_gets_conductors_adhoc_one() -> None:
    """MetadataMapperService: a SIMPLE task with no TaskDef gets `new TaskDef(name)`: three
    retries, 60 s apart, then the workflow fails."""
    run = Run(workflow(simple("a")))

    for attempt in range(3):
        [dispatch] = of_type(run.fail("a"), cmd.DispatchTask)
        assert run.status == "RUNNING"
        assert (dispatch.task["retryCount"], dispatch.task["status"]) == (attempt + 1, "SCHEDULED")
        assert dispatch.delay_ms == 60_000
        run.advance(60_000)
    run.fail("a")

    assert run.status == "FAILED"
    assert len(run.state.tasks) == 4


def test_a_registered_task_def_without_retries_fails_at_once() -> None:
    run = Run(workflow(simple("a")), task_defs=[task_def("a", retryCount=0)])

    run.fail("a")

    assert run.status == "FAILED"
    assert len(run.state.tasks) == 1


def test_a_system_task_gets_no_adhoc_task_def() -> None:
    """Only worker tasks get the ad-hoc TaskDef: a failing INLINE task is not retried."""
    run = Run(workflow({"name": "boom", "taskReferenceName": "boom", "type": "INLINE",
                        "inputParameters": {"evaluatorType": "javascript", "expression": "(function(){throw 'x'})()"}}))

    assert run.status == "FAILED"
    assert [t["status"] for t in run.state.tasks] == ["FAILED"]


def test_the_workflow_tasks_retry_count_wins_over_the_task_defs() -> None:
    run = Run(
        workflow(simple("a", name="flaky", retryCount=1)),
        task_defs=[task_def("flaky", retryCount=5, retryDelaySeconds=0)],
    )

    run.fail("a")
    run.fail("a")

    assert run.status == "FAILED"
    assert len(run.state.tasks) == 2


def test_an_embedded_task_definition_is_used_for_retries() -> None:
    definition = workflow(
        simple("a", name="embedded", taskDefinition={"name": "embedded", "retryCount": 1, "retryDelaySeconds": 7})
    )
    run = Run(definition)

    [dispatch] = of_type(run.fail("a"), cmd.DispatchTask)

    assert dispatch.delay_ms == 7_000


def test_a_timed_out_task_is_retried_then_times_the_workflow_out() -> None:
    run = Run(workflow(simple("a", name="slow")), task_defs=[task_def("slow", retryCount=1, retryDelaySeconds=0)])
    run.send(ev.TaskUpdate(run.task("a")["taskId"], "TIMED_OUT"))
    assert run.task("a")["retryCount"] == 1

    run.send(ev.TaskUpdate(run.task("a")["taskId"], "TIMED_OUT"))

    assert run.status == "TIMED_OUT"


# -- optional tasks --------------------------------------------------------------------------


def test_an_optional_task_that_fails_completes_with_errors_and_the_workflow_goes_on() -> None:
    definition = workflow(simple("opt", optional=True), simple("next"))
    run = Run(definition, task_defs=without_retries(definition))

    produced = run.fail("opt", "not important")

    assert run.task("opt")["status"] == "COMPLETED_WITH_ERRORS"
    assert run.task("opt")["reasonForIncompletion"] == "not important"
    assert dispatched(produced) == ["next"]
    run.complete("next")
    assert run.status == "COMPLETED"


def test_an_optional_task_is_retried_before_it_completes_with_errors() -> None:
    run = Run(
        workflow(simple("opt", name="opt_task", optional=True)),
        task_defs=[task_def("opt_task", retryCount=1, retryDelaySeconds=0)],
    )

    run.fail("opt")
    assert run.task("opt")["status"] == "SCHEDULED"
    run.fail("opt")

    assert [status for _, _, status in rows(run)] == ["FAILED", "COMPLETED_WITH_ERRORS"]
    assert run.status == "COMPLETED"


def test_the_last_optional_task_failing_still_completes_the_workflow() -> None:
    run = Run(workflow(simple("opt", optional=True)))

    run.fail("opt", terminal=True)

    assert run.status == "COMPLETED"
    assert run.state.workflow["failedReferenceTaskNames"] == []


# -- bookkeeping ------------------------------------------------------------------------------


def test_start_records_the_workflow_and_its_times() -> None:
    run = Run(workflow(simple("a"), name="book_wf"), {"k": "v"}, now=5_000)

    state = run.state.workflow
    assert state["workflowId"] == "wf-1"
    assert state["workflowName"] == "book_wf"
    assert state["workflowVersion"] == 1
    assert state["status"] == "RUNNING"
    assert state["input"] == {"k": "v"}
    assert (state["createTime"], state["startTime"], state["endTime"]) == (5_000, 5_000, 0)
    assert run.task("a")["scheduledTime"] == 5_000


def test_task_times_follow_the_clock() -> None:
    run = Run(workflow(simple("a"), simple("b")), now=1_000)
    task_id = run.task("a")["taskId"]
    run.now = 2_000
    run.send(ev.TaskPolled(task_id))
    run.now = 3_500

    run.complete("a")

    task = run.task("a")
    assert (task["scheduledTime"], task["startTime"], task["endTime"]) == (1_000, 2_000, 3_500)
    assert run.task("b")["scheduledTime"] == 3_500
    assert run.state.workflow["updateTime"] == 3_500


def test_dirty_tracking_marks_what_a_step_changed() -> None:
    run = Run(workflow(simple("a"), simple("b")))
    run.state.dirty_task_ids.clear()
    run.state.meta_dirty = False

    run.complete("a")

    assert run.state.dirty_task_ids == {run.task("a")["taskId"], run.task("b")["taskId"]}
    assert run.state.meta_dirty is True


def test_an_ignored_event_while_paused_keeps_the_finished_task_for_resume() -> None:
    """A second pause (ignored) must not drop the finished task waiting to be decided."""
    run = Run(
        {
            "name": "paused_twice",
            "tasks": [
                {"name": "first", "taskReferenceName": "first"},
                {"name": "second", "taskReferenceName": "second"},
            ],
        }
    )
    run.send(ev.Pause())
    run.complete("first")
    assert run.send(ev.Pause()) == []
    run.send(ev.Resume())
    assert run.statuses() == {"first": "COMPLETED", "second": "SCHEDULED"}
