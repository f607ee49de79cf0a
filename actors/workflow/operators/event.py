"""EVENT: publishes a message on Podium's event bus, where event handlers pick it up.

As Conductor's Event task (core/.../execution/tasks/Event.java and EventTaskMapper.java):

- `sink` (a `${...}` expression in it is resolved) says where the message goes.
  `conductor` publishes to the event `conductor:<workflowName>:<taskReferenceName>`, and
  `conductor:<suffix>` to `conductor:<workflowName>:<suffix>`; event handlers listen on
  that expanded name. A sink naming a broker queue (`amqp:`, `amqp_queue:`,
  `amqp_exchange:`, `nats:`, `nats_stream:`, `jsm:`, `sqs:`, `kafka:`) is published to that
  broker by a gateway (gateway/brokers/); any other sink type FAILS the task.
- The message is the task's input (which holds `sink` and `asyncComplete`, as Conductor's
  mapper puts them there) plus `workflowInstanceId`, `workflowType`, `workflowVersion`,
  `correlationId`, `taskToDomain` and `event_produced` (the expanded event name). The
  same map is the task's output. The message id is the task id, as in Conductor.
- The task COMPLETES in the step that schedules it; with `asyncComplete` it stays
  IN_PROGRESS until a task update (or an event handler's complete_task) ends it.
  Conductor shows it SCHEDULED until its system task worker has published. A task whose
  sink names a broker stays IN_PROGRESS until a gateway has published the message (then it
  completes, unless `asyncComplete`), or FAILS if the broker is not configured.

Publishing is a command the shard turns into a write on the step's own checkpoint
transaction, so the message is on the bus exactly when the task is recorded as having
published it: a crash neither loses it nor publishes it twice. A message for a broker goes
the same way into the broker outbox, which gateways publish from, at least once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow import commands as cmd
from actors.workflow.operators.base import Operator, register
from definitions.models import WorkflowTask
from definitions.validation import Finding, Review, TaskSite, required

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord

CONDUCTOR_SINK = "conductor"
EVENT_PRODUCED = "event_produced"
# Sink (and event handler `event`) prefixes that name a queue on a broker, as Conductor's
# event queue providers name them; gateway/brokers/ maps each to its provider.
BROKER_SINKS = frozenset({"amqp", "amqp_queue", "amqp_exchange", "nats", "nats_stream", "jsm", "sqs", "kafka"})


def broker_kind(name: Any) -> str | None:
    """The broker prefix of a sink or event name (`amqp_queue` of `amqp_queue:orders`), or None."""
    if not isinstance(name, str) or ":" not in name:
        return None
    kind = name.split(":", 1)[0]
    return kind if kind in BROKER_SINKS else None


class SinkError(ValueError):
    pass


def event_name(sink: Any, workflow_name: str, reference_name: str) -> str:
    """The event a sink publishes to (Conductor's Event.computeQueueName), or SinkError."""
    if not isinstance(sink, str) or not sink.strip():
        raise SinkError(f"EVENT task needs a sink, got {sink!r}")
    if sink == CONDUCTOR_SINK:
        return f"{CONDUCTOR_SINK}:{workflow_name}:{reference_name}"
    if sink.startswith(f"{CONDUCTOR_SINK}:"):
        # Conductor removes every `conductor:` from the sink, then prefixes the workflow name.
        return f"{CONDUCTOR_SINK}:{workflow_name}:{sink.replace(f'{CONDUCTOR_SINK}:', '')}"
    if sink.startswith(CONDUCTOR_SINK):
        raise SinkError(f"Invalid / Unsupported sink specified: {sink}")
    if broker_kind(sink):
        if not sink.split(":", 1)[1].strip():
            raise SinkError(f"sink {sink!r} names no queue")
        return sink
    kind = sink.split(":", 1)[0]
    known = ", ".join(sorted(BROKER_SINKS))
    raise SinkError(
        f"sink type '{kind}' is not supported; Podium publishes to conductor sinks and {known} (sink: {sink})"
    )


@register
class EventOperator(Operator):
    task_type = "EVENT"

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        # As Conductor's WorkflowTaskTypeConstraint. Which providers a sink may name is only
        # known once it is resolved: an unsupported one fails the task when it runs.
        return required(site.task.sink, "sink is missing; use 'conductor' or 'conductor:<name>'")

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        workflow = decider.state.workflow
        inputs = task["inputData"]
        inputs["sink"] = decider.resolve(workflow_task.sink, task.get("iteration", 0), task["taskId"])
        inputs["asyncComplete"] = workflow_task.async_complete
        try:
            name = event_name(inputs["sink"], workflow["workflowName"], task["referenceTaskName"])
        except SinkError as error:
            decider.finish(task, "FAILED", {}, str(error))
            return
        message = {
            **inputs,
            "workflowInstanceId": workflow["workflowId"],
            "workflowType": workflow["workflowName"],
            "workflowVersion": workflow["workflowVersion"],
            "correlationId": workflow.get("correlationId"),
            "taskToDomain": workflow.get("taskToDomain") or {},
            EVENT_PRODUCED: name,
        }
        if broker_kind(name):
            # A gateway publishes it after the commit and then completes the task (or fails
            # it): a broker that is down must not hold up the shard's turn.
            decider.emit(cmd.PublishEvent(name, message, task["taskId"], external=True))
            task["outputData"] = message
            decider.start_task(task)
            return
        decider.emit(cmd.PublishEvent(name, message, task["taskId"]))
        if workflow_task.async_complete:
            task["outputData"] = message
            decider.start_task(task)
        else:
            decider.finish(task, "COMPLETED", message)


def merged_variables(current: dict[str, Any], update: dict[str, Any], append_array: bool) -> dict[str, Any]:
    """Workflow variables after an update_workflow_variables action: each given variable is
    set, except that with `append_array` a variable that already holds a list gets the new
    value appended to it (a list's items, one by one)."""
    merged = dict(current)
    for name, value in update.items():
        existing = merged.get(name)
        if append_array and isinstance(existing, list):
            merged[name] = [*existing, *value] if isinstance(value, list) else [*existing, value]
        else:
            merged[name] = value
    return merged
