"""FORK_JOIN_DYNAMIC: branches computed at run time, joined on all of them.

Behaviour follows Conductor's DynamicForkJoinSpec on `dynamic_fork_join_integration_test.json`
and ForkJoinDynamicTaskMapper for the `forkTaskName`/`forkTaskInputs` form.
"""

from __future__ import annotations

from typing import Any

from actors.workflow import commands as cmd
from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, dispatched, of_type, rows, simple, types, workflow

DYNAMIC_WF = "workflows/dynamic_fork_join_integration_test.json"

DYNAMIC_TASKS = [
    {"name": "integration_task_2", "taskReferenceName": "xdt1"},
    {"name": "integration_task_3", "taskReferenceName": "xdt2"},
]
DYNAMIC_INPUT = {"xdt1": {"k1": "v1"}, "xdt2": {"k2": "v2"}}


def started(**task_defs: int) -> Run:
    """The shared workflow with `dt1` completed with two dynamic tasks."""
    definitions = [{"name": name, "retryCount": count, "retryDelaySeconds": 0} for name, count in task_defs.items()]
    run = Run(conductor_definition(DYNAMIC_WF), task_defs=definitions)
    run.complete("dt1", {"dynamicTasks": DYNAMIC_TASKS, "dynamicTasksInput": DYNAMIC_INPUT})
    return run


def dynamic_fork(ref: str, **inputs: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "FORK_JOIN_DYNAMIC", "inputParameters": inputs}


def join(ref: str) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "JOIN"}


def test_dynamic_tasks_are_scheduled_between_the_fork_and_the_join() -> None:
    run = started()

    assert rows(run) == [
        ("dt1", "integration_task_1", "COMPLETED"),
        ("dynamicfanouttask", "FORK", "COMPLETED"),
        ("xdt1", "integration_task_2", "SCHEDULED"),
        ("xdt2", "integration_task_3", "SCHEDULED"),
        ("dynamicfanouttask_join", "JOIN", "IN_PROGRESS"),
    ]
    assert run.task("xdt1")["inputData"] == {"k1": "v1"}
    assert run.task("xdt2")["inputData"] == {"k2": "v2"}
    assert run.task("dynamicfanouttask_join")["inputData"] == {"joinOn": ["xdt1", "xdt2"]}
    fork_input = run.task("dynamicfanouttask")["inputData"]
    assert fork_input["forkedTasks"] == ["xdt1", "xdt2"]
    assert [t["taskReferenceName"] for t in fork_input["forkedTaskDefs"]] == ["xdt1", "xdt2"]


def test_join_collects_outputs_then_the_workflow_continues() -> None:
    run = started()
    run.complete("xdt1", {"ok1": "ov1"})
    assert run.task("dynamicfanouttask_join")["status"] == "IN_PROGRESS"

    produced = run.complete("xdt2", {"ok1": "ov1"})

    join_task = run.task("dynamicfanouttask_join")
    assert join_task["status"] == "COMPLETED"
    assert join_task["outputData"] == {"xdt1": {"ok1": "ov1"}, "xdt2": {"ok1": "ov1"}}
    assert dispatched(produced) == ["task4"]
    run.complete("task4")
    assert run.status == "COMPLETED"
    assert len(run.state.tasks) == 6


def test_join_output_is_empty_when_the_forked_tasks_output_nothing() -> None:
    run = started()
    run.complete("xdt1")
    run.complete("xdt2")

    assert run.task("dynamicfanouttask_join")["status"] == "COMPLETED"
    assert run.task("dynamicfanouttask_join")["outputData"] == {}


def test_a_failed_forked_task_fails_the_workflow_and_cancels_the_others() -> None:
    run = started(integration_task_2=0)

    produced = run.fail("xdt1", "it is a failure..")

    assert run.status == "FAILED"
    assert types(run)[2:] == [
        ("integration_task_2", "FAILED"),
        ("integration_task_3", "CANCELED"),
        ("JOIN", "CANCELED"),
    ]
    assert [c.task["referenceTaskName"] for c in of_type(produced, cmd.CancelTask)] == ["xdt2"]


def test_a_forked_task_is_retried_per_its_task_def_and_joined_on_its_retry() -> None:
    run = started(integration_task_2=1)

    produced = run.fail("xdt1")

    retry = run.task("xdt1")
    assert retry["retryCount"] == 1
    assert retry["inputData"] == {"k1": "v1"}
    assert dispatched(produced) == ["xdt1"]
    run.complete("xdt1", {"again": 1})
    run.complete("xdt2")
    assert run.task("dynamicfanouttask_join")["outputData"] == {"xdt1": {"again": 1}}


def test_an_input_that_is_not_a_map_fails_the_workflow() -> None:
    """Conductor fails the workflow without recording the fork; Podium records the fork
    task as FAILED with the reason, then fails the workflow the same way."""
    run = Run(conductor_definition(DYNAMIC_WF))

    run.complete("dt1", {"dynamicTasks": DYNAMIC_TASKS, "dynamicTasksInput": {"xdt1": "v1", "xdt2": "v2"}})

    assert run.status == "FAILED"
    assert rows(run) == [
        ("dt1", "integration_task_1", "COMPLETED"),
        ("dynamicfanouttask", "FORK", "FAILED"),
    ]
    assert "xdt1" in run.task("dynamicfanouttask")["reasonForIncompletion"]


def test_tasks_that_are_not_a_list_fail_the_fork() -> None:
    run = Run(conductor_definition(DYNAMIC_WF))

    run.complete("dt1", {"dynamicTasks": "nope", "dynamicTasksInput": {}})

    assert run.status == "FAILED"
    assert "must be a list of tasks" in run.task("dynamicfanouttask")["reasonForIncompletion"]


def test_duplicate_reference_names_fail_the_fork() -> None:
    run = Run(conductor_definition(DYNAMIC_WF))
    twice = [{"name": "a", "taskReferenceName": "same"}, {"name": "b", "taskReferenceName": "same"}]

    run.complete("dt1", {"dynamicTasks": twice, "dynamicTasksInput": {}})

    assert run.status == "FAILED"
    assert run.task("dynamicfanouttask")["status"] == "FAILED"


def test_container_types_cannot_be_forked_dynamically() -> None:
    run = Run(conductor_definition(DYNAMIC_WF))
    tasks = [{"name": "s", "taskReferenceName": "s", "type": "SWITCH", "expression": "x"}]

    run.complete("dt1", {"dynamicTasks": tasks, "dynamicTasksInput": {}})

    assert run.status == "FAILED"
    assert "SWITCH" in run.task("dynamicfanouttask")["reasonForIncompletion"]


def test_a_forked_tasks_own_input_parameters_are_resolved_and_overlaid_with_its_input() -> None:
    definition = workflow(
        dynamic_fork(
            "df",
            tasks=[
                {
                    "name": "w",
                    "taskReferenceName": "w1",
                    "inputParameters": {"region": "${workflow.input.region}", "size": "small"},
                }
            ],
            inputs={"w1": {"size": "large"}},
        )
        | {"dynamicForkTasksParam": "tasks", "dynamicForkTasksInputParamName": "inputs"},
        join("j"),
    )

    run = Run(definition, {"region": "eu"})

    assert run.task("w1")["inputData"] == {"region": "eu", "size": "large"}


def test_fork_task_name_and_inputs_give_one_branch_per_item() -> None:
    definition = workflow(
        dynamic_fork("df", forkTaskName="resize", forkTaskInputs="${workflow.input.images}"),
        join("j"),
    )

    run = Run(definition, {"images": [{"url": "a.png"}, "b.png"]})

    assert rows(run) == [
        ("df", "FORK", "COMPLETED"),
        ("_resize_0", "resize", "SCHEDULED"),
        ("_resize_1", "resize", "SCHEDULED"),
        ("j", "JOIN", "IN_PROGRESS"),
    ]
    assert run.task("_resize_0")["inputData"] == {"url": "a.png", "__index": 0}
    assert run.task("_resize_1")["inputData"] == {"input": "b.png", "__index": 1}
    assert run.task("j")["inputData"]["joinOn"] == ["_resize_0", "_resize_1"]

    run.complete("_resize_0", {"w": 1})
    run.complete("_resize_1", {"w": 2})
    assert run.status == "COMPLETED"
    assert run.task("j")["outputData"] == {"_resize_0": {"w": 1}, "_resize_1": {"w": 2}}


def test_fork_task_type_of_a_system_task_runs_inline() -> None:
    definition = workflow(
        dynamic_fork(
            "df",
            forkTaskType="INLINE",
            forkTaskInputs=[
                {"evaluatorType": "javascript", "expression": "$.n * 2", "n": 1},
                {"evaluatorType": "javascript", "expression": "$.n * 2", "n": 5},
            ],
        ),
        join("j"),
    )

    run = Run(definition)

    assert run.status == "COMPLETED"
    assert [ref for ref, _, _ in rows(run)] == ["df", "_INLINE_0", "_INLINE_1", "j"]
    assert run.task("j")["outputData"] == {"_INLINE_0": {"result": 2}, "_INLINE_1": {"result": 10}}


def test_a_second_dynamic_fork_prefixes_its_branches_with_its_reference() -> None:
    definition = workflow(
        dynamic_fork("first", forkTaskName="work", forkTaskInputs=[{}]),
        join("j1"),
        dynamic_fork("second", forkTaskName="work", forkTaskInputs=[{}]),
        join("j2"),
    )
    run = Run(definition)
    run.complete("_work_0")

    assert run.task("j1")["status"] == "COMPLETED"
    assert "_second_work_0" in run.statuses()


def test_fork_task_workflow_starts_one_child_per_item() -> None:
    definition = workflow(
        dynamic_fork(
            "df", forkTaskWorkflow="child_wf", forkTaskWorkflowVersion="2", forkTaskInputs=[{"a": 1}, {"a": 2}]
        ),
        join("j"),
    )

    run = Run(definition)

    starts = of_type(run.commands, cmd.StartChild)
    assert [(s.name, s.version, s.input) for s in starts] == [
        ("child_wf", 2, {"a": 1, "__index": 0}),
        ("child_wf", 2, {"a": 2, "__index": 1}),
    ]
    assert types(run)[1:3] == [("SUB_WORKFLOW", "IN_PROGRESS"), ("SUB_WORKFLOW", "IN_PROGRESS")]


def test_an_optional_dynamic_fork_makes_its_branches_optional() -> None:
    definition = workflow(
        dynamic_fork("df", forkTaskName="work", forkTaskInputs=[{}, {}]) | {"optional": True},
        join("j"),
    )
    run = Run(definition)

    run.fail("_work_0", terminal=True)
    run.complete("_work_1")

    assert run.task("_work_0")["status"] == "COMPLETED_WITH_ERRORS"
    assert run.task("j")["status"] == "COMPLETED_WITH_ERRORS"
    assert run.status == "COMPLETED"


def test_an_empty_list_forks_nothing_and_the_join_completes_at_once() -> None:
    definition = workflow(dynamic_fork("df", forkTaskName="work", forkTaskInputs=[]), join("j"), simple("after"))

    run = Run(definition)

    assert rows(run) == [("df", "FORK", "COMPLETED"), ("j", "JOIN", "COMPLETED"), ("after", "after", "SCHEDULED")]


def test_a_dynamic_fork_inside_a_loop_forks_again_each_iteration() -> None:
    definition = workflow(
        {
            "name": "loop",
            "taskReferenceName": "loop",
            "type": "DO_WHILE",
            "loopCondition": "$.loop['iteration'] < 2",
            "loopOver": [
                {
                    "name": "df",
                    "taskReferenceName": "df",
                    "type": "FORK_JOIN_DYNAMIC",
                    "inputParameters": {"tasks": [{"name": "w", "taskReferenceName": "w"}], "inputs": {}},
                    "dynamicForkTasksParam": "tasks",
                    "dynamicForkTasksInputParamName": "inputs",
                },
                join("j"),
            ],
        }
    )
    run = Run(definition)
    assert run.task("w__1")["status"] == "SCHEDULED"

    run.complete("w__1", {"i": 1})

    assert run.task("j__1")["status"] == "COMPLETED"
    # As in Conductor, a JOIN inside a loop keys its output by the iteration's names.
    assert run.task("j__1")["outputData"] == {"w__1": {"i": 1}}
    assert run.task("df__2")["status"] == "COMPLETED"
    run.complete("w__2", {"i": 2})
    assert run.task("j__2")["outputData"] == {"w__2": {"i": 2}}
    assert run.status == "COMPLETED"
