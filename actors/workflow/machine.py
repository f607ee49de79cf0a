"""The workflow state machine: events in, state and commands out, time as an argument.

`handle(state, event, now, env)` applies one event to one execution. Nothing here does
I/O: the shard hosting the execution writes the checkpoint, then carries out the
returned commands. Every operator lives in its own module beside this one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from actors.workflow import commands as cmd
from actors.workflow import ending, retries, timeouts
from actors.workflow import events as ev
from actors.workflow.graph import Position, base_reference, iteration_of, with_iteration
from actors.workflow.operators.base import operator_for
from actors.workflow.state import Json, TaskRecord, WorkflowRecord, WorkflowState
from definitions.expressions import resolve
from definitions.models import (
    SUCCESSFUL_TASK_STATUSES,
    TERMINAL_TASK_STATUSES,
    TERMINAL_WORKFLOW_STATUSES,
    TaskDef,
    WorkflowTask,
    adhoc_task_def,
)

RUNNING = "RUNNING"
PAUSED = "PAUSED"
# `${CPEWF_TASK_ID}` in a task's inputParameters is that task's own id, as in Conductor.
CURRENT_TASK_ID = "CPEWF_TASK_ID"
# The workflow status a task's last unsuccessful status leads to (Conductor's DeciderService.retry).
# In a taskToDomain list: queue the task without a domain.
NO_DOMAIN = "NO_DOMAIN"


class Environment(Protocol):
    """What a step may ask of the world: fresh ids and task definitions."""

    def new_id(self) -> str: ...

    def task_def(self, name: str) -> TaskDef | None: ...

    def active_domain(self, task_type: str, domains: list[str], now: int) -> str | None:
        """The first of `domains` in which a worker of `task_type` polled shortly before `now`."""
        ...


class Decider:
    """Applies one event: schedules, finishes and decides tasks, and collects commands."""

    def __init__(self, state: WorkflowState, now: int, env: Environment) -> None:
        self.state = state
        self.now = now
        self.env = env
        self.commands: list[cmd.Command] = []
        # `state.pending` stays as it is until `run` replaces it: an event ignored before
        # `run` (a second pause, a stale poll) must not drop what a paused workflow owes.
        self._pending: deque[TaskRecord] = deque(state.pending)
        self._joins_dirty = False

    def emit(self, command: cmd.Command) -> None:
        """Ask for a side effect; the shard carries it out once this step is checkpointed."""
        self.commands.append(command)

    # -- looking things up --------------------------------------------------------------

    def workflow_task_of(self, task: TaskRecord) -> WorkflowTask:
        dynamic = task.get("workflowTask")
        if dynamic is not None:
            return WorkflowTask.model_validate(dynamic)
        position = self.state.graph.position(task["referenceTaskName"])
        if position is None:
            raise KeyError(f"task '{task['referenceTaskName']}' is not in the workflow definition")
        # A DYNAMIC task is named after the task it resolved to, so that task's TaskDef applies.
        return operator_for(position.task.type).resolved(position.task, task)

    def task_def_for(self, workflow_task: WorkflowTask) -> TaskDef | None:
        if workflow_task.task_definition is not None:
            return workflow_task.task_definition
        registered = self.env.task_def(workflow_task.name)
        if registered is None and operator_for(workflow_task.type).runs_on_worker:
            # As in Conductor: a worker task with no TaskDef gets the default one, so a
            # failure is retried and an abandoned poll times out.
            return adhoc_task_def(workflow_task.name)
        return registered

    def find_task(self, reference_name: str, iteration: int = 0) -> TaskRecord | None:
        by_ref = self.state.by_ref
        if iteration:
            task = by_ref.get(with_iteration(reference_name, iteration))
            if task is not None:
                return task
        return by_ref.get(reference_name)

    def workflow_view(self) -> Json:
        workflow = self.state.workflow
        return {
            "input": workflow["input"],
            "output": workflow.get("output", {}),
            "variables": workflow.get("variables", {}),
            "workflowId": workflow["workflowId"],
            "correlationId": workflow.get("correlationId"),
            "workflowType": workflow["workflowName"],
            "version": workflow["workflowVersion"],
            "status": workflow["status"],
            "createTime": workflow.get("createTime"),
            "parentWorkflowId": workflow.get("parentWorkflowId"),
            "parentWorkflowTaskId": workflow.get("parentWorkflowTaskId"),
            "taskToDomain": workflow.get("taskToDomain", {}),
            "priority": workflow.get("priority", 0),
        }

    def roots(self, iteration: int = 0, task_id: str | None = None) -> Callable[[str], Any]:
        def lookup(name: str) -> Any:
            if name == "workflow":
                return self.workflow_view()
            if name == CURRENT_TASK_ID and task_id is not None:
                return task_id
            task = self.find_task(name, iteration)
            if task is None:
                return None
            return {**task, "input": task["inputData"], "output": task["outputData"]}

        return lookup

    def resolve(self, template: Any, iteration: int = 0, task_id: str | None = None) -> Any:
        """Resolve `${...}` references; `task_id` is what `${CPEWF_TASK_ID}` stands for."""
        return resolve(template, self.roots(iteration, task_id))

    # -- creating and finishing tasks ---------------------------------------------------

    def new_task(
        self, workflow_task: WorkflowTask, iteration: int, status: str, *, dynamic: bool = False
    ) -> TaskRecord:
        """A task execution of `workflow_task` in Conductor's Task shape, not yet added."""
        workflow = self.state.workflow
        operator = operator_for(workflow_task.type)
        task_type = workflow_task.name if operator.runs_on_worker else workflow_task.type
        tasks = self.state.tasks
        task: TaskRecord = {
            "taskType": task_type,
            "status": status,
            "inputData": {},
            "referenceTaskName": with_iteration(workflow_task.task_reference_name, iteration),
            "retryCount": 0,
            "seq": tasks[-1]["seq"] + 1 if tasks else 1,
            "pollCount": 0,
            "taskDefName": workflow_task.name,
            "scheduledTime": self.now,
            "firstScheduledTime": self.now,
            "startTime": 0,
            "endTime": 0,
            "updateTime": self.now,
            "startDelayInSeconds": 0,
            "retried": False,
            "executed": False,
            "callbackFromWorker": True,
            "responseTimeoutSeconds": 0,
            "workflowInstanceId": workflow["workflowId"],
            "workflowType": workflow["workflowName"],
            "taskId": self.env.new_id(),
            "callbackAfterSeconds": 0,
            "outputData": {},
            "workflowPriority": workflow.get("priority", 0),
            "iteration": iteration,
        }
        correlation_id = workflow.get("correlationId")
        if correlation_id is not None:
            task["correlationId"] = correlation_id
        if iteration:
            task["_baseRef"] = workflow_task.task_reference_name
        if dynamic:
            task["workflowTask"] = workflow_task.to_wire()
        return task

    def schedule(
        self,
        workflow_task: WorkflowTask,
        iteration: int = 0,
        *,
        input_data: Json | None = None,
        inherit_input: Json | None = None,
        dynamic: bool = False,
        retry_of: TaskRecord | None = None,
        delay_ms: int | None = None,
    ) -> TaskRecord:
        """Create and start a task; `inherit_input` is a retried attempt's input, which the
        freshly resolved inputParameters overlay (as Conductor's retry does)."""
        state = self.state
        if state.skip_ahead:
            skipped = state.by_ref.get(with_iteration(workflow_task.task_reference_name, iteration))
            if skipped is not None and skipped.get("_skipAhead"):
                # Skipped through the API before the workflow got here: move straight past it.
                del skipped["_skipAhead"]
                skipped["scheduledTime"] = skipped["updateTime"] = self.now
                state.touch(skipped)
                self.advance(skipped)
                return skipped
        operator = operator_for(workflow_task.type)
        task_def = self.task_def_for(workflow_task)
        task = self.new_task(workflow_task, iteration, "SCHEDULED", dynamic=dynamic)
        if task_def is not None:
            task["responseTimeoutSeconds"] = task_def.response_timeout_seconds
        if operator.runs_on_worker:
            domain = self.domain_for(task["taskType"])
            if domain:
                task["domain"] = domain
        if retry_of is not None:
            task["retryCount"] = retry_of["retryCount"] + 1
            task["retriedTaskId"] = retry_of["taskId"]
            task["firstScheduledTime"] = retry_of.get("firstScheduledTime") or retry_of["scheduledTime"]
            retry_of["retried"] = True
            self.state.touch(retry_of)
        if delay_ms is None:
            delay_ms = max(workflow_task.start_delay, 0) * 1000
        if delay_ms > 0:
            task["_visibleAt"] = self.now + delay_ms
            # As Conductor shows it: whole seconds, without the jitter.
            shown = delay_ms // 1000
            if retry_of is not None:
                shown = retries.retry_delay_seconds(task_def, task["retryCount"])
            task["startDelayInSeconds"] = shown
            if retry_of is not None:
                task["callbackAfterSeconds"] = shown
        if input_data is None:
            input_data = self.resolve(workflow_task.input_parameters, iteration, task["taskId"])
            if task_def is not None and task_def.input_template:
                input_data = {**task_def.input_template, **input_data}
            if inherit_input:
                input_data = {**inherit_input, **input_data}
        task["inputData"] = input_data
        state.add_task(task)
        operator.start(self, task, workflow_task)
        if operator.named_when_started:
            # Its name, and so its TaskDef, is known only once it started.
            task_def = self.task_def_for(self.workflow_task_of(task))
        if operator.runs_on_worker and task_def is not None and task["status"] == "SCHEDULED":
            timeouts.arm_on_schedule(self, task, task_def, delay_ms)
        return task

    def domain_for(self, task_type: str) -> str | None:
        """The domain a worker task is queued in, from the workflow's taskToDomain.

        A task's own entry wins over `*`. A comma-separated list falls back as Conductor's
        does: the first domain with a worker that polled recently, else the last one
        (`NO_DOMAIN` there meaning no domain at all).
        """
        mapping = self.state.workflow.get("taskToDomain") or {}
        value = mapping.get(task_type) or mapping.get("*")
        if not value:
            return None
        if "," not in value:
            return None if value.strip().upper() == NO_DOMAIN else value.strip()
        domains = [domain.strip() for domain in value.split(",") if domain.strip()]
        active = self.env.active_domain(task_type, [d for d in domains if d.upper() != NO_DOMAIN], self.now)
        if active is not None:
            return active
        last = domains[-1] if domains else NO_DOMAIN
        return None if last.upper() == NO_DOMAIN else last

    def start_task(self, task: TaskRecord) -> None:
        task["status"] = "IN_PROGRESS"
        if not task["startTime"]:
            task["startTime"] = self.now
        task["updateTime"] = self.now
        self.state.touch(task)
        timeouts.arm_on_start(self, task)

    def finish(
        self,
        task: TaskRecord,
        status: str,
        output: Json | None = None,
        reason: str | None = None,
    ) -> None:
        task["status"] = status
        if output is not None:
            task["outputData"] = output
        if reason is not None:
            task["reasonForIncompletion"] = reason
        if not task["startTime"]:
            task["startTime"] = self.now
        task["endTime"] = self.now
        task["updateTime"] = self.now
        self.state.touch(task)
        self.clear_timers(task)
        self._pending.append(task)

    def dispatch(self, task: TaskRecord, delay_ms: int = 0) -> None:
        self.emit(cmd.DispatchTask(task, delay_ms))

    def start_delay_ms(self, task: TaskRecord) -> int:
        """What is left of a task's start delay, retry delay or callback."""
        visible_at: int = task.get("_visibleAt", 0)
        return max(visible_at - self.now, 0)

    # Durable timers a task owns are listed on it (`_timers`, kind -> due), so ending the
    # task removes them instead of leaving them to fire later for nothing.

    def set_timer(self, task: TaskRecord, kind: str, due_ms: int) -> None:
        task.setdefault("_timers", {})[kind] = due_ms
        self.state.touch(task)
        self.emit(cmd.SetTimer(task["taskId"], kind, due_ms))

    def clear_timer(self, task: TaskRecord, kind: str) -> None:
        timers = task.get("_timers")
        if timers and timers.pop(kind, None) is not None:
            if not timers:
                del task["_timers"]
            self.state.touch(task)
            self.emit(cmd.ClearTimer(task["taskId"], kind))

    def clear_timers(self, task: TaskRecord) -> None:
        timers = task.pop("_timers", None)
        if timers:
            for kind in timers:
                self.emit(cmd.ClearTimer(task["taskId"], kind))

    # -- deciding what follows ----------------------------------------------------------

    def run(self) -> None:
        """Decide every finished task, then joins, until nothing more moves."""
        state = self.state
        while True:
            while self._pending and state.workflow["status"] == RUNNING:
                task = self._pending.popleft()
                if not task["executed"]:
                    self._decide(task)
            if state.workflow["status"] != RUNNING or not self._joins_dirty:
                break
            self._joins_dirty = False
            self._evaluate_joins()
            if not self._pending:
                break
        if (
            state.workflow["status"] == RUNNING
            and not self._pending
            and ending.main_path_done(self)
            and not state.has_active_task()
        ):
            # The last task left running outside the main path (see complete_workflow) ended.
            self.complete_workflow()
        if state.workflow["status"] in TERMINAL_WORKFLOW_STATUSES:
            self._pending.clear()
        state.pending = list(self._pending)

    def _decide(self, task: TaskRecord) -> None:
        task["executed"] = True
        self.state.touch(task)
        self._joins_dirty = True
        status = task["status"]
        workflow_task = self.workflow_task_of(task)
        # A CANCELED task gets here only when something outside cancelled it (a terminated
        # child workflow, an API update): like Conductor, that terminates the workflow.
        if status in SUCCESSFUL_TASK_STATUSES:
            operator_for(workflow_task.type).on_success(self, task, workflow_task)
        else:
            retries.on_failure(self, task, workflow_task)

    def retry_task(self, task: TaskRecord, workflow_task: WorkflowTask, delay_ms: int) -> TaskRecord:
        """A new attempt of `task`, linked to it (retryCount, retriedTaskId), after `delay_ms`."""
        dynamic = "workflowTask" in task
        return self.schedule(
            workflow_task,
            iteration_of(task["referenceTaskName"]),
            # A dynamic fork's task has no inputParameters of its own to resolve again.
            input_data=dict(task["inputData"]) if dynamic else None,
            inherit_input=task["inputData"],
            dynamic=dynamic,
            retry_of=task,
            delay_ms=delay_ms,
        )

    def advance(self, task: TaskRecord) -> None:
        """Move past a finished task: its next sibling, or up through its containers."""
        if "workflowTask" in task:
            # A dynamic fork's task is a branch of its own; only its JOIN waits for it.
            self._joins_dirty = True
            return
        position = self.state.graph.position(task["referenceTaskName"])
        if position is None:
            raise KeyError(f"task '{task['referenceTaskName']}' is not in the workflow definition")
        self.continue_after(position, iteration_of(task["referenceTaskName"]))

    def continue_after(self, position: Position, iteration: int) -> None:
        following = position.next_sibling
        if following is not None:
            self.schedule(following, iteration)
            return
        container = position.container
        if container is None:
            self.complete_workflow()
            return
        operator_for(container.type).branch_ended(self, container, iteration)

    def mark_joins_dirty(self) -> None:
        """Evaluate every open JOIN at the end of this step."""
        self._joins_dirty = True

    def _evaluate_joins(self) -> None:
        for task in list(self.state.joins):
            if task["status"] == "IN_PROGRESS":
                operator_for(task["taskType"]).evaluate(self, task)

    # -- ending the workflow (actors/workflow/ending.py) ----------------------------------

    def complete_workflow(self) -> None:
        ending.complete_workflow(self)

    def final_output(self, last: TaskRecord | None = None) -> Json:
        return ending.final_output(self, last)

    def end_workflow(
        self,
        status: str,
        reason: str | None,
        output: Json | None = None,
        failed_task: TaskRecord | None = None,
        *,
        failure_workflow: bool | None = None,
    ) -> None:
        ending.end_workflow(self, status, reason, output, failed_task, failure_workflow=failure_workflow)

    def cancel_active_tasks(self, reason: str) -> None:
        ending.cancel_active_tasks(self, reason)


# -- events ---------------------------------------------------------------------------------


def start_workflow(event: ev.StartWorkflow, now: int, env: Environment) -> tuple[WorkflowState, list[cmd.Command]]:
    definition = event.definition
    workflow_input = {**definition.input_template, **event.input} if definition.input_template else event.input
    workflow: WorkflowRecord = {
        "workflowId": event.workflow_id,
        "workflowName": definition.name,
        "workflowVersion": definition.version,
        "status": RUNNING,
        "input": workflow_input,
        "output": {},
        "createTime": now,
        "startTime": now,
        "endTime": 0,
        "updateTime": now,
        "variables": dict(definition.variables),
        "priority": event.priority,
        "taskToDomain": event.task_to_domain,
        "failedReferenceTaskNames": [],
        "failedTaskNames": [],
    }
    # Absent rather than null when not given, as Conductor's JSON leaves them out.
    if event.correlation_id is not None:
        workflow["correlationId"] = event.correlation_id
    if event.parent_workflow_id is not None:
        workflow["parentWorkflowId"] = event.parent_workflow_id
    if event.parent_workflow_task_id is not None:
        workflow["parentWorkflowTaskId"] = event.parent_workflow_task_id
    if event.created_by is not None:
        workflow["createdBy"] = event.created_by
    if event.idempotency_key is not None:
        workflow["idempotencyKey"] = event.idempotency_key
    state = WorkflowState(workflow, definition)
    decider = Decider(state, now, env)
    timeouts.arm_workflow_timeout(decider)
    if definition.tasks:
        decider.schedule(definition.tasks[0])
    else:
        decider.complete_workflow()
    decider.run()
    return state, decider.commands


def handle(state: WorkflowState, event: ev.Event, now: int, env: Environment) -> list[cmd.Command]:
    """Apply one event to a loaded execution. Events for finished work are ignored."""
    decider = Decider(state, now, env)
    workflow = state.workflow
    terminal = workflow["status"] in TERMINAL_WORKFLOW_STATUSES
    match event:
        case ev.TaskUpdate():
            task = state.by_id.get(event.task_id)
            if terminal or task is None or task["status"] in TERMINAL_TASK_STATUSES:
                return []
            _apply_update(decider, task, event)
        case ev.TaskPolled():
            task = state.by_id.get(event.task_id)
            if terminal or task is None or task["status"] != "SCHEDULED":
                return []
            # As Conductor's poll: the delay that kept the task back is over.
            task["callbackAfterSeconds"] = 0
            task.pop("_visibleAt", None)
            decider.start_task(task)
            task["pollCount"] = task.get("pollCount", 0) + 1
            if event.worker_id:
                task["workerId"] = event.worker_id
        case ev.ChildFinished():
            task = state.by_id.get(event.task_id)
            if terminal or task is None or task["status"] in TERMINAL_TASK_STATUSES:
                return []
            from actors.workflow.operators.sub_workflow import child_finished

            child_finished(decider, task, event)
        case ev.TimerFired():
            if terminal:
                return []
            if event.task_id == timeouts.WORKFLOW_TIMER_TASK:
                timeouts.on_workflow_timer(decider, event.kind)
            else:
                task = state.by_id.get(event.task_id)
                if task is None or task["status"] in TERMINAL_TASK_STATUSES:
                    return []
                if event.kind in timeouts.TASK_TIMEOUT_KINDS:
                    timeouts.on_task_timer(decider, task, event.kind)
                else:
                    workflow_task = decider.workflow_task_of(task)
                    task.get("_timers", {}).pop(event.kind, None)
                    operator_for(workflow_task.type).on_timer(decider, task, workflow_task, event.kind)
        case ev.Pause():
            if workflow["status"] != RUNNING:
                return []
            workflow["status"] = PAUSED
            workflow["updateTime"] = now
            state.touch_workflow()
            return decider.commands
        case ev.Resume():
            if workflow["status"] != PAUSED:
                return []
            workflow["status"] = RUNNING
            workflow["updateTime"] = now
            state.touch_workflow()
        case ev.Terminate():
            if terminal:
                return []
            decider.end_workflow(
                event.status, event.reason or "Terminated", failure_workflow=event.trigger_failure_workflow
            )
            return decider.commands
        case ev.Redispatch():
            if terminal:
                return []
            for task in state.active_tasks():
                workflow_task = decider.workflow_task_of(task)
                operator_for(workflow_task.type).redispatch(decider, task, workflow_task)
        case ev.StartWorkflow():
            raise ValueError(f"workflow {state.workflow_id} already exists")
        case ev.Restart() | ev.Retry() | ev.Rerun() | ev.SkipTask() | ev.ResetCallbacks() | ev.Decide():
            lifecycle.apply(decider, event)
        case ev.ChildReopened():
            lifecycle.child_reopened(decider, event)
        case ev.UpdateVariables():
            if terminal:
                return []
            current = workflow.get("variables") or {}
            workflow["variables"] = event_operator.merged_variables(current, event.variables, event.append_array)
            state.touch_workflow()
    decider.run()
    if state.dirty_task_ids or state.meta_dirty:
        workflow["updateTime"] = now
        state.touch_workflow()
    return decider.commands


def _apply_update(decider: Decider, task: TaskRecord, update: ev.TaskUpdate) -> None:
    if update.worker_id:
        task["workerId"] = update.worker_id
    output = task["outputData"]
    if update.output_data:
        task["outputData"] = {**output, **update.output_data}
    if update.status == "IN_PROGRESS":
        task["callbackAfterSeconds"] = update.callback_after_seconds
        decider.start_task(task)
        if update.callback_after_seconds > 0:
            # The worker asked to see this task again later: back in its queue, delayed.
            decider.dispatch(task, update.callback_after_seconds * 1000)
        return
    if update.status not in TERMINAL_TASK_STATUSES:
        raise ValueError(f"'{update.status}' is not a status a task can be updated to")
    decider.finish(task, update.status, reason=update.reason_for_incompletion)


# Importing the operators package registers every operator; the three named here are
# also called directly (their module names are also names used in this module).
from actors.workflow import lifecycle  # noqa: E402
from actors.workflow.operators import dynamic as dynamic_operator  # noqa: E402, F401
from actors.workflow.operators import event as event_operator  # noqa: E402
from actors.workflow.operators import start_workflow as start_workflow_operator  # noqa: E402, F401

__all__ = ["Decider", "Environment", "base_reference", "handle", "start_workflow"]
