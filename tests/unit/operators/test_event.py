"""EVENT: publishes a message to the event bus and moves on.

Behaviour follows Conductor's Event system task and EventTaskMapper (and its EventTaskSpec
on `event_workflow_integration_test.json`): `sink: conductor` publishes to
`conductor:<workflowName>:<taskReferenceName>`, `conductor:<suffix>` to
`conductor:<workflowName>:<suffix>`; the message and the task's output are the task's input
(with `sink` and `asyncComplete`) plus the workflow's id, name, version, correlation id
and taskToDomain and `event_produced`; the message id is the task id. The task COMPLETES
once published, or stays IN_PROGRESS with asyncComplete. Podium's choices: the task
completes in the step that schedules it (Conductor shows it SCHEDULED until its system
task worker ran), a broker sink (sqs, kafka, ...) goes to the broker outbox, and a sink of any
other provider fails the task.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.workflow import commands as cmd
from actors.workflow import events as ev
from actors.workflow.operators.event import EVENT_PRODUCED, SinkError, event_name
from tests.unit.machine_harness import Run
from tests.unit.operators.support import conductor_definition, dispatched, of_type, rows, simple, workflow

EVENT_WF = "workflows/event_workflow_integration_test.json"


def event_task(ref: str, sink: Any = "conductor", **extra: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "EVENT", "sink": sink, **extra}


def published(run: Run) -> list[cmd.PublishEvent]:
    return of_type(run.commands, cmd.PublishEvent)


def test_conductor_sink_publishes_to_the_workflow_and_reference_name_then_moves_on() -> None:
    """EventTaskSpec: the EVENT task COMPLETES and the next task is scheduled."""
    run = Run(conductor_definition(EVENT_WF))

    assert rows(run) == [("wait0", "EVENT", "COMPLETED"), ("t1", "integration_task_1", "SCHEDULED")]
    assert dispatched(run.commands) == ["t1"]
    [message] = published(run)
    task = run.task("wait0")
    assert message.event == "conductor:test_event_workflow:wait0"
    assert message.message_id == task["taskId"]
    assert task["outputData"] == message.payload
    assert task["outputData"][EVENT_PRODUCED] == "conductor:test_event_workflow:wait0"


def test_the_message_is_the_input_plus_the_workflow_fields() -> None:
    definition = workflow(
        event_task("ev", inputParameters={"orderId": "${workflow.input.orderId}", "status": "READY"}),
        name="orders",
        version=3,
    )

    run = Run(definition, {"orderId": "o-7"}, correlation_id="c-1", task_to_domain={"*": "blue"})

    [message] = published(run)
    assert message.payload == {
        "orderId": "o-7",
        "status": "READY",
        "sink": "conductor",
        "asyncComplete": False,
        "workflowInstanceId": "wf-1",
        "workflowType": "orders",
        "workflowVersion": 3,
        "correlationId": "c-1",
        "taskToDomain": {"*": "blue"},
        "event_produced": "conductor:orders:ev",
    }
    assert run.task("ev")["inputData"] == {
        "orderId": "o-7",
        "status": "READY",
        "sink": "conductor",
        "asyncComplete": False,
    }
    assert run.status == "COMPLETED"
    assert run.output == message.payload


def test_without_a_correlation_id_the_message_says_null() -> None:
    run = Run(workflow(event_task("ev")))

    [message] = published(run)
    assert message.payload["correlationId"] is None
    assert message.payload["taskToDomain"] == {}


@pytest.mark.parametrize(
    ("sink", "expected"),
    [
        ("conductor", "conductor:wf:ref"),
        ("conductor:order-status", "conductor:wf:order-status"),
        # As Conductor: every `conductor:` is taken out before the workflow name goes in.
        ("conductor:other:queue", "conductor:wf:other:queue"),
    ],
)
def test_event_names(sink: str, expected: str) -> None:
    assert event_name(sink, "wf", "ref") == expected


@pytest.mark.parametrize(
    ("sink", "reason"),
    [
        (
            "pubsub:topic",
            "sink type 'pubsub' is not supported; Podium publishes to conductor sinks and amqp, amqp_exchange, "
            "amqp_queue, jsm, kafka, nats, nats_stream, sqs (sink: pubsub:topic)",
        ),
        ("sqs:", "sink 'sqs:' names no queue"),
        ("conductorx", "Invalid / Unsupported sink specified: conductorx"),
        ("", "EVENT task needs a sink, got ''"),
        (None, "EVENT task needs a sink, got None"),
    ],
)
def test_unsupported_sinks(sink: Any, reason: str) -> None:
    with pytest.raises(SinkError) as caught:
        event_name(sink, "wf", "ref")
    assert str(caught.value) == reason


def test_an_unsupported_sink_fails_the_task_and_the_workflow_publishing_nothing() -> None:
    run = Run(workflow(event_task("ev", sink="pubsub:topic")))

    [task] = run.state.tasks
    assert task["taskType"] == "EVENT"
    assert task["status"] == "FAILED"
    assert task["reasonForIncompletion"].startswith("sink type 'pubsub' is not supported")
    assert published(run) == []
    assert run.status == "FAILED"


@pytest.mark.parametrize("sink", ["amqp_queue:orders", "amqp_exchange:ex?routingKey=r", "nats:a.b", "sqs:q", "kafka:t"])
def test_a_broker_sink_goes_to_the_outbox_and_waits_for_a_gateway_to_publish(sink: str) -> None:
    run = Run(workflow(event_task("ev", sink=sink)))

    [task] = run.state.tasks
    [message] = published(run)
    assert message.external
    assert message.event == sink
    assert message.message_id == task["taskId"]
    assert message.payload["event_produced"] == sink
    # Completed (or failed) by the gateway that publishes it, not in this step.
    assert task["status"] == "IN_PROGRESS"
    assert task["outputData"] == message.payload
    assert run.status == "RUNNING"


def test_the_sqs_corpus_workflow_publishes_to_its_queue() -> None:
    run = Run(conductor_definition("workflows/sqs-test-workflow.json"))

    [message] = published(run)
    assert message.external
    assert message.event.startswith("sqs:")


def test_the_sink_is_resolved_at_run_time() -> None:
    run = Run(workflow(event_task("ev", sink="${workflow.input.sink}")), {"sink": "conductor:from-input"})

    [message] = published(run)
    assert message.event == "conductor:test_wf:from-input"
    assert run.task("ev")["inputData"]["sink"] == "conductor:from-input"


def test_async_complete_publishes_and_waits_for_an_update() -> None:
    run = Run(workflow(event_task("ev", asyncComplete=True), simple("after")))

    [message] = published(run)
    task = run.task("ev")
    assert task["status"] == "IN_PROGRESS"
    assert task["outputData"] == message.payload
    assert message.payload["asyncComplete"] is True
    assert dispatched(run.commands) == []

    run.send(ev.TaskUpdate(task["taskId"], "COMPLETED", {"ack": True}))

    assert task["status"] == "COMPLETED"
    assert task["outputData"]["ack"] is True
    assert dispatched(run.commands) == ["after"]


def test_a_redispatch_does_not_publish_again() -> None:
    """After a crash the message is already on the bus: it went in with the checkpoint."""
    run = Run(workflow(event_task("ev", asyncComplete=True)))

    produced = run.send(ev.Redispatch())

    assert of_type(produced, cmd.PublishEvent) == []
    assert len(published(run)) == 1


def test_inside_a_loop_the_reference_name_carries_the_iteration() -> None:
    loop = {
        "name": "loop",
        "taskReferenceName": "loop",
        "type": "DO_WHILE",
        "loopCondition": "$.loop['iteration'] < 2",
        "loopOver": [event_task("ev")],
    }

    run = Run(workflow(loop, name="looping"))

    assert [m.event for m in published(run)] == ["conductor:looping:ev__1", "conductor:looping:ev__2"]
    assert run.status == "COMPLETED"
