"""Operations on a whole execution: restart, retry, rerun, skip a task, reset callbacks, decide.

Each checks the execution's state first and raises `Rejected` (nothing changed) when
Conductor would refuse; the messages follow Conductor's. An ended workflow that runs
again is indexed as running (`WorkflowReopened`) and, when it is a child, its parent's
SUB_WORKFLOW task waits for it again (`ReopenParent`), as Conductor's
`updateAndPushParents` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from actors.workflow import timeouts
from actors.workflow.operators.base import operator_for
from definitions.models import SUCCESSFUL_TASK_STATUSES, TERMINAL_WORKFLOW_STATUSES

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord

Json = dict[str, Any]
RETRIED_FAILURES = frozenset({"FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT"})


def _cut_container(task: TaskRecord) -> bool:
    """A container the failure ended (a JOIN, a DO_WHILE): running again reopens it in place."""
    return task["status"] in ("CANCELED", "FAILED") and operator_for(task["taskType"]).reopened_by_retry


def apply(decider: Decider, event: ev.Event) -> None:
    match event:
        case ev.Restart():
            restart(decider, event)
        case ev.Retry():
            retry(decider, event)
        case ev.Rerun():
            rerun(decider, event)
        case ev.SkipTask():
            skip_task(decider, event)
        case ev.ResetCallbacks():
            reset_callbacks(decider)
        case ev.Decide():
            decider.mark_joins_dirty()


def _require_ended(decider: Decider, action: str) -> None:
    workflow = decider.state.workflow
    if workflow["status"] not in TERMINAL_WORKFLOW_STATUSES:
        raise ev.Rejected(
            f"Workflow {workflow['workflowId']} is {workflow['status']}, not in a terminal state: unable to {action}"
        )


def _reopen(decider: Decider, *, retried: bool) -> None:
    """The ended workflow runs again."""
    workflow = decider.state.workflow
    workflow["status"] = "RUNNING"
    workflow.pop("reasonForIncompletion", None)
    workflow["endTime"] = 0
    workflow["updateTime"] = decider.now
    if retried:
        workflow["lastRetriedTime"] = decider.now
    else:
        workflow.pop("lastRetriedTime", None)
    decider.state.touch_workflow()
    decider.emit(cmd.WorkflowReopened())
    parent_id = workflow.get("parentWorkflowId")
    if parent_id:
        decider.emit(cmd.ReopenParent(parent_id, workflow["parentWorkflowTaskId"], workflow["workflowId"]))
    timeouts.arm_workflow_timeout(decider)


def _run_from_start(decider: Decider, workflow_input: Json) -> None:
    state = decider.state
    workflow = state.workflow
    state.remove_tasks({task["taskId"] for task in state.tasks})
    workflow["input"] = workflow_input
    workflow["output"] = {}
    workflow["variables"] = dict(state.definition.variables)
    workflow["failedReferenceTaskNames"] = []
    workflow["failedTaskNames"] = []
    workflow["createTime"] = workflow["startTime"] = decider.now
    _reopen(decider, retried=False)
    if state.definition.tasks:
        decider.schedule(state.definition.tasks[0])
    else:
        decider.complete_workflow()


def restart(decider: Decider, event: ev.Restart) -> None:
    _require_ended(decider, "restart")
    state = decider.state
    workflow = state.workflow
    definition = event.definition or state.definition
    if not definition.restartable and workflow["status"] == "COMPLETED":
        raise ev.Rejected(f"Workflow {workflow['workflowId']} is non-restartable")
    if event.definition is not None:
        state.replace_definition(event.definition)
        workflow["workflowVersion"] = event.definition.version
    _run_from_start(decider, workflow["input"])


def _reopen_task(decider: Decider, task: TaskRecord) -> None:
    task["status"] = "IN_PROGRESS"
    task["executed"] = False
    task["endTime"] = 0
    task["updateTime"] = decider.now
    task.pop("reasonForIncompletion", None)
    decider.state.touch(task)


def retry(decider: Decider, event: ev.Retry) -> None:
    _require_ended(decider, "retry")
    state = decider.state
    workflow = state.workflow
    if not state.tasks:
        raise ev.Rejected("Workflow has not started yet")
    # The last attempt of each reference name, where it did not succeed.
    retriable: dict[str, TaskRecord] = {}
    containers: list[TaskRecord] = []
    for task in state.tasks:
        status = task["status"]
        reference = task["referenceTaskName"]
        if status in RETRIED_FAILURES and operator_for(task["taskType"]).retried_by_workflow_retry:
            retriable[reference] = task
        elif _cut_container(task):
            containers.append(task)
        elif status == "CANCELED":
            retriable[reference] = task
        else:
            retriable.pop(reference, None)
    if not retriable and not containers and workflow["status"] != "TIMED_OUT":
        raise ev.Rejected(
            "There are no retryable tasks! Use restart if you want to attempt entire workflow execution again."
        )
    _reopen(decider, retried=True)
    for container in containers:
        _reopen_task(decider, container)
    decider.mark_joins_dirty()
    for task in sorted(retriable.values(), key=lambda t: t["seq"]):
        child_id = task.get("subWorkflowId")
        if event.resume_subworkflow_tasks and operator_for(task["taskType"]).has_child_workflow and child_id:
            # Retry the child where it failed instead of starting a new one.
            _reopen_task(decider, task)
            decider.emit(cmd.RetryChild(child_id, workflow["workflowId"], task["taskId"]))
            continue
        decider.retry_task(task, decider.workflow_task_of(task), 0)


def rerun(decider: Decider, event: ev.Rerun) -> None:
    _require_ended(decider, "rerun")
    state = decider.state
    workflow = state.workflow
    task = state.by_id.get(event.task_id) if event.task_id is not None else None
    if event.task_id is not None and task is None:
        raise ev.Rejected(f"Task {event.task_id} not found in workflow {workflow['workflowId']}", 400)
    if event.correlation_id is not None:
        workflow["correlationId"] = event.correlation_id
    if task is None:
        _run_from_start(decider, event.workflow_input if event.workflow_input is not None else workflow["input"])
        return
    if event.workflow_input is not None:
        workflow["input"] = event.workflow_input
    workflow["failedReferenceTaskNames"] = []
    workflow["failedTaskNames"] = []
    state.remove_tasks({t["taskId"] for t in state.tasks if t["seq"] > task["seq"]})
    _reopen(decider, retried=True)
    for container in state.tasks:
        if container is not task and _cut_container(container):
            _reopen_task(decider, container)
    workflow_task = decider.workflow_task_of(task)
    for key in ("_timers", "_visibleAt", "_open", "_iterationStartSeq", "reasonForIncompletion", "workerId"):
        task.pop(key, None)  # type: ignore[misc]  # each a declared key
    task.pop("subWorkflowId", None)
    task.update(
        {
            "status": "SCHEDULED",
            "scheduledTime": decider.now,
            "startTime": 0,
            "endTime": 0,
            "updateTime": decider.now,
            "outputData": {},
            "retried": False,
            "executed": False,
            "pollCount": 0,
            "callbackAfterSeconds": 0,
        }
    )
    if event.task_input is not None:
        task["inputData"] = event.task_input
    state.touch(task)
    operator = operator_for(workflow_task.type)
    operator.start(decider, task, workflow_task)
    task_def = decider.task_def_for(workflow_task)
    if operator.runs_on_worker and task_def is not None:
        timeouts.arm_on_schedule(decider, task, task_def, 0)
    _resume_cut_paths(decider, task)


def _resume_cut_paths(decider: Decider, rerun_task: TaskRecord) -> None:
    """Rerunning from a task drops every later task, including ones other fork branches
    still needed: schedule again what a branch or a fork's JOIN now lacks."""
    state = decider.state
    graph = state.graph
    for task in list(state.tasks):
        if task is rerun_task or task["retried"] or "workflowTask" in task:
            continue
        position = graph.position(task["referenceTaskName"])
        if position is None:
            continue
        iteration = task["iteration"]
        operator = operator_for(position.task.type)
        if operator.restore_after_rerun(decider, task, position, iteration):
            continue
        following = position.next_sibling
        if (
            following is not None
            and task["executed"]
            and task["status"] in SUCCESSFUL_TASK_STATUSES
            and not operator.holds_branches
            and decider.find_task(following.task_reference_name, iteration) is None
        ):
            decider.advance(task)


def skip_task(decider: Decider, event: ev.SkipTask) -> None:
    state = decider.state
    workflow = state.workflow
    reference = event.reference_name
    if workflow["status"] != "RUNNING":
        raise ev.Rejected(
            f"The workflow {workflow['workflowId']} is not running so the task referenced by {reference} "
            "cannot be skipped"
        )
    position = state.graph.position(reference)
    if position is None:
        raise ev.Rejected(
            f"The task referenced by {reference} does not exist in the workflow definition {workflow['workflowName']}",
            400,
        )
    if reference in state.by_ref:
        raise ev.Rejected(f"The task referenced {reference} has already been processed, cannot be skipped")
    task = decider.new_task(position.task, 0, "SKIPPED")
    task.update(
        {
            "inputData": event.task_input or {},
            "outputData": event.task_output or {},
            "endTime": decider.now,
            "executed": True,
            "_skipAhead": True,
        }
    )
    state.add_task(task)


def reset_callbacks(decider: Decider) -> None:
    state = decider.state
    workflow = state.workflow
    if workflow["status"] in TERMINAL_WORKFLOW_STATUSES:
        raise ev.Rejected(f"Workflow is in terminal state. Status = {workflow['status']}")
    for task in state.active_tasks():
        if not operator_for(decider.workflow_task_of(task).type).runs_on_worker:
            continue
        waiting = task.get("callbackAfterSeconds", 0) > 0 or task.get("_visibleAt", 0) > decider.now
        if not waiting:
            continue
        task["callbackAfterSeconds"] = 0
        task.pop("_visibleAt", None)
        state.touch(task)
        # A Python pool task waits on the shard's dispatch timer, a queued one on its score.
        decider.emit(cmd.ClearTimer(task["taskId"], cmd.DISPATCH_TIMER))
        decider.dispatch(task)


def child_reopened(decider: Decider, event: ev.ChildReopened) -> None:
    """A child of this workflow runs again: its SUB_WORKFLOW task waits for it again."""
    state = decider.state
    task = state.by_id.get(event.task_id)
    if task is None or task.get("subWorkflowId") != event.child_workflow_id or task["retried"]:
        return
    if task["status"] == "IN_PROGRESS":
        return
    if decider.workflow_task_of(task).optional:
        return  # as in Conductor: an optional child's fate never reopened its parent
    _reopen_task(decider, task)
    if state.workflow["status"] in TERMINAL_WORKFLOW_STATUSES:
        # As Conductor's updateAndPushParents: what the failure cancelled runs again too.
        _reopen(decider, retried=True)
        for other in list(state.tasks):
            if other["retried"] or other is task:
                continue
            if _cut_container(other):
                _reopen_task(decider, other)
            elif other["status"] == "CANCELED":
                decider.retry_task(other, decider.workflow_task_of(other), 0)
        decider.mark_joins_dirty()
