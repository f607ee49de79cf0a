"""SIMPLE tasks: dispatch to workers, inputs resolved from expressions, results flowing on.

Behaviour follows Conductor's SimpleWorkflowSpec on `simple_workflow_1_integration_test.json`.
"""

from __future__ import annotations

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, dispatched, of_type, simple, types, workflow

LINEAR = "workflows/simple_workflow_1_integration_test.json"


def test_start_schedules_and_dispatches_only_the_first_task() -> None:
    run = Run(conductor_definition(LINEAR), {"param1": "p1 value", "param2": "p2 value"})

    assert run.status == "RUNNING"
    assert types(run) == [("integration_task_1", "SCHEDULED")]
    [dispatch] = of_type(run.commands, cmd.DispatchTask)
    assert dispatch.task is run.task("t1")
    assert dispatch.delay_ms == 0
    task = run.task("t1")
    assert task["taskDefName"] == "integration_task_1"
    assert task["workflowInstanceId"] == "wf-1"
    assert task["seq"] == 1
    assert task["retryCount"] == 0


def test_inputs_are_resolved_from_workflow_input_and_nulls_are_kept() -> None:
    run = Run(conductor_definition(LINEAR), {"param1": "p1 value", "param2": None})

    inputs = run.task("t1")["inputData"]
    assert inputs["p1"] == "p1 value"
    assert "p2" in inputs and inputs["p2"] is None
    assert "someNullKey" in inputs and inputs["someNullKey"] is None


def test_cpewf_task_id_resolves_to_the_tasks_own_id() -> None:
    run = Run(conductor_definition(LINEAR), {"param1": "a"})

    assert run.task("t1")["inputData"]["p3"] == run.task("t1")["taskId"]
    run.complete("t1", {"op": "x"})
    assert run.task("t2")["inputData"]["tp3"] == run.task("t2")["taskId"]


def test_completing_a_task_feeds_its_output_to_the_next_one() -> None:
    run = Run(conductor_definition(LINEAR), {"param1": "p1 value", "param2": "p2 value"})

    produced = run.complete("t1", {"op": "task1.done"})

    assert dispatched(produced) == ["t2"]
    assert types(run) == [("integration_task_1", "COMPLETED"), ("integration_task_2", "SCHEDULED")]
    assert run.task("t2")["inputData"]["tp1"] == "p1 value"
    assert run.task("t2")["inputData"]["tp2"] == "task1.done"
    assert run.task("t2")["seq"] == 2


def test_last_task_completes_the_workflow_with_output_parameters() -> None:
    run = Run(conductor_definition(LINEAR), {"param1": "p1 value", "param2": "p2 value"})
    run.complete("t1", {"op": "task1.done"})

    produced = run.complete("t2", {"uuid": "u-1"})

    assert run.status == "COMPLETED"
    assert run.output == {"o1": "p1 value", "o2": "u-1", "o3": "task1.done"}
    assert of_type(produced, cmd.WorkflowEnded) == [cmd.WorkflowEnded("COMPLETED")]
    assert of_type(produced, cmd.CancelTask) == []
    assert run.state.workflow["endTime"] == run.now


def test_output_data_keeps_null_values() -> None:
    run = Run(conductor_definition(LINEAR), {"param1": "p"})

    run.complete("t1", {"someOtherKey": {"a": 1, "A": None}, "someKey": None})

    output = run.task("t1")["outputData"]
    assert "someKey" in output and output["someKey"] is None
    assert output["someOtherKey"] == {"a": 1, "A": None}


def test_polling_moves_the_task_to_in_progress() -> None:
    run = Run(workflow(simple("a")))
    run.now += 250

    run.send(ev.TaskPolled(run.task("a")["taskId"], worker_id="worker-7"))

    task = run.task("a")
    assert task["status"] == "IN_PROGRESS"
    assert task["startTime"] == run.now
    assert task["pollCount"] == 1
    assert task["workerId"] == "worker-7"


def test_in_progress_update_with_callback_redispatches_later() -> None:
    run = Run(workflow(simple("a")))
    task_id = run.task("a")["taskId"]

    produced = run.send(ev.TaskUpdate(task_id, "IN_PROGRESS", {"progress": 50}, callback_after_seconds=30))

    assert run.task("a")["status"] == "IN_PROGRESS"
    assert run.task("a")["outputData"] == {"progress": 50}
    [again] = of_type(produced, cmd.DispatchTask)
    assert again.delay_ms == 30_000
    assert run.status == "RUNNING"


def test_outputs_of_successive_updates_are_merged() -> None:
    run = Run(workflow(simple("a")))
    task_id = run.task("a")["taskId"]

    run.send(ev.TaskUpdate(task_id, "IN_PROGRESS", {"first": 1}))
    run.send(ev.TaskUpdate(task_id, "COMPLETED", {"second": 2}))

    assert run.task("a")["outputData"] == {"first": 1, "second": 2}
    assert run.status == "COMPLETED"


def test_start_delay_postpones_the_first_dispatch() -> None:
    run = Run(workflow(simple("a", startDelay=5)))

    [dispatch] = of_type(run.commands, cmd.DispatchTask)
    assert dispatch.delay_ms == 5_000
    assert run.task("a")["startDelayInSeconds"] == 5


def test_task_type_is_the_task_name_and_domain_comes_from_task_to_domain() -> None:
    run = Run(workflow(simple("a", name="resize_image")), task_to_domain={"resize_image": "gpu"})

    task = run.task("a")
    assert task["taskType"] == "resize_image"
    assert task["domain"] == "gpu"
    assert of_type(run.commands, cmd.DispatchTask)[0].task["domain"] == "gpu"


def test_a_wildcard_domain_applies_to_every_worker_task() -> None:
    run = Run(workflow(simple("a")), task_to_domain={"*": "blue"})

    assert run.task("a")["domain"] == "blue"


def test_tasks_without_a_domain_mapping_have_none() -> None:
    run = Run(workflow(simple("a")), task_to_domain={"other": "blue"})

    assert "domain" not in run.task("a")


def test_input_template_of_the_task_def_fills_missing_inputs() -> None:
    definition = workflow(simple("a", name="templated", inputParameters={"given": "${workflow.input.g}"}))
    task_defs = [{"name": "templated", "inputTemplate": {"given": "default", "extra": 42}}]

    run = Run(definition, {"g": "mine"}, task_defs=task_defs)

    assert run.task("a")["inputData"] == {"given": "mine", "extra": 42}


def test_correlation_id_and_priority_are_copied_to_tasks() -> None:
    run = Run(workflow(simple("a")), correlation_id="c-1", priority=7)

    task = run.task("a")
    assert task["correlationId"] == "c-1"
    assert task["workflowPriority"] == 7
    assert run.state.workflow["correlationId"] == "c-1"


def test_without_output_parameters_the_workflow_output_is_the_last_tasks_output() -> None:
    run = Run(workflow(simple("a"), simple("b")))
    run.complete("a", {"x": 1})
    run.complete("b", {"y": 2})

    assert run.output == {"y": 2}


def test_an_empty_workflow_completes_at_once() -> None:
    run = Run(workflow())

    assert run.status == "COMPLETED"
    assert run.output == {}
    assert of_type(run.commands, cmd.WorkflowEnded) == [cmd.WorkflowEnded("COMPLETED")]
