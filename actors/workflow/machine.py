"""The workflow state machine: events in, state and commands out, time as an argument.

`handle(state, event, now, env)` applies one event to one execution. Nothing here does
I/O: the shard hosting the execution writes the checkpoint, then carries out the
returned commands. Every operator lives in its own module beside this one.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from actors.workflow import timeouts
from actors.workflow.graph import Position, base_reference, iteration_of, with_iteration
from actors.workflow.operators.base import operator_for
from actors.workflow.state import Json, WorkflowState, public_task
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
RETRYABLE_STATUSES = frozenset({"FAILED", "TIMED_OUT"})
CONTAINER_SWITCHES = frozenset({"SWITCH", "DECISION"})
# Conductor never retries these, whatever a TaskDef of the same name says.
NEVER_RETRIED_TYPES = frozenset(
    {"SWITCH", "DECISION", "FORK_JOIN", "FORK_JOIN_DYNAMIC", "JOIN", "EXCLUSIVE_JOIN", "DO_WHILE"}
)
# `${CPEWF_TASK_ID}` in a task's inputParameters is that task's own id, as in Conductor.
CURRENT_TASK_ID = "CPEWF_TASK_ID"
# The workflow status a task's last unsuccessful status leads to (Conductor's DeciderService.retry).
WORKFLOW_STATUS_AFTER = {"CANCELED": "TERMINATED", "TIMED_OUT": "TIMED_OUT"}
FAILED_TASK_STATUSES = frozenset({"FAILED", "FAILED_WITH_TERMINAL_ERROR"})
# In a taskToDomain list: queue the task without a domain.
NO_DOMAIN = "NO_DOMAIN"


class Environment(Protocol):
    """What a step may ask of the world: fresh ids and task definitions."""

    def new_id(self) -> str: ...

    def task_def(self, name: str) -> TaskDef | None: ...

    def active_domain(self, task_type: str, domains: list[str]) -> str | None:
        """The first of `domains` in which a worker of `task_type` polled recently."""
        ...


def retry_delay_seconds(task_def: TaskDef | None, retry_count: int) -> int:
    """Delay before attempt `retry_count` (1 = first retry), per the TaskDef's retryLogic,
    capped by maxRetryDelaySeconds."""
    if task_def is None or retry_count <= 0:
        return 0
    base = max(task_def.retry_delay_seconds, 0)
    if task_def.retry_logic == "EXPONENTIAL_BACKOFF":
        delay = base * (2 ** (retry_count - 1))
    elif task_def.retry_logic == "LINEAR_BACKOFF":
        delay = base * max(task_def.backoff_scale_factor, 1) * retry_count
    else:
        delay = base
    if task_def.max_retry_delay_seconds:
        delay = min(delay, task_def.max_retry_delay_seconds)
    return int(delay)


def retry_delay_ms(task_def: TaskDef | None, retry_count: int, task_id: str = "") -> int:
    """The retry delay plus up to backoffJitterMs. The jitter is drawn from the task id
    rather than a random source, so the state machine stays deterministic while
    simultaneous retries still spread out."""
    delay = retry_delay_seconds(task_def, retry_count) * 1000
    if task_def is not None and task_def.backoff_jitter_ms and delay:
        delay += zlib.crc32(task_id.encode()) % (task_def.backoff_jitter_ms + 1)
    return delay


class Step:
    """Applies one event: schedules, finishes and decides tasks, and collects commands."""

    def __init__(self, state: WorkflowState, now: int, env: Environment) -> None:
        self.state = state
        self.now = now
        self.env = env
        self.commands: list[cmd.Command] = []
        # `state.pending` stays as it is until `run` replaces it: an event ignored before
        # `run` (a second pause, a stale poll) must not drop what a paused workflow owes.
        self._pending: deque[Json] = deque(state.pending)
        self._joins_dirty = False

    # -- looking things up --------------------------------------------------------------

    def workflow_task_of(self, task: Json) -> WorkflowTask:
        dynamic = task.get("workflowTask")
        if dynamic is not None:
            return WorkflowTask.model_validate(dynamic)
        position = self.state.graph.position(task["referenceTaskName"])
        if position is None:
            raise KeyError(f"task '{task['referenceTaskName']}' is not in the workflow definition")
        if position.task.type == "DYNAMIC":
            from actors.workflow.operators.dynamic import resolved_workflow_task

            # Named after the task it resolved to, so that task's TaskDef applies.
            return resolved_workflow_task(position.task, task)
        return position.task

    def task_def_for(self, workflow_task: WorkflowTask) -> TaskDef | None:
        if workflow_task.task_definition is not None:
            return workflow_task.task_definition
        registered = self.env.task_def(workflow_task.name)
        if registered is None and operator_for(workflow_task.type).runs_on_worker:
            # As in Conductor: a worker task with no TaskDef gets the default one, so a
            # failure is retried and an abandoned poll times out.
            return adhoc_task_def(workflow_task.name)
        return registered

    def find_task(self, reference_name: str, iteration: int = 0) -> Json | None:
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

    def new_task(self, workflow_task: WorkflowTask, iteration: int, status: str, *, dynamic: bool = False) -> Json:
        """A task execution of `workflow_task` in Conductor's Task shape, not yet added."""
        workflow = self.state.workflow
        operator = operator_for(workflow_task.type)
        task_type = workflow_task.name if operator.runs_on_worker else workflow_task.type
        tasks = self.state.tasks
        task: Json = {
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
        retry_of: Json | None = None,
        delay_ms: int | None = None,
    ) -> Json:
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
            shown = retry_delay_seconds(task_def, task["retryCount"]) if retry_of is not None else delay_ms // 1000
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
        if workflow_task.type == "DYNAMIC":
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
        active = self.env.active_domain(task_type, [d for d in domains if d.upper() != NO_DOMAIN])
        if active is not None:
            return active
        last = domains[-1] if domains else NO_DOMAIN
        return None if last.upper() == NO_DOMAIN else last

    def start_task(self, task: Json) -> None:
        task["status"] = "IN_PROGRESS"
        if not task["startTime"]:
            task["startTime"] = self.now
        task["updateTime"] = self.now
        self.state.touch(task)
        timeouts.arm_on_start(self, task)

    def finish(
        self,
        task: Json,
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

    def dispatch(self, task: Json, delay_ms: int = 0) -> None:
        self.commands.append(cmd.DispatchTask(task, delay_ms))

    def start_delay_ms(self, task: Json) -> int:
        """What is left of a task's start delay, retry delay or callback."""
        visible_at: int = task.get("_visibleAt", 0)
        return max(visible_at - self.now, 0)

    # Durable timers a task owns are listed on it (`_timers`, kind -> due), so ending the
    # task removes them instead of leaving them to fire later for nothing.

    def set_timer(self, task: Json, kind: str, due_ms: int) -> None:
        task.setdefault("_timers", {})[kind] = due_ms
        self.state.touch(task)
        self.commands.append(cmd.SetTimer(task["taskId"], kind, due_ms))

    def clear_timer(self, task: Json, kind: str) -> None:
        timers = task.get("_timers")
        if timers and timers.pop(kind, None) is not None:
            if not timers:
                del task["_timers"]
            self.state.touch(task)
            self.commands.append(cmd.ClearTimer(task["taskId"], kind))

    def clear_timers(self, task: Json) -> None:
        timers = task.pop("_timers", None)
        if timers:
            for kind in timers:
                self.commands.append(cmd.ClearTimer(task["taskId"], kind))

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
            and self._main_path_done()
            and not state.has_active_task()
        ):
            # The last task left running outside the main path (see complete_workflow) ended.
            self.complete_workflow()
        if state.workflow["status"] in TERMINAL_WORKFLOW_STATUSES:
            self._pending.clear()
        state.pending = list(self._pending)

    def _decide(self, task: Json) -> None:
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
            self._on_failure(task, workflow_task)

    def _on_failure(self, task: Json, workflow_task: WorkflowTask) -> None:
        if task.pop("_timesOutWorkflow", False):
            # timeoutPolicy TIME_OUT_WF: no retry, optional or not.
            self.end_workflow("TIMED_OUT", task.get("reasonForIncompletion"), self.final_output(task), task)
            return
        task_def = self.task_def_for(workflow_task)
        allowed = workflow_task.retry_count
        if allowed is None:
            allowed = task_def.retry_count if task_def is not None else 0
        if (
            task["status"] in RETRYABLE_STATUSES
            and workflow_task.type not in NEVER_RETRIED_TYPES
            and task["retryCount"] < allowed
        ):
            if timeouts.total_budget_spent(self, task, task_def):
                assert task_def is not None
                status = "TIMED_OUT" if task["status"] == "TIMED_OUT" else "FAILED"
                elapsed = (self.now - (task.get("firstScheduledTime") or task["scheduledTime"])) // 1000
                reason = (
                    f"Task {task['taskId']}/{task['taskDefName']} exceeded total timeout of "
                    f"{task_def.total_timeout_seconds} seconds (elapsed {elapsed} seconds across all attempts). "
                    "No further retries will be attempted."
                )
                self.end_workflow(status, reason, self.final_output(task), task)
                return
            self.retry_task(task, workflow_task, retry_delay_ms(task_def, task["retryCount"] + 1, task["taskId"]))
            return
        if workflow_task.optional:
            task["status"] = "COMPLETED_WITH_ERRORS"
            self.advance(task)
            return
        if workflow_task.permissive:
            # The workflow goes on; it fails when it would otherwise complete.
            self.advance(task)
            return
        status = WORKFLOW_STATUS_AFTER.get(task["status"], "FAILED")
        # Conductor's wording, which users' alerting may match on.
        reason = f"Task {task['taskId']} failed with status: {status} and reason: '{task.get('reasonForIncompletion')}'"
        self.end_workflow(status, reason, self.final_output(task), task)

    def retry_task(self, task: Json, workflow_task: WorkflowTask, delay_ms: int) -> Json:
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

    def advance(self, task: Json) -> None:
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
        graph = self.state.graph
        container_position = graph.positions[container.task_reference_name]
        container_iteration = iteration if graph.enclosing_loop(container.task_reference_name) else 0
        if container.type in CONTAINER_SWITCHES:
            switch_task = self.find_task(container.task_reference_name, container_iteration)
            if switch_task is not None and switch_task.pop("_open", None):
                self.state.touch(switch_task)
            self.continue_after(container_position, container_iteration)
        elif container.type == "DO_WHILE":
            loop_task = self.find_task(container.task_reference_name)
            if loop_task is not None:
                from actors.workflow.operators.do_while import finish_iteration

                finish_iteration(self, loop_task, container)
        else:
            # The end of a fork branch: the JOIN decides whether the fork is done.
            self._joins_dirty = True

    def mark_joins_dirty(self) -> None:
        """Evaluate every open JOIN at the end of this step."""
        self._joins_dirty = True

    def _evaluate_joins(self) -> None:
        from actors.workflow.operators.exclusive_join import evaluate_exclusive_join
        from actors.workflow.operators.join import evaluate_join

        for task in list(self.state.joins):
            if task["taskType"] == "JOIN" and task["status"] == "IN_PROGRESS":
                evaluate_join(self, task)
            elif task["taskType"] == "EXCLUSIVE_JOIN" and task["status"] == "IN_PROGRESS":
                evaluate_exclusive_join(self, task)

    # -- ending the workflow ------------------------------------------------------------

    def complete_workflow(self) -> None:
        """The end of the definition is reached; complete once no task is still running.

        As in Conductor, tasks a JOIN did not wait for (a branch left out of `joinOn`) keep
        running and the workflow completes when the last of them ends.
        """
        if self.state.has_active_task():
            return
        failed_permissive = self._failed_permissive_tasks()
        if failed_permissive:
            reason = ". ".join(
                f"Task {task['taskId']} failed with status: {task['status']} and reason: "
                f"'{task.get('reasonForIncompletion')}'"
                for task in failed_permissive
            )
            self.end_workflow("FAILED", reason, self.final_output(), failed_permissive[0])
            return
        self.end_workflow("COMPLETED", None, self.final_output())

    def _failed_permissive_tasks(self) -> list[Json]:
        """The last attempt of each permissive (and not optional) task, where it failed."""
        latest: dict[str, Json] = {}
        for task in self.state.tasks:
            if task["status"] in SUCCESSFUL_TASK_STATUSES and task["status"] != "COMPLETED_WITH_ERRORS":
                latest.pop(task["referenceTaskName"], None)
                continue
            if task["status"] in TERMINAL_TASK_STATUSES and not task["retried"]:
                try:
                    workflow_task = self.workflow_task_of(task)
                except KeyError:
                    continue
                if workflow_task.permissive and not workflow_task.optional:
                    latest[task["referenceTaskName"]] = task
        return list(latest.values())

    def final_output(self, last: Json | None = None) -> Json:
        """Conductor's workflow output: a successful TERMINATE task's output, else the
        resolved outputParameters, else the output of `last` (by default the last task)."""
        tasks = self.state.tasks
        for task in tasks:
            if task["taskType"] == "TERMINATE" and task["status"] in SUCCESSFUL_TASK_STATUSES:
                return dict(task["outputData"])
        definition = self.state.definition
        if definition.output_parameters:
            return dict(self.resolve(definition.output_parameters))
        if last is None and tasks:
            last = tasks[-1]
        return dict(last["outputData"]) if last else {}

    def _main_path_done(self) -> bool:
        """Whether the last top-level task of the definition is done and decided."""
        definition_tasks = self.state.definition.tasks
        if not definition_tasks:
            return True
        task = self.state.by_ref.get(definition_tasks[-1].task_reference_name)
        return (
            task is not None
            and task["executed"]
            and task["status"] in SUCCESSFUL_TASK_STATUSES
            and not task.get("_open")
        )

    def end_workflow(
        self,
        status: str,
        reason: str | None,
        output: Json | None = None,
        failed_task: Json | None = None,
        *,
        failure_workflow: bool | None = None,
    ) -> None:
        """End the workflow. `failure_workflow` forces the definition's failureWorkflow on
        or off; by default it starts when the workflow FAILED or TIMED_OUT."""
        workflow = self.state.workflow
        if workflow["status"] in TERMINAL_WORKFLOW_STATUSES:
            return
        workflow["status"] = status
        workflow["endTime"] = self.now
        workflow["updateTime"] = self.now
        if reason is not None:
            workflow["reasonForIncompletion"] = reason
        if output is None and status != "COMPLETED":
            output = self.final_output()
        if output is not None:
            workflow["output"] = dict(output)
        # Like Conductor: every task that ended FAILED, retried or not, by name, once.
        failed = [task for task in self.state.tasks if task["status"] in FAILED_TASK_STATUSES]
        for key, field in (("failedReferenceTaskNames", "referenceTaskName"), ("failedTaskNames", "taskDefName")):
            names = workflow.setdefault(key, [])
            names.extend(dict.fromkeys(task[field] for task in failed if task[field] not in names))
        if failure_workflow if failure_workflow is not None else status in ("FAILED", "TIMED_OUT"):
            self._start_failure_workflow(status, reason, failed_task)
        self.state.touch_workflow()
        self.cancel_active_tasks(reason or f"Workflow {status}")
        self._pending.clear()
        self.state.pending = []
        parent_id = workflow.get("parentWorkflowId")
        if parent_id:
            self.commands.append(
                cmd.NotifyParent(
                    parent_workflow_id=parent_id,
                    parent_task_id=workflow["parentWorkflowTaskId"],
                    child_workflow_id=workflow["workflowId"],
                    status=status,
                    output=workflow.get("output", {}),
                    reason_for_incompletion=workflow.get("reasonForIncompletion"),
                )
            )
        self.commands.append(cmd.WorkflowEnded(status))

    def _start_failure_workflow(self, status: str, reason: str | None, failed_task: Json | None) -> None:
        """Start the definition's failureWorkflow: it gets the failed workflow's id, reason and
        whole execution as input, and the failed workflow's output names it."""
        name: Any = self.state.definition.failure_workflow
        if name and name.startswith("${"):
            name = self.resolve(name)
        elif name and name.startswith("$"):
            # Conductor's older form, "$workflow.input.failureWfName": a workflow input.
            parts = name.split(".")
            name = self.state.workflow["input"].get(parts[2]) if len(parts) > 2 else None
        if not isinstance(name, str) or not name.strip():
            return
        workflow = self.state.workflow
        failure_workflow_id = self.env.new_id()
        failed_workflow = {**workflow, "tasks": [public_task(task) for task in self.state.tasks]}
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
        self.commands.append(
            cmd.StartWorkflow(
                workflow_id=failure_workflow_id,
                name=name,
                input=failure_input,
                correlation_id=workflow.get("correlationId"),
                priority=workflow.get("priority", 0),
                task_to_domain=workflow.get("taskToDomain") or {},
            )
        )

    def cancel_active_tasks(self, reason: str) -> None:
        workflow = self.state.workflow
        if workflow.get("reasonForIncompletion"):
            child_reason = f"Parent workflow has been terminated with reason: {workflow['reasonForIncompletion']}"
        else:
            child_reason = f"Parent workflow has been terminated with status {workflow['status']}"
        for task in self.state.active_tasks():
            task["status"] = "CANCELED"
            task["endTime"] = self.now
            task["updateTime"] = self.now
            task["executed"] = True
            task.setdefault("reasonForIncompletion", reason)
            self.state.touch(task)
            self.clear_timers(task)
            if operator_for(self.workflow_task_of(task).type).runs_on_worker:
                self.commands.append(cmd.CancelTask(task))
            child_id = task.get("subWorkflowId")
            if child_id and task["taskType"] == "SUB_WORKFLOW":
                self.commands.append(cmd.TerminateChild(child_id, child_reason))


# -- events ---------------------------------------------------------------------------------


def start_workflow(event: ev.StartWorkflow, now: int, env: Environment) -> tuple[WorkflowState, list[cmd.Command]]:
    definition = event.definition
    workflow_input = {**definition.input_template, **event.input} if definition.input_template else event.input
    workflow: Json = {
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
    optional_fields = {
        "correlationId": event.correlation_id,
        "parentWorkflowId": event.parent_workflow_id,
        "parentWorkflowTaskId": event.parent_workflow_task_id,
        "createdBy": event.created_by,
        "idempotencyKey": event.idempotency_key,
    }
    workflow.update({key: value for key, value in optional_fields.items() if value is not None})
    state = WorkflowState(workflow, definition)
    step = Step(state, now, env)
    timeouts.arm_workflow_timeout(step)
    if definition.tasks:
        step.schedule(definition.tasks[0])
    else:
        step.complete_workflow()
    step.run()
    return state, step.commands


def handle(state: WorkflowState, event: ev.Event, now: int, env: Environment) -> list[cmd.Command]:
    """Apply one event to a loaded execution. Events for finished work are ignored."""
    step = Step(state, now, env)
    workflow = state.workflow
    terminal = workflow["status"] in TERMINAL_WORKFLOW_STATUSES
    match event:
        case ev.TaskUpdate():
            task = state.by_id.get(event.task_id)
            if terminal or task is None or task["status"] in TERMINAL_TASK_STATUSES:
                return []
            _apply_update(step, task, event)
        case ev.TaskPolled():
            task = state.by_id.get(event.task_id)
            if terminal or task is None or task["status"] != "SCHEDULED":
                return []
            # As Conductor's poll: the delay that kept the task back is over.
            task["callbackAfterSeconds"] = 0
            task.pop("_visibleAt", None)
            step.start_task(task)
            task["pollCount"] = task.get("pollCount", 0) + 1
            if event.worker_id:
                task["workerId"] = event.worker_id
        case ev.ChildFinished():
            task = state.by_id.get(event.task_id)
            if terminal or task is None or task["status"] in TERMINAL_TASK_STATUSES:
                return []
            from actors.workflow.operators.sub_workflow import child_finished

            child_finished(step, task, event)
        case ev.TimerFired():
            if terminal:
                return []
            if event.task_id == timeouts.WORKFLOW_TIMER_TASK:
                timeouts.on_workflow_timer(step, event.kind)
            else:
                task = state.by_id.get(event.task_id)
                if task is None or task["status"] in TERMINAL_TASK_STATUSES:
                    return []
                if event.kind in timeouts.TASK_TIMEOUT_KINDS:
                    timeouts.on_task_timer(step, task, event.kind)
                else:
                    workflow_task = step.workflow_task_of(task)
                    task.get("_timers", {}).pop(event.kind, None)
                    operator_for(workflow_task.type).on_timer(step, task, workflow_task, event.kind)
        case ev.Pause():
            if workflow["status"] != RUNNING:
                return []
            workflow["status"] = PAUSED
            workflow["updateTime"] = now
            state.touch_workflow()
            return step.commands
        case ev.Resume():
            if workflow["status"] != PAUSED:
                return []
            workflow["status"] = RUNNING
            workflow["updateTime"] = now
            state.touch_workflow()
        case ev.Terminate():
            if terminal:
                return []
            step.end_workflow(
                event.status, event.reason or "Terminated", failure_workflow=event.trigger_failure_workflow
            )
            return step.commands
        case ev.Redispatch():
            if terminal:
                return []
            for task in state.active_tasks():
                workflow_task = step.workflow_task_of(task)
                operator_for(workflow_task.type).redispatch(step, task, workflow_task)
        case ev.StartWorkflow():
            raise ValueError(f"workflow {state.workflow_id} already exists")
        case ev.Restart() | ev.Retry() | ev.Rerun() | ev.SkipTask() | ev.ResetCallbacks() | ev.Decide():
            lifecycle.apply(step, event)
        case ev.ChildReopened():
            lifecycle.child_reopened(step, event)
        case ev.UpdateVariables():
            if terminal:
                return []
            current = workflow.get("variables") or {}
            workflow["variables"] = event_operator.merged_variables(current, event.variables, event.append_array)
            state.touch_workflow()
    step.run()
    if state.dirty_task_ids or state.meta_dirty:
        workflow["updateTime"] = now
        state.touch_workflow()
    return step.commands


def _apply_update(step: Step, task: Json, update: ev.TaskUpdate) -> None:
    if update.worker_id:
        task["workerId"] = update.worker_id
    output = task["outputData"]
    if update.output_data:
        task["outputData"] = {**output, **update.output_data}
    if update.status == "IN_PROGRESS":
        task["callbackAfterSeconds"] = update.callback_after_seconds
        step.start_task(task)
        if update.callback_after_seconds > 0:
            # The worker asked to see this task again later: back in its queue, delayed.
            step.dispatch(task, update.callback_after_seconds * 1000)
        return
    if update.status not in TERMINAL_TASK_STATUSES:
        raise ValueError(f"'{update.status}' is not a status a task can be updated to")
    step.finish(task, update.status, reason=update.reason_for_incompletion)


# Importing the operators package registers every operator; the three named here are
# also called directly (their module names are also names used in this module).
from actors.workflow import lifecycle  # noqa: E402
from actors.workflow.operators import dynamic as dynamic_operator  # noqa: E402, F401
from actors.workflow.operators import event as event_operator  # noqa: E402
from actors.workflow.operators import start_workflow as start_workflow_operator  # noqa: E402, F401

__all__ = ["Environment", "Step", "base_reference", "handle", "start_workflow"]
