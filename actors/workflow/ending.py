"""Ending a workflow: completing it once nothing runs, its output, failing it (and
starting its failureWorkflow), cancelling what still runs, telling the parent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow import commands as cmd
from actors.workflow.operators.base import operator_for
from actors.workflow.state import Json, TaskRecord, public_task
from definitions.models import SUCCESSFUL_TASK_STATUSES, TERMINAL_TASK_STATUSES, TERMINAL_WORKFLOW_STATUSES

if TYPE_CHECKING:
    from actors.workflow.machine import Decider

FAILED_TASK_STATUSES = frozenset({"FAILED", "FAILED_WITH_TERMINAL_ERROR"})


def complete_workflow(decider: Decider) -> None:
    """The end of the definition is reached; complete once no task is still running.

    As in Conductor, tasks a JOIN did not wait for (a branch left out of `joinOn`) keep
    running and the workflow completes when the last of them ends.
    """
    if decider.state.has_active_task():
        return
    failed_permissive = failed_permissive_tasks(decider)
    if failed_permissive:
        reason = ". ".join(
            f"Task {task['taskId']} failed with status: {task['status']} and reason: "
            f"'{task.get('reasonForIncompletion')}'"
            for task in failed_permissive
        )
        end_workflow(decider, "FAILED", reason, final_output(decider), failed_permissive[0])
        return
    end_workflow(decider, "COMPLETED", None, final_output(decider))


def failed_permissive_tasks(decider: Decider) -> list[TaskRecord]:
    """The last attempt of each permissive (and not optional) task, where it failed."""
    latest: dict[str, TaskRecord] = {}
    for task in decider.state.tasks:
        if task["status"] in SUCCESSFUL_TASK_STATUSES and task["status"] != "COMPLETED_WITH_ERRORS":
            latest.pop(task["referenceTaskName"], None)
            continue
        if task["status"] in TERMINAL_TASK_STATUSES and not task["retried"]:
            try:
                workflow_task = decider.workflow_task_of(task)
            except KeyError:
                continue
            if workflow_task.permissive and not workflow_task.optional:
                latest[task["referenceTaskName"]] = task
    return list(latest.values())


def final_output(decider: Decider, last: TaskRecord | None = None) -> Json:
    """Conductor's workflow output: a successful TERMINATE task's output, else the
    resolved outputParameters, else the output of `last` (by default the last task)."""
    tasks = decider.state.tasks
    for task in tasks:
        if operator_for(task["taskType"]).output_is_the_workflows and task["status"] in SUCCESSFUL_TASK_STATUSES:
            return dict(task["outputData"])
    definition = decider.state.definition
    if definition.output_parameters:
        return dict(decider.resolve(definition.output_parameters))
    if last is None and tasks:
        last = tasks[-1]
    return dict(last["outputData"]) if last else {}


def main_path_done(decider: Decider) -> bool:
    """Whether the last top-level task of the definition is done and decided."""
    definition_tasks = decider.state.definition.tasks
    if not definition_tasks:
        return True
    task = decider.state.by_ref.get(definition_tasks[-1].task_reference_name)
    return (
        task is not None and task["executed"] and task["status"] in SUCCESSFUL_TASK_STATUSES and not task.get("_open")
    )


def _reference_name(task: TaskRecord) -> str:
    return task["referenceTaskName"]


def _definition_name(task: TaskRecord) -> str:
    return task["taskDefName"]


def end_workflow(
    decider: Decider,
    status: str,
    reason: str | None,
    output: Json | None = None,
    failed_task: TaskRecord | None = None,
    *,
    failure_workflow: bool | None = None,
) -> None:
    """End the workflow. `failure_workflow` forces the definition's failureWorkflow on
    or off; by default it starts when the workflow FAILED or TIMED_OUT."""
    workflow = decider.state.workflow
    if workflow["status"] in TERMINAL_WORKFLOW_STATUSES:
        return
    workflow["status"] = status
    workflow["endTime"] = decider.now
    workflow["updateTime"] = decider.now
    if reason is not None:
        workflow["reasonForIncompletion"] = reason
    if output is None and status != "COMPLETED":
        output = final_output(decider)
    if output is not None:
        workflow["output"] = dict(output)
    # Like Conductor: every task that ended FAILED, retried or not, by name, once.
    failed = [task for task in decider.state.tasks if task["status"] in FAILED_TASK_STATUSES]
    for names, named in (
        (workflow.setdefault("failedReferenceTaskNames", []), _reference_name),
        (workflow.setdefault("failedTaskNames", []), _definition_name),
    ):
        names.extend(dict.fromkeys(named(task) for task in failed if named(task) not in names))
    if failure_workflow if failure_workflow is not None else status in ("FAILED", "TIMED_OUT"):
        start_failure_workflow(decider, status, reason, failed_task)
    decider.state.touch_workflow()
    cancel_active_tasks(decider, reason or f"Workflow {status}")
    decider._pending.clear()
    decider.state.pending = []
    parent_id = workflow.get("parentWorkflowId")
    if parent_id:
        decider.emit(
            cmd.NotifyParent(
                parent_workflow_id=parent_id,
                parent_task_id=workflow["parentWorkflowTaskId"],
                child_workflow_id=workflow["workflowId"],
                status=status,
                output=workflow.get("output", {}),
                reason_for_incompletion=workflow.get("reasonForIncompletion"),
            )
        )
    decider.emit(cmd.WorkflowEnded(status))


def start_failure_workflow(decider: Decider, status: str, reason: str | None, failed_task: TaskRecord | None) -> None:
    """Start the definition's failureWorkflow: it gets the failed workflow's id, reason and
    whole execution as input, and the failed workflow's output names it."""
    name: Any = decider.state.definition.failure_workflow
    if name and name.startswith("${"):
        name = decider.resolve(name)
    elif name and name.startswith("$"):
        # Conductor's older form, "$workflow.input.failureWfName": a workflow input.
        parts = name.split(".")
        name = decider.state.workflow["input"].get(parts[2]) if len(parts) > 2 else None
    if not isinstance(name, str) or not name.strip():
        return
    workflow = decider.state.workflow
    failure_workflow_id = decider.env.new_id()
    failed_workflow = {**workflow, "tasks": [public_task(task) for task in decider.state.tasks]}
    failure_input: Json = {
        **workflow["input"],
        "workflowId": workflow["workflowId"],
        "reason": reason,
        "failureStatus": status,
        "failedWorkflow": failed_workflow,
    }
    if failed_task is not None:
        failure_input["failureTaskId"] = failed_task["taskId"]
    workflow.setdefault("output", {})["conductor.failure_workflow"] = failure_workflow_id
    decider.emit(
        cmd.StartWorkflow(
            workflow_id=failure_workflow_id,
            name=name,
            input=failure_input,
            correlation_id=workflow.get("correlationId"),
            priority=workflow.get("priority", 0),
            task_to_domain=workflow.get("taskToDomain") or {},
        )
    )


def cancel_active_tasks(decider: Decider, reason: str) -> None:
    workflow = decider.state.workflow
    if workflow.get("reasonForIncompletion"):
        child_reason = f"Parent workflow has been terminated with reason: {workflow['reasonForIncompletion']}"
    else:
        child_reason = f"Parent workflow has been terminated with status {workflow['status']}"
    for task in decider.state.active_tasks():
        task["status"] = "CANCELED"
        task["endTime"] = decider.now
        task["updateTime"] = decider.now
        task["executed"] = True
        task.setdefault("reasonForIncompletion", reason)
        decider.state.touch(task)
        decider.clear_timers(task)
        if operator_for(decider.workflow_task_of(task).type).runs_on_worker:
            decider.emit(cmd.CancelTask(task))
        child_id = task.get("subWorkflowId")
        if child_id and operator_for(task["taskType"]).has_child_workflow:
            decider.emit(cmd.TerminateChild(child_id, child_reason))
