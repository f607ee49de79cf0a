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


# -- keepLastN ----------------------------------------------------------------------------
#
# Conductor's DoWhile reads `inputParameters.keepLastN`; once the loop runs iteration
# i > N it removes the output keys "1".."i-N" and deletes the tasks of those iterations
# from the execution (DoWhile.removeIterations), so a loop keeps its last N iterations.

KEEP_LAST_N_WF = "e2e/do_while_keep_last_n_fix.json"
KEEP_LAST_N_SWITCH_WF = "e2e/do_while_keep_last_n_switch_test.json"


def two_task_loop(condition: str = "$.l.iteration < 5", **input_parameters: Any) -> dict[str, Any]:
    return workflow(
        loop("l", condition, simple("a"), simple("b"), inputParameters=input_parameters),
        outputParameters={"loop": "${l.output}"},
    )


def run_iterations(run: Run, count: int) -> dict[int, set[str]]:
    """Complete `a` then `b` of iterations 1..count; the ids of each iteration's tasks."""
    ids: dict[int, set[str]] = {}
    for i in range(1, count + 1):
        ids[i] = {run.task(f"a__{i}")["taskId"]}
        run.complete(f"a__{i}", {"a": i})
        ids[i].add(run.task(f"b__{i}")["taskId"])
        run.complete(f"b__{i}", {"b": i})
    return ids


def test_keep_last_n_keeps_the_last_iterations_tasks_and_outputs() -> None:
    run = Run(two_task_loop(keepLastN=2))
    ids = run_iterations(run, 5)

    assert run.status == "COMPLETED"
    assert rows(run) == [
        ("l", "DO_WHILE", "COMPLETED"),
        ("a__4", "a", "COMPLETED"),
        ("b__4", "b", "COMPLETED"),
        ("a__5", "a", "COMPLETED"),
        ("b__5", "b", "COMPLETED"),
    ]
    loop_output = {"iteration": 5, "4": {"a": {"a": 4}, "b": {"b": 4}}, "5": {"a": {"a": 5}, "b": {"b": 5}}}
    assert run.task("l")["outputData"] == loop_output
    assert run.task("l")["iteration"] == 5
    assert run.task("l")["inputData"] == {"keepLastN": 2}
    assert run.output == {"loop": loop_output}
    # The checkpoint deletes exactly the tasks of iterations 1-3.
    assert run.state.removed_task_ids == ids[1] | ids[2] | ids[3]
    assert not run.state.removed_task_ids & set(run.state.by_id)


def test_keep_last_n_removes_an_iteration_once_iteration_n_plus_one_starts() -> None:
    run = Run(two_task_loop(keepLastN=2))
    run_iterations(run, 2)

    # Iteration 3 has started: iteration 1 is gone, 2 and the running 3 are there.
    assert [ref for ref, _, _ in rows(run)] == ["l", "a__2", "b__2", "a__3"]
    assert run.task("l")["outputData"] == {"iteration": 3, "2": {"a": {"a": 2}, "b": {"b": 2}}}
    assert len(run.state.removed_task_ids) == 2
    # A reference to the latest `a` still finds it.
    assert run.task("a")["referenceTaskName"] == "a__3"


def test_without_keep_last_n_every_iteration_is_kept() -> None:
    run = Run(two_task_loop())
    run_iterations(run, 5)

    assert run.status == "COMPLETED"
    assert len(run.state.tasks) == 11
    assert set(run.task("l")["outputData"]) == {"iteration", "1", "2", "3", "4", "5"}
    assert run.state.removed_task_ids == set()


def test_keep_last_n_of_one_keeps_only_the_running_iteration() -> None:
    run = Run(two_task_loop(keepLastN=1))
    run_iterations(run, 3)
    assert [ref for ref, _, _ in rows(run)] == ["l", "a__4"]
    assert [task["seq"] for task in run.state.tasks] == sorted(task["seq"] for task in run.state.tasks)

    run.complete("a__4")
    run.complete("b__4")
    run.complete("a__5")
    run.complete("b__5", {"b": 5})

    assert run.status == "COMPLETED"
    assert [ref for ref, _, _ in rows(run)] == ["l", "a__5", "b__5"]
    assert run.task("l")["outputData"] == {"iteration": 5, "5": {"a": {}, "b": {"b": 5}}}


def test_keep_last_n_lets_the_condition_read_the_iterations_kept() -> None:
    # `$.l['<iteration - 1>']` is among the last 2: the loop reads it and stops when b was 3.
    condition = "$.l.iteration < 2 || $.l[String($.l.iteration - 1)].b.b < 3"
    run = Run(two_task_loop(condition, keepLastN=2))
    run_iterations(run, 4)

    assert run.status == "COMPLETED"
    assert run.task("l")["iteration"] == 4
    assert set(run.task("l")["outputData"]) == {"iteration", "3", "4"}


def test_keep_last_n_with_a_fork_inside_the_loop() -> None:
    definition = workflow(
        loop(
            "l",
            "$.l.iteration < 4",
            {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": [[simple("x")], [simple("y")]]},
            {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["x", "y"]},
            inputParameters={"keepLastN": 2},
        )
    )
    run = Run(definition)
    for i in range(1, 5):
        run.complete(f"x__{i}", {"x": i})
        run.complete(f"y__{i}", {"y": i})

    assert run.status == "COMPLETED"
    assert sorted(ref for ref, _, _ in rows(run)) == sorted(
        ["l", "f__3", "x__3", "y__3", "j__3", "f__4", "x__4", "y__4", "j__4"]
    )
    assert run.task("l")["outputData"]["4"]["j"] == {"x__4": {"x": 4}, "y__4": {"y": 4}}
    assert set(run.task("l")["outputData"]) == {"iteration", "3", "4"}
    assert len(run.state.removed_task_ids) == 8


def test_keep_last_n_with_nested_switches_runs_conductors_26_iterations() -> None:
    """DoWhileEdgeCasesTests.testDoWhileKeepLastNSwitch: every body task is a system task,
    so the whole loop runs in the start step; it ends after iteration 26 (`$.iteration >
    25` sets the status variable to Completed), keeping iterations 24-26."""
    run = Run(conductor_definition(KEEP_LAST_N_SWITCH_WF))

    assert run.status == "COMPLETED"
    loop_task = run.task("do_while_ref")
    assert loop_task["outputData"]["iteration"] == 26
    assert set(loop_task["outputData"]) == {"iteration", "24", "25", "26"}
    assert {t["iteration"] for t in run.state.tasks} == {26, 24, 25}  # the loop task's own is 26
    # switch_ref, inline_ref, set_variable_ref_1, max_loop_ctrl_ref, switch_ref_2 each
    # iteration, and set_variable_ref_2 in the last.
    assert len(run.state.tasks) == 1 + 5 + 5 + 6
    assert run.task("set_variable_ref_2")["referenceTaskName"] == "set_variable_ref_2__26"
    assert loop_task["outputData"]["26"]["switch_ref_2"] == {"evaluationResult": ["stop"], "selectedCase": "stop"}
    # Created and removed in the same step: nothing the checkpoint would write is gone.
    assert run.state.dirty_task_ids <= set(run.state.by_id)
    assert len(run.state.removed_task_ids) == 23 * 5


def test_keep_last_n_in_fork_branches_leaves_conductors_18_tasks() -> None:
    """DoWhileTests.testKeepLstN3: two loops of 5 iterations in fork branches, keeping 4
    and 2 iterations of 2 tasks: fork, join, inline, set_variable, 2 loops, 8 + 4 tasks."""
    run = Run(
        conductor_definition(KEEP_LAST_N_WF, "keep_last_n_example_3"),
        {"batch": [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]},
    )
    while run.complete_all_waiting():
        pass

    assert run.status == "COMPLETED"
    assert len(run.state.tasks) == 18
    assert set(run.task("do_while_ref_1")["outputData"]) == {"iteration", "2", "3", "4", "5"}
    assert set(run.task("do_while_ref")["outputData"]) == {"iteration", "4", "5"}
    assert sorted(t["referenceTaskName"] for t in run.state.tasks if t["iteration"] and "_baseRef" in t) == sorted(
        [f"{ref}__{i}" for ref in ("set_variable_ref_1", "simple_ref") for i in (2, 3, 4, 5)]
        + [f"{ref}__{i}" for ref in ("simple_ref_1", "simple_ref_2") for i in (4, 5)]
    )


def test_the_checkpoint_deletes_the_removed_tasks() -> None:
    from cluster.store.checkpoint import Checkpoint

    run = Run(two_task_loop(keepLastN=2))
    ids = run_iterations(run, 3)  # iteration 4 has started: 1 and 2 are removed
    checkpoint = Checkpoint(None)  # type: ignore[arg-type]  # save only records writes

    checkpoint.save(0, run.state, None)

    # Recorded flat: command, number of keys and arguments, key, arguments.
    args = checkpoint.pipe.args
    commands: list[tuple[str, str, list[Any]]] = []
    i = 0
    while i < len(args):
        name, count = args[i], args[i + 1]
        if name == "DEL":  # keys only
            commands.append((name, "", list(args[i + 2 : i + 2 + count])))
        else:
            commands.append((name, args[i + 2], list(args[i + 3 : i + 2 + count])))
        i += 2 + count
    removed = ids[1] | ids[2]
    hdel = [fields for name, key, fields in commands if name == "HDEL" and key.endswith("wf-1")]
    assert [set(fields) for fields in hdel] == [{"t:" + task_id for task_id in removed}]
    written = {field for name, _, flat in commands if name == "HSET" for field in flat[::2]}
    assert not {"t:" + task_id for task_id in removed} & written
    assert run.state.removed_task_ids == set()


# -- the loop condition's input -------------------------------------------------------------


def test_the_condition_sees_a_body_tasks_output_from_the_last_iteration_that_ran_it() -> None:
    """Conductor's condition input holds every body task's latest output, whichever
    iteration ran it: `mark` runs in iteration 1 only and is still `$.mark` after."""
    definition = workflow(
        loop(
            "l",
            "$.l.iteration < 3 && $.mark.result == 'seen'",
            {
                "name": "s",
                "taskReferenceName": "s",
                "type": "SWITCH",
                "evaluatorType": "javascript",
                "expression": "$.i == 1 ? 'run' : 'skip'",
                "inputParameters": {"i": "${l.output.iteration}"},
                "decisionCases": {
                    "run": [
                        {
                            "name": "mark",
                            "taskReferenceName": "mark",
                            "type": "INLINE",
                            "inputParameters": {"evaluatorType": "javascript", "expression": "'seen'"},
                        }
                    ]
                },
            },
        )
    )
    run = Run(definition)

    assert run.status == "COMPLETED"
    assert run.task("l")["iteration"] == 3
    assert [ref for ref, _, _ in rows(run)] == ["l", "s__1", "mark__1", "s__2", "s__3"]
    # The loop's own output per iteration holds only what that iteration ran.
    assert run.task("l")["outputData"]["2"] == {"s": {"evaluationResult": ["skip"], "selectedCase": "skip"}}


def test_the_condition_gets_only_the_loop_output_keys_it_names(monkeypatch: Any) -> None:
    from actors.workflow.operators import do_while

    seen: list[dict[str, Any]] = []
    real = do_while.evaluate

    def spy(evaluator_type: str, expression: str, inputs: dict[str, Any]) -> Any:
        seen.append(inputs)
        return real(evaluator_type, expression, inputs)

    monkeypatch.setattr(do_while, "evaluate", spy)
    run = Run(two_task_loop("$.l['iteration'] < 4 && $.l['1'].a.a == 1 && $.b.b >= 1", limit=4))
    run_iterations(run, 4)

    assert run.status == "COMPLETED"
    assert len(seen) == 4
    assert seen[-1] == {
        "limit": 4,
        "l": {"iteration": 4, "1": {"a": {"a": 1}, "b": {"b": 1}}},
        "a": {"a": 4},
        "b": {"b": 4},
    }
    # The loop task's own output is untouched.
    assert set(run.task("l")["outputData"]) == {"iteration", "1", "2", "3", "4"}


def test_which_loop_output_keys_a_condition_reads() -> None:
    from actors.workflow.operators.do_while import _loop_keys_read as keys

    assert keys("$.l.iteration < 5", "l") == {"iteration"}
    assert keys("if ($.l['iteration'] < $.n) { true; } else { false; }", "l") == {"iteration"}
    assert keys('$ . l [ "3" ] . t.x > 0 && $.l.iteration < 9', "l") == {"3", "iteration"}
    assert keys("$.other.iteration < 5 && $['do-while'].iteration < 2", "do-while") == {"iteration"}
    assert keys("$.status != 'Completed'", "l") == frozenset()
    # Anything that can read keys it does not name gets the whole output.
    for condition in (
        "$.l[$.l.iteration - 1].x",
        "Object.keys($.l).length < 5",
        "JSON.stringify($).length < 100",
        "var o = $.l; o.iteration < 3",
        "$.l.hasOwnProperty('3')",
        "'3' in $.l",
        "$[`l`].iteration < 3",
        "$?.l.iteration < 3",
        "arguments[0].l.iteration < 3",
        "eval('$.l').iteration < 3",
        "\\u0024.l.iteration < 3",
        "with ($) { l.iteration < 3 }",
    ):
        assert keys(condition, "l") is None, condition


def test_keep_last_n_must_be_an_integer_of_at_least_one() -> None:
    from actors.workflow.definition_checks import validate_workflow_def
    from definitions.models import WorkflowDef

    def problems(value: Any) -> list[str]:
        definition = WorkflowDef.model_validate(two_task_loop(keepLastN=value))
        return [p for p in validate_workflow_def(definition) if "keepLastN" in p]

    assert problems(1) == []
    assert problems(10_000) == []
    assert problems(None) == []
    for bad in (0, -3, "2", 2.5, True, "${workflow.input.n}", [2]):
        found = problems(bad)
        assert len(found) == 1, bad
        assert f"inputParameters.keepLastN must be an integer of at least 1, not {bad!r}" in found[0]
