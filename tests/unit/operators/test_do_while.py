"""DO_WHILE: runs its body, then again while `loopCondition` holds.

Behaviour follows Conductor's DoWhileSpec: body tasks of iteration i are named `ref__i`
and carry `iteration: i`; the loop task stays IN_PROGRESS, its output holds `iteration`
and, per iteration, each body task's output by its base reference name; the condition
sees the loop's input, the loop's own output (`$.loopRef.iteration`) and the body's outputs.
"""

from __future__ import annotations

from typing import Any

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, dispatched, of_type, rows, simple, types, workflow

DO_WHILE_WF = "workflows/do_while_integration_test.json"
FIVE_TASKS_WF = "workflows/do_while_five_loop_over_integration_test.json"
SYSTEM_TASKS_WF = "workflows/do_while_system_tasks.json"
ITERATION_FIX_WF = "workflows/do_while_iteration_fix_test.json"
SET_VARIABLE_WF = "workflows/do_while_set_variable_fix.json"
DECISION_WF = "workflows/do_while_with_decision_task.json"
SUBTASK_WF = "workflows/do_while_as_subtask_integration_test.json"


def loop(ref: str, condition: str, *body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "DO_WHILE",
        "loopCondition": condition,
        "loopOver": list(body),
        **extra,
    }


def test_single_iteration_with_a_fork_inside() -> None:
    run = Run(conductor_definition(DO_WHILE_WF), {"loop": 1})

    assert rows(run) == [
        ("loopTask", "DO_WHILE", "IN_PROGRESS"),
        ("integration_task_0__1", "integration_task_0", "SCHEDULED"),
    ]
    assert run.task("integration_task_0__1")["iteration"] == 1
    assert run.task("loopTask")["outputData"] == {"iteration": 1}

    run.complete("integration_task_0__1", {"zero": 0})
    assert rows(run)[2:] == [
        ("fork__1", "FORK", "COMPLETED"),
        ("integration_task_1__1", "integration_task_1", "SCHEDULED"),
        ("integration_task_2__1", "integration_task_2", "SCHEDULED"),
        ("join__1", "JOIN", "IN_PROGRESS"),
    ]
    assert run.task("join__1")["inputData"] == {"joinOn": ["integration_task_1", "integration_task_2"]}

    run.complete("integration_task_1__1", {"one": 1})
    assert run.task("loopTask")["status"] == "IN_PROGRESS"
    run.complete("integration_task_2__1", {"two": 2})

    assert run.status == "COMPLETED"
    assert run.task("join__1")["outputData"] == {
        "integration_task_1__1": {"one": 1},
        "integration_task_2__1": {"two": 2},
    }
    loop_task = run.task("loopTask")
    assert loop_task["status"] == "COMPLETED"
    assert loop_task["iteration"] == 1
    assert loop_task["outputData"]["iteration"] == 1
    assert loop_task["outputData"]["1"] == {
        "integration_task_0": {"zero": 0},
        "fork": {},
        "integration_task_1": {"one": 1},
        "integration_task_2": {"two": 2},
        "join": {"integration_task_1__1": {"one": 1}, "integration_task_2__1": {"two": 2}},
    }
    assert len(run.state.tasks) == 6


def test_two_iterations_of_a_fork_inside_a_loop() -> None:
    run = Run(conductor_definition(DO_WHILE_WF), {"loop": 2})
    for ref in ("integration_task_0__1", "integration_task_1__1", "integration_task_2__1"):
        run.complete(ref)

    assert run.task("loopTask")["status"] == "IN_PROGRESS"
    assert run.task("loopTask")["iteration"] == 2
    assert types(run)[-1] == ("integration_task_0", "SCHEDULED")
    assert run.state.tasks[-1]["referenceTaskName"] == "integration_task_0__2"

    run.complete("integration_task_0__2")
    assert run.task("join__2")["status"] == "IN_PROGRESS"
    run.complete("integration_task_1__2")
    run.complete("integration_task_2__2")

    assert run.status == "COMPLETED"
    assert run.task("loopTask")["outputData"]["iteration"] == 2
    assert set(run.task("loopTask")["outputData"]) == {"iteration", "1", "2"}
    assert len(run.state.tasks) == 11


def test_five_body_tasks_mixing_inline_and_worker_tasks() -> None:
    run = Run(conductor_definition(FIVE_TASKS_WF), {"loop": 2})

    assert types(run) == [
        ("DO_WHILE", "IN_PROGRESS"),
        ("LAMBDA", "COMPLETED"),
        ("JSON_JQ_TRANSFORM", "COMPLETED"),
        ("integration_task_1", "SCHEDULED"),
    ]
    # The loop task itself carries the iteration it is in.
    assert [t["iteration"] for t in run.state.tasks] == [1, 1, 1, 1]
    assert run.task("jq_add_location__1")["outputData"]["result"] == {"out": {"locationId": "some location id"}}

    run.complete("integration_task_1__1")
    assert types(run)[4:] == [("JSON_JQ_TRANSFORM", "COMPLETED"), ("integration_task_2", "SCHEDULED")]
    run.complete("integration_task_2__1")
    assert types(run)[6:] == [
        ("LAMBDA", "COMPLETED"),
        ("JSON_JQ_TRANSFORM", "COMPLETED"),
        ("integration_task_1", "SCHEDULED"),
    ]
    assert [t["iteration"] for t in run.state.tasks[6:]] == [2, 2, 2]

    run.complete("integration_task_1__2")
    run.complete("integration_task_2__2")

    assert run.task("loopTask")["status"] == "COMPLETED"
    assert rows(run)[-1] == ("integration_task_3", "integration_task_3", "SCHEDULED")
    assert run.task("integration_task_3")["iteration"] == 0
    run.complete("integration_task_3")
    assert run.status == "COMPLETED"
    assert len(run.state.tasks) == 12


def test_a_loop_of_system_tasks_runs_all_its_iterations_in_one_step() -> None:
    run = Run(conductor_definition(SYSTEM_TASKS_WF), {"loop": 2})

    assert types(run) == [
        ("DO_WHILE", "COMPLETED"),
        ("LAMBDA", "COMPLETED"),
        ("JSON_JQ_TRANSFORM", "COMPLETED"),
        ("JSON_JQ_TRANSFORM", "COMPLETED"),
        ("LAMBDA", "COMPLETED"),
        ("JSON_JQ_TRANSFORM", "COMPLETED"),
        ("JSON_JQ_TRANSFORM", "COMPLETED"),
        ("integration_task_1", "SCHEDULED"),
    ]
    assert [t["iteration"] for t in run.state.tasks] == [2, 1, 1, 1, 2, 2, 2, 0]
    assert dispatched(run.commands) == ["integration_task_1"]


def test_body_tasks_can_read_the_loops_iteration() -> None:
    run = Run(conductor_definition(ITERATION_FIX_WF), {"loop": 2})

    assert run.status == "COMPLETED"
    assert types(run) == [("DO_WHILE", "COMPLETED"), ("LAMBDA", "COMPLETED"), ("LAMBDA", "COMPLETED")]
    assert run.task("form_uri__1")["inputData"]["index"] == 1
    assert run.task("form_uri__1")["outputData"]["result"] == 0
    assert run.task("form_uri__2")["outputData"]["result"] == 1


def test_the_condition_rereads_the_loops_input_each_iteration() -> None:
    """The loop's input is resolved again for each condition, so a SET_VARIABLE in the
    body that changes `workflow.variables.value` stops the loop."""
    definition = conductor_definition(SET_VARIABLE_WF)
    definition["variables"] = {"value": 2}

    run = Run(definition)

    assert run.status == "COMPLETED"
    assert types(run) == [("DO_WHILE", "COMPLETED"), ("SET_VARIABLE", "COMPLETED")]
    assert run.task("set_variable__1")["inputData"] == {"value": "0"}
    assert run.state.workflow["variables"] == {"value": "0"}


def test_the_condition_reads_body_outputs() -> None:
    definition = workflow(loop("l", "$.counter.count < 3", simple("counter")), simple("after"))
    run = Run(definition)

    for count in (1, 2):
        run.complete(f"counter__{count}", {"count": count})
        assert run.task("l")["status"] == "IN_PROGRESS"
    run.complete("counter__3", {"count": 3})

    assert run.task("l")["status"] == "COMPLETED"
    assert run.task("l")["outputData"] == {
        "iteration": 3,
        "1": {"counter": {"count": 1}},
        "2": {"counter": {"count": 2}},
        "3": {"counter": {"count": 3}},
    }
    assert dispatched(run.commands)[-1] == "after"


def test_inside_an_iteration_references_mean_that_iterations_tasks() -> None:
    definition = workflow(
        loop(
            "l",
            "$.l.iteration < 2",
            simple("first"),
            simple("second", inputParameters={"got": "${first.output.v}", "i": "${l.output.iteration}"}),
        ),
        simple("after", inputParameters={"last": "${second.output.v}", "loop": "${l.output}"}),
    )
    run = Run(definition)
    run.complete("first__1", {"v": "one"})
    assert run.task("second__1")["inputData"] == {"got": "one", "i": 1}
    run.complete("second__1", {"v": "s1"})
    run.complete("first__2", {"v": "two"})
    assert run.task("second__2")["inputData"] == {"got": "two", "i": 2}

    run.complete("second__2", {"v": "s2"})

    # After the loop the base name means the last iteration's task.
    after = run.task("after")["inputData"]
    assert after["last"] == "s2"
    assert after["loop"]["iteration"] == 2
    assert after["loop"]["2"]["first"] == {"v": "two"}


def test_a_retried_body_task_keeps_its_iteration_and_the_loop_waits_for_it() -> None:
    definition = workflow(loop("l", "$.l.iteration < 1", simple("flaky", name="flaky_task")))
    run = Run(definition, task_defs=[{"name": "flaky_task", "retryCount": 2, "retryDelaySeconds": 1}])

    produced = run.fail("flaky__1")

    [retry] = of_type(produced, cmd.DispatchTask)
    assert retry.task["referenceTaskName"] == "flaky__1"
    assert retry.task["iteration"] == 1
    assert retry.task["retryCount"] == 1
    assert retry.delay_ms == 1_000
    assert run.task("l")["status"] == "IN_PROGRESS"
    run.complete("flaky__1", {"ok": True})
    assert run.task("l")["outputData"]["1"] == {"flaky": {"ok": True}}
    assert run.status == "COMPLETED"


def test_a_failing_body_task_fails_the_workflow() -> None:
    run = Run(workflow(loop("l", "true", simple("a")), simple("after")))

    run.fail("a__1", "nope", terminal=True)

    assert run.status == "FAILED"
    assert rows(run) == [("l", "DO_WHILE", "CANCELED"), ("a__1", "a", "FAILED_WITH_TERMINAL_ERROR")]


def test_a_condition_that_cannot_be_evaluated_fails_the_loop() -> None:
    run = Run(workflow(loop("l", "$.nothing.here > 1", simple("a"))))

    run.complete("a__1")

    assert run.status == "FAILED"
    loop_task = run.task("l")
    assert loop_task["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert loop_task["reasonForIncompletion"].startswith("Unable to evaluate condition $.nothing.here > 1")


def test_a_loop_with_an_empty_body_completes_at_once() -> None:
    run = Run(workflow(loop("l", "true"), simple("after")))

    assert rows(run) == [("l", "DO_WHILE", "COMPLETED"), ("after", "after", "SCHEDULED")]
    assert run.task("l")["outputData"] == {"iteration": 0}


def test_switch_inside_a_loop_waits_for_its_case_each_iteration() -> None:
    """Conductor's `do_while_with_decision_task.json` reads its list with Java's
    `list.get(i)`, which only works on Conductor's JVM script engine; the expression is
    rewritten to plain JavaScript here."""
    definition = conductor_definition(DECISION_WF)
    body = definition["tasks"][0]["loopOver"]
    body[0]["inputParameters"]["expression"] = "function getElement() { return $.list[$.iterator - 1]; } getElement();"

    run = Run(definition, {"list": [1, 2]})

    assert types(run) == [
        ("DO_WHILE", "IN_PROGRESS"),
        ("INLINE", "COMPLETED"),
        ("SWITCH", "COMPLETED"),
        ("WAIT", "IN_PROGRESS"),
    ]
    assert run.task("SwitchTask__1")["outputData"]["evaluationResult"] == ["true"]

    run.send(ev.TaskUpdate(run.task("WaitTask__1")["taskId"], "COMPLETED"))

    assert run.task("LoopTask")["iteration"] == 2
    assert types(run)[3:] == [
        ("WAIT", "COMPLETED"),
        ("INLINE", "COMPLETED"),
        ("INLINE", "COMPLETED"),
        ("SWITCH", "COMPLETED"),
        ("WAIT", "IN_PROGRESS"),
    ]
    assert run.task("GetNumberAtIndex__2")["outputData"]["result"] == 2

    run.send(ev.TaskUpdate(run.task("WaitTask__2")["taskId"], "COMPLETED"))

    assert run.status == "COMPLETED"
    assert types(run)[-1] == ("INLINE", "COMPLETED")
    assert run.task("LoopTask")["iteration"] == 2
    assert len(run.state.tasks) == 9


def test_switch_inside_a_loop_with_no_case_ends_the_iteration() -> None:
    definition = workflow(
        loop(
            "l",
            "$.l.iteration < 3",
            {
                "name": "s",
                "taskReferenceName": "s",
                "type": "SWITCH",
                "evaluatorType": "javascript",
                "expression": "$.i % 2 == 0 ? 'even' : 'odd'",
                "inputParameters": {"i": "${l.output.iteration}"},
                "decisionCases": {"even": [simple("on_even")]},
            },
        )
    )
    run = Run(definition)

    # Iteration 1 is odd: no case, the loop goes straight on to iteration 2.
    assert [ref for ref, _, _ in rows(run)] == ["l", "s__1", "s__2", "on_even__2"]
    run.complete("on_even__2")

    assert run.status == "COMPLETED"
    assert [ref for ref, _, _ in rows(run)][-1] == "s__3"
    assert run.task("l")["outputData"]["2"] == {
        "s": {"evaluationResult": ["even"], "selectedCase": "even"},
        "on_even": {},
    }


def test_fork_inside_a_loop_joins_each_iteration_separately() -> None:
    definition = workflow(
        loop(
            "l",
            "$.l.iteration < 2",
            {
                "name": "f",
                "taskReferenceName": "f",
                "type": "FORK_JOIN",
                "forkTasks": [[simple("a")], [simple("b")]],
            },
            {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["a", "b"]},
        )
    )
    run = Run(definition)
    run.complete("a__1", {"a": 1})
    run.complete("b__1", {"b": 1})
    assert run.task("j__1")["status"] == "COMPLETED"
    assert run.task("j__2")["status"] == "IN_PROGRESS"

    run.complete("b__2", {"b": 2})
    assert run.task("j__2")["status"] == "IN_PROGRESS"
    run.complete("a__2", {"a": 2})

    assert run.task("j__2")["outputData"] == {"a__2": {"a": 2}, "b__2": {"b": 2}}
    assert run.status == "COMPLETED"


def test_a_loop_in_a_fork_branch() -> None:
    """Conductor schedules a DO_WHILE's first body task only when the loop task is next
    executed, after the fork's other branches and JOIN; Podium starts the first iteration
    with the loop, so `integration_task_0__1` comes right after the DO_WHILE in the list."""
    run = Run(conductor_definition(SUBTASK_WF), {"loop": 1})

    assert rows(run) == [
        ("fork", "FORK", "COMPLETED"),
        ("loopTask", "DO_WHILE", "IN_PROGRESS"),
        ("integration_task_0__1", "integration_task_0", "SCHEDULED"),
        ("integration_task_2", "integration_task_2", "SCHEDULED"),
        ("join", "JOIN", "IN_PROGRESS"),
    ]
    run.complete("integration_task_0__1")
    run.complete("integration_task_1__1")
    assert run.task("loopTask")["status"] == "COMPLETED"
    assert run.task("join")["status"] == "IN_PROGRESS"

    run.complete("integration_task_2")

    assert run.task("join")["status"] == "COMPLETED"
    assert run.status == "COMPLETED"
    assert len(run.state.tasks) == 6


def test_two_loops_in_parallel_branches_keep_their_outputs_apart() -> None:
    definition = workflow(
        {
            "name": "f",
            "taskReferenceName": "f",
            "type": "FORK_JOIN",
            "forkTasks": [
                [loop("left", "$.left.iteration < 1", simple("l_task"))],
                [loop("right", "$.right.iteration < 1", simple("r_task"))],
            ],
        },
        {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["left", "right"]},
    )
    run = Run(definition)
    run.complete("r_task__1", {"r": 1})

    run.complete("l_task__1", {"l": 1})

    assert run.task("left")["outputData"]["1"] == {"l_task": {"l": 1}}
    assert run.task("right")["outputData"]["1"] == {"r_task": {"r": 1}}
    assert run.status == "COMPLETED"
