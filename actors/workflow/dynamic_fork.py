"""FORK_JOIN_DYNAMIC: forks over a list of tasks computed at run time.

Two input forms, as in Conductor: `dynamicForkTasksParam` names an input holding
WorkflowTask definitions and `dynamicForkTasksInputParamName` one holding each task's
input by reference name; or `forkTaskName` with a list `forkTaskInputs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from actors.workflow.fork_join import schedule_join
from actors.workflow.graph import iteration_of
from actors.workflow.operator import Operator, register
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Step


def _forked_tasks(task: dict[str, Any], workflow_task: WorkflowTask) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    inputs = task["inputData"]
    if workflow_task.dynamic_fork_tasks_param:
        tasks = inputs.get(workflow_task.dynamic_fork_tasks_param)
        task_inputs = inputs.get(workflow_task.dynamic_fork_tasks_input_param_name or "") or {}
        if not isinstance(tasks, list):
            raise ValueError(f"input '{workflow_task.dynamic_fork_tasks_param}' must be a list of tasks")
        if not isinstance(task_inputs, dict):
            raise ValueError("the dynamic tasks' input must be a map from reference name to input")
        return tasks, task_inputs
    name = inputs.get("forkTaskName")
    fork_inputs = inputs.get("forkTaskInputs")
    if not isinstance(name, str) or not isinstance(fork_inputs, list):
        raise ValueError("give dynamicForkTasksParam, or forkTaskName with a list forkTaskInputs")
    task_type = inputs.get("forkTaskType") or "SIMPLE"
    tasks = [{"name": name, "taskReferenceName": f"{name}_{i}", "type": task_type} for i in range(len(fork_inputs))]
    return tasks, {t["taskReferenceName"]: item for t, item in zip(tasks, fork_inputs, strict=True)}


@register
class DynamicForkOperator(Operator):
    task_type = "FORK_JOIN_DYNAMIC"

    def start(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        try:
            raw_tasks, task_inputs = _forked_tasks(task, workflow_task)
            forked = [WorkflowTask.model_validate(raw) for raw in raw_tasks]
        except (ValueError, ValidationError) as error:
            step.finish(task, "FAILED", {}, f"FORK_JOIN_DYNAMIC: {error}")
            return
        references = [forked_task.task_reference_name for forked_task in forked]
        if len(set(references)) != len(references) or any(step.find_task(ref) for ref in references):
            step.finish(task, "FAILED", {}, "FORK_JOIN_DYNAMIC: reference names must be unique")
            return
        task["inputData"] = {
            **task["inputData"],
            "forkedTasks": references,
            "forkedTaskDefs": [forked_task.to_wire() for forked_task in forked],
            "forkedTaskInputs": task_inputs,
        }
        step.finish(task, "COMPLETED", {})

    def on_success(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        iteration = iteration_of(task["referenceTaskName"])
        inputs = task["inputData"]
        task_inputs = inputs.get("forkedTaskInputs") or {}
        for raw in inputs.get("forkedTaskDefs") or []:
            forked = WorkflowTask.model_validate(raw)
            given = task_inputs.get(forked.task_reference_name)
            input_data = given if isinstance(given, dict) else None
            step.schedule(forked, iteration, input_data=input_data, dynamic=True)
        schedule_join(step, task, list(inputs.get("forkedTasks") or []))
