"""FORK_JOIN_DYNAMIC: forks over a list of tasks computed at run time.

Two input forms, as in Conductor, tried in Conductor's order:

- `forkTaskInputs`, a list: one branch per item, all running the task named by
  `forkTaskName` (of type `forkTaskType`, SIMPLE by default) or, with
  `forkTaskWorkflow`, a sub workflow. Branch i is named `_<name>_<i>` (`_<forkRef>_<name>_<i>`
  once another dynamic fork has run in the execution) and gets the item as its input
  (a non-map item as `{"input": item}`) plus `__index: i`.
- `dynamicForkTasksParam` names an input holding WorkflowTask definitions and
  `dynamicForkTasksInputParamName` one holding each task's input by reference name.
  A forked task's input is its own resolved `inputParameters` overlaid with that input.

Like a static fork, the task is recorded as type `FORK` and schedules its branches and
its JOIN at once; the JOIN waits for every forked task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from actors.workflow.graph import iteration_of, with_iteration
from actors.workflow.operators.base import Operator, operator_for, register
from actors.workflow.operators.fork_join import FORK_TASK_TYPE, join_after, joined_after, schedule_join
from definitions.models import WorkflowTask
from definitions.validation import Finding, Review, TaskSite, blank, error, warning

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord

# Forked tasks are branches of one task: a type that owns nested task lists cannot be one.
_NOT_FORKABLE = frozenset({"SWITCH", "DECISION", "FORK_JOIN", "FORK_JOIN_DYNAMIC", "DO_WHILE", "JOIN"})


class ForkError(ValueError):
    pass


def _another_dynamic_fork_ran(decider: Decider, task: TaskRecord) -> bool:
    graph = decider.state.graph
    for other in decider.state.tasks:
        if other is task or other.get("workflowTask") is not None:
            continue
        position = graph.position(other["referenceTaskName"])
        if position is not None and position.task.type == "FORK_JOIN_DYNAMIC":
            return True
    return False


def _version(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value or None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value) or None
    return None


def _simple_form(
    decider: Decider, task: TaskRecord, workflow_task: WorkflowTask, fork_inputs: list[Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    inputs = task["inputData"]
    workflow_name = inputs.get("forkTaskWorkflow")
    task_type = inputs.get("forkTaskType")
    name = inputs.get("forkTaskName")
    if name is None and isinstance(task_type, str) and not operator_for(task_type).runs_on_worker:
        name = task_type
    if name is None:
        name = workflow_task.task_reference_name
    task_type = task_type or "SIMPLE"
    # Conductor's naming, which changes once a dynamic fork already ran in the execution.
    parent = f"_{workflow_task.task_reference_name}" if _another_dynamic_fork_ran(decider, task) else ""
    prefix = f"{parent}_{name}_"
    tasks: list[dict[str, Any]] = []
    task_inputs: dict[str, Any] = {}
    for index, item in enumerate(fork_inputs):
        params = dict(item) if isinstance(item, dict) else {"input": item}
        params["__index"] = index
        raw: dict[str, Any] = {"name": name, "taskReferenceName": f"{prefix}{index}", "type": task_type}
        if workflow_name:
            raw["name"] = workflow_name
            raw["type"] = "SUB_WORKFLOW"
            raw["subWorkflowParam"] = {
                "name": workflow_name,
                "version": _version(inputs.get("forkTaskWorkflowVersion")),
                "taskToDomain": item.get("taskToDomain") if isinstance(item, dict) else None,
            }
        if workflow_task.optional:
            raw["optional"] = True
        tasks.append(raw)
        task_inputs[raw["taskReferenceName"]] = params
    return tasks, task_inputs


def _forked_tasks(
    decider: Decider, task: TaskRecord, workflow_task: WorkflowTask
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    inputs = task["inputData"]
    fork_inputs = inputs.get("forkTaskInputs")
    if isinstance(fork_inputs, list):
        return _simple_form(decider, task, workflow_task, fork_inputs)
    if not workflow_task.dynamic_fork_tasks_param:
        raise ForkError("give dynamicForkTasksParam, or forkTaskName with a list forkTaskInputs")
    tasks = inputs.get(workflow_task.dynamic_fork_tasks_param)
    task_inputs = inputs.get(workflow_task.dynamic_fork_tasks_input_param_name or "") or {}
    if not isinstance(tasks, list) or not all(isinstance(raw, dict) for raw in tasks):
        raise ForkError(f"input '{workflow_task.dynamic_fork_tasks_param}' must be a list of tasks")
    if not isinstance(task_inputs, dict):
        raise ForkError("the dynamic tasks' input must be a map from reference name to input")
    for reference, given in task_inputs.items():
        if given is not None and not isinstance(given, dict):
            raise ForkError(f"the input of forked task '{reference}' must be a map, got {type(given).__name__}")
    return tasks, task_inputs


@register
class DynamicForkOperator(Operator):
    task_type = "FORK_JOIN_DYNAMIC"
    mocked_in_test_runs = False
    retryable = False
    holds_branches = True

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        task = site.task
        findings: list[Finding] = []
        params = task.input_parameters
        legacy = (task.model_extra or {}).get("dynamicForkJoinTasksParam")
        if "forkTaskInputs" in params:
            # Newer Conductor forks over forkTaskInputs with one task (forkTaskName) or one
            # sub-workflow (forkTaskWorkflow) per input; Conductor asks for nothing more.
            if "forkTaskName" not in params and "forkTaskWorkflow" not in params:
                findings.append(
                    warning("inputParameters.forkTaskInputs without forkTaskName or forkTaskWorkflow; the fork fails")
                )
        elif legacy is not None and (
            task.dynamic_fork_tasks_param is not None or task.dynamic_fork_tasks_input_param_name
        ):
            findings.append(
                error(
                    "dynamicForkJoinTasksParam or the combination of dynamicForkTasksParam and "
                    "dynamicForkTasksInputParamName can be used, not both"
                )
            )
        elif legacy is None:
            if task.dynamic_fork_tasks_param is None:
                findings.append(
                    error(
                        "dynamicForkTasksParam is missing (or give inputParameters.forkTaskName and "
                        "inputParameters.forkTaskInputs)"
                    )
                )
            elif blank(task.dynamic_fork_tasks_param):
                findings.append(warning("dynamicForkTasksParam is empty"))
            if task.dynamic_fork_tasks_input_param_name is None:
                findings.append(error("dynamicForkTasksInputParamName is missing"))
        return findings + joined_after(site)

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        task["taskType"] = FORK_TASK_TYPE
        iteration = iteration_of(task["referenceTaskName"])
        try:
            raw_tasks, task_inputs = _forked_tasks(decider, task, workflow_task)
            forked = [WorkflowTask.model_validate(raw) for raw in raw_tasks]
        except (ForkError, ValidationError) as error:
            decider.finish(task, "FAILED", {}, f"FORK_JOIN_DYNAMIC: {error}")
            return
        references = [forked_task.task_reference_name for forked_task in forked]
        by_ref = decider.state.by_ref
        if (
            any(not reference for reference in references)
            or len(set(references)) != len(references)
            or any(with_iteration(reference, iteration) in by_ref for reference in references)
        ):
            decider.finish(task, "FAILED", {}, "FORK_JOIN_DYNAMIC: reference names must be unique and non-empty")
            return
        containers = sorted({forked_task.type for forked_task in forked} & _NOT_FORKABLE)
        if containers:
            decider.finish(task, "FAILED", {}, f"FORK_JOIN_DYNAMIC: cannot fork tasks of type {', '.join(containers)}")
            return
        join = join_after(decider, task)
        if join is None:
            return
        task["inputData"] = {
            **task["inputData"],
            "forkedTasks": references,
            "forkedTaskDefs": [forked_task.to_wire() for forked_task in forked],
        }
        decider.finish(task, "COMPLETED", {})
        for forked_task in forked:
            given = task_inputs.get(forked_task.task_reference_name) or {}
            input_data = {**decider.resolve(forked_task.input_parameters, iteration), **given}
            decider.schedule(forked_task, iteration, input_data=input_data, dynamic=True)
        schedule_join(decider, task, join, references)

    def on_success(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        """Nothing to do: the forked tasks and the JOIN were scheduled with the fork."""
