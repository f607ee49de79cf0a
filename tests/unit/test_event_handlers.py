"""Event handlers: the EventHandler model (definitions/models.py) and the event processor's
handling of one message (gateway/event_processor.py), with a fake store and router.

Behaviour follows Conductor's EventHandler, DefaultEventProcessor and SimpleActionProcessor:
handlers are inactive unless `active`; an absent condition holds; a condition is evaluated
with its evaluatorType (javascript by default) over the payload with stringified JSON
expanded; `${...}` in action fields resolve over the payload; start_workflow adds
`conductor.event.messageId` and `conductor.event.name` to the input, and complete_task and
fail_task put them in the task's output.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from actors.shard import Outcome
from actors.workflow import events as ev
from cluster.store import EventMessage
from definitions.models import EventHandler, StartWorkflowRequest, TaskResult
from gateway import event_processor
from gateway.errors import not_found
from gateway.event_processor import EventProcessor, condition_holds, expand_inline_json, over_payload, truthy
from tests.conductor_corpus import read

Json = dict[str, Any]


# -- the model --------------------------------------------------------------------------


def handler_json(*actions: Json, **fields: Any) -> Json:
    return {"name": "h", "event": "conductor:wf:ref", "actions": list(actions), "active": True, **fields}


START = {"action": "start_workflow", "start_workflow": {"name": "target", "input": {"id": "${id}"}}}


def problem(data: Json) -> str:
    with pytest.raises(ValidationError) as caught:
        EventHandler.model_validate(data)
    return "; ".join(error["msg"] for error in caught.value.errors())


def test_conductor_handler_json_loads_and_round_trips() -> None:
    data = read("workflows/sqs-complete-wait-event-handler.json")

    handler = EventHandler.model_validate(data)

    assert handler.actions[0].complete_task is not None
    assert handler.actions[0].complete_task.task_ref_name == "wait_for_sqs_event_ref"
    assert handler.actions[0].expand_inline_json
    assert handler.to_wire() == data


def test_a_handler_is_inactive_unless_told() -> None:
    data = handler_json(START)
    del data["active"]
    assert EventHandler.model_validate(data).active is False


def test_unknown_fields_are_kept() -> None:
    handler = EventHandler.model_validate(handler_json(START, description="orders"))
    assert handler.to_wire()["description"] == "orders"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (handler_json(START, name=" "), "Missing event handler name"),
        (handler_json(START, event=""), "Missing event location"),
        (handler_json(), "No actions specified. Please specify at-least one action"),
        (handler_json(START, evaluatorType="python"), "evaluatorType 'python' is not one of"),
        (handler_json({"action": "start_agent", "start_agent": {}}), "action 'start_agent' is not supported"),
        (
            handler_json({"action": "start_workflow"}),
            "action 'start_workflow' needs its parameters in 'start_workflow'",
        ),
        (handler_json({"action": "start_workflow", "start_workflow": {"input": {}}}), "start_workflow.name is missing"),
        (
            handler_json({"action": "complete_task", "complete_task": {"taskRefName": "wait"}}),
            "complete_task needs taskId, or workflowId and taskRefName",
        ),
        (handler_json({"action": "fail_task", "fail_task": {"output": {}}}), "fail_task needs taskId"),
        (
            handler_json({"action": "terminate_workflow", "terminate_workflow": {"terminationReason": "x"}}),
            "terminate_workflow.workflowId is missing",
        ),
        (
            handler_json({"action": "update_workflow_variables", "update_workflow_variables": {"variables": {}}}),
            "update_workflow_variables.workflowId is missing",
        ),
    ],
)
def test_malformed_handlers_name_the_problem(data: Json, message: str) -> None:
    assert message in problem(data)


def test_a_task_is_named_by_its_id_or_by_workflow_and_reference() -> None:
    for details in ({"taskId": "t"}, {"workflowId": "${workflowInstanceId}", "taskRefName": "wait"}):
        EventHandler.model_validate(handler_json({"action": "complete_task", "complete_task": details}))


# -- payload helpers ------------------------------------------------------------------------


def test_expand_inline_json() -> None:
    payload = {"a": '{"b": [1, "[2]"]}', "c": "plain", "d": "{not json", "e": [' {"f": 1}']}
    assert expand_inline_json(payload) == {"a": {"b": [1, [2]]}, "c": "plain", "d": "{not json", "e": [{"f": 1}]}


def test_over_payload_resolves_from_the_payload_root() -> None:
    payload = {"workflowInstanceId": "w1", "order": {"id": 7, "lines": ["x"]}}
    template = {"id": "${workflowInstanceId}", "n": "${order.id}", "line": "${order.lines[0]}", "text": "o-${order.id}"}
    assert over_payload(template, payload) == {"id": "w1", "n": 7, "line": "x", "text": "o-7"}
    assert over_payload("${missing}", payload) is None


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), (1, True), (0, False), ("yes", False)])
def test_truthy(value: Any, expected: bool) -> None:
    assert truthy(value) is expected


@pytest.mark.parametrize(
    ("condition", "evaluator", "holds"),
    [
        (None, None, True),
        ("  ", None, True),
        ("$.status == 'READY'", None, True),
        ("$.status == 'DONE'", None, False),
        ("$.status == 'READY'", "graaljs", True),
        ("$.inline.n > 1", "javascript", True),  # stringified JSON is expanded for the condition
        ("ready", "value-param", True),
        ("count", "value-param", False),
    ],
)
def test_conditions(condition: str | None, evaluator: str | None, holds: bool) -> None:
    handler = EventHandler.model_validate(handler_json(START, condition=condition, evaluatorType=evaluator))
    payload = {"status": "READY", "ready": True, "count": 0, "inline": '{"n": 2}'}
    assert condition_holds(handler, payload) is holds


# -- the processor, with fakes ----------------------------------------------------------------


class FakeStore:
    def __init__(self) -> None:
        self.handlers: list[Json] = []
        self.acked: list[str] = []
        self.workflows: dict[str, Json] = {}
        self.deliveries: dict[str, int] = {}
        self.released: list[tuple[str, str, str]] = []

    async def list_event_handlers(self) -> list[Json]:
        return sorted(self.handlers, key=lambda h: h["name"])

    async def ack_event(self, entry_id: str) -> None:
        self.acked.append(entry_id)

    async def event_deliveries(self, entry_id: str) -> int:
        return self.deliveries.get(entry_id, 1)

    async def get_workflow(self, workflow_id: str, include_tasks: bool = True) -> Json | None:
        return self.workflows.get(workflow_id)

    async def get_task(self, task_id: str) -> Json | None:
        for workflow in self.workflows.values():
            for task in workflow.get("tasks", []):
                if task["taskId"] == task_id:
                    return dict(task)
        return None

    async def release_idempotency_key(self, name: str, key: str, workflow_id: str) -> None:
        self.released.append((name, key, workflow_id))


class FakeRouter:
    def __init__(self) -> None:
        self.delivered: list[tuple[str, ev.Event]] = []
        self.outcome = Outcome.OK
        self.error: Exception | None = None

    async def deliver(self, workflow_id: str, event: ev.Event) -> Outcome:
        if self.error is not None:
            raise self.error
        self.delivered.append((workflow_id, event))
        return self.outcome


class FakeContext:
    def __init__(self) -> None:
        self.store = FakeStore()
        self.router = FakeRouter()


@pytest.fixture
def context(monkeypatch: pytest.MonkeyPatch) -> FakeContext:
    fake = FakeContext()
    fake.started = []  # type: ignore[attr-defined]
    fake.results = []  # type: ignore[attr-defined]

    async def start_workflow(context: Any, request: StartWorkflowRequest) -> str:
        fake.started.append(request)  # type: ignore[attr-defined]
        if request.name == "unregistered":
            raise not_found(f"No workflow definition named '{request.name}'")
        workflow_id = f"started-{len(fake.started)}"  # type: ignore[attr-defined]
        fake.store.workflows.setdefault(workflow_id, {"workflowId": workflow_id, "tasks": []})
        return workflow_id

    async def record_result(context: Any, result: TaskResult) -> None:
        fake.results.append(result)  # type: ignore[attr-defined]

    monkeypatch.setattr(event_processor, "start_workflow", start_workflow)
    monkeypatch.setattr(event_processor, "record_result", record_result)
    return fake


def message(payload: Any, event: str = "conductor:wf:ref", entry_id: str = "1-0") -> EventMessage:
    return EventMessage(entry_id, event, orjson.dumps(payload), "msg-1")


def handle(context: FakeContext, msg: EventMessage, redelivered: bool = False) -> None:
    processor = EventProcessor(context, "test", 30_000)  # type: ignore[arg-type]
    asyncio.run(processor.handle(msg, redelivered))


def add_handler(context: FakeContext, *actions: Json, **fields: Any) -> None:
    context.store.handlers.append(handler_json(*actions, **fields))


def test_start_workflow_resolves_over_the_payload_with_an_idempotency_key(context: FakeContext) -> None:
    add_handler(
        context,
        {
            "action": "start_workflow",
            "start_workflow": {
                "name": "fulfill",
                "version": 2,
                "correlationId": "${orderId}",
                "input": {"orderId": "${orderId}", "source": "${workflowInstanceId}"},
            },
        },
        name="starter",
    )

    handle(context, message({"orderId": 42, "workflowInstanceId": "w1", "taskToDomain": {"*": "blue"}}))

    [request] = context.started  # type: ignore[attr-defined]
    assert request.name == "fulfill"
    assert request.version == 2
    assert request.correlation_id == "42"
    assert request.input == {
        "orderId": 42,
        "source": "w1",
        "conductor.event.messageId": "msg-1",
        "conductor.event.name": "conductor:wf:ref",
    }
    assert request.task_to_domain == {"*": "blue"}
    assert request.idempotency_key == "event:1-0:starter:0"
    assert request.idempotency_strategy == "RETURN_EXISTING"
    assert context.store.acked == ["1-0"]


def test_a_key_left_by_a_processor_that_died_before_starting_is_released(
    context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_handler(context, START)
    calls: list[StartWorkflowRequest] = []

    async def start_once_lost(ctx: Any, request: StartWorkflowRequest) -> str:
        calls.append(request)
        if len(calls) == 1:
            return "ghost"  # the key names a workflow that was never started
        context.store.workflows["real"] = {"workflowId": "real", "tasks": []}
        return "real"

    monkeypatch.setattr(event_processor, "start_workflow", start_once_lost)

    handle(context, message({"id": 1}), redelivered=True)

    assert len(calls) == 2
    assert context.store.released == [("target", "event:1-0:h:0", "ghost")]


def wait_workflow(workflow_id: str) -> Json:
    return {
        "workflowId": workflow_id,
        "tasks": [
            {
                "taskId": "t1",
                "referenceTaskName": "approval",
                "status": "COMPLETED",
                "seq": 1,
                "workflowInstanceId": workflow_id,
            },
            {
                "taskId": "t2",
                "referenceTaskName": "loop_wait__1",
                "status": "COMPLETED",
                "seq": 2,
                "workflowInstanceId": workflow_id,
            },
            {
                "taskId": "t3",
                "referenceTaskName": "loop_wait__2",
                "status": "IN_PROGRESS",
                "seq": 3,
                "workflowInstanceId": workflow_id,
            },
            {
                "taskId": "t4",
                "referenceTaskName": "approval",
                "status": "IN_PROGRESS",
                "seq": 4,
                "workflowInstanceId": workflow_id,
            },
        ],
    }


def test_complete_task_by_workflow_and_reference_name(context: FakeContext) -> None:
    context.store.workflows["w1"] = wait_workflow("w1")
    add_handler(
        context,
        {
            "action": "complete_task",
            "complete_task": {
                "workflowId": "${workflowInstanceId}",
                "taskRefName": "approval",
                "output": {"approvedBy": "${user}"},
            },
        },
    )

    handle(context, message({"workflowInstanceId": "w1", "user": "ada"}))

    [result] = context.results  # type: ignore[attr-defined]
    assert (result.workflow_instance_id, result.task_id, result.status.value) == ("w1", "t4", "COMPLETED")
    assert result.output_data == {
        "workflowId": "w1",
        "taskRefName": "approval",
        "approvedBy": "ada",
        "conductor.event.messageId": "msg-1",
        "conductor.event.name": "conductor:wf:ref",
    }
    assert result.reason_for_incompletion is None


def test_complete_task_in_a_loop_takes_the_latest_iteration(context: FakeContext) -> None:
    context.store.workflows["w1"] = wait_workflow("w1")
    add_handler(context, {"action": "complete_task", "complete_task": {"workflowId": "w1", "taskRefName": "loop_wait"}})

    handle(context, message({}))

    assert [r.task_id for r in context.results] == ["t3"]  # type: ignore[attr-defined]


def test_fail_task_by_task_id_with_a_reason(context: FakeContext) -> None:
    context.store.workflows["w1"] = wait_workflow("w1")
    add_handler(
        context,
        {"action": "fail_task", "fail_task": {"taskId": "${task}", "reasonForIncompletion": "rejected by ${user}"}},
    )

    handle(context, message({"task": "t4", "user": "bob"}))

    [result] = context.results  # type: ignore[attr-defined]
    assert (result.task_id, result.status.value) == ("t4", "FAILED")
    assert result.reason_for_incompletion == "rejected by bob"


def test_an_action_that_cannot_be_done_is_logged_and_the_others_still_run(
    context: FakeContext, caplog: pytest.LogCaptureFixture
) -> None:
    add_handler(
        context,
        {"action": "complete_task", "complete_task": {"workflowId": "nope", "taskRefName": "approval"}},
        {"action": "start_workflow", "start_workflow": {"name": "unregistered"}},
        START,
    )

    handle(context, message({"id": 3}))

    assert [r.name for r in context.started] == ["unregistered", "target"]  # type: ignore[attr-defined]
    assert "No workflow found with ID: nope" in caplog.text
    assert "No workflow definition named 'unregistered'" in caplog.text
    assert context.store.acked == ["1-0"]


def test_a_transient_failure_leaves_the_message_unacknowledged(context: FakeContext) -> None:
    add_handler(context, {"action": "terminate_workflow", "terminate_workflow": {"workflowId": "w1"}})
    context.router.error = ConnectionError("shard unreachable")

    with pytest.raises(ConnectionError):
        handle(context, message({}))

    assert context.store.acked == []


def test_a_message_delivered_too_often_is_given_up(context: FakeContext, caplog: pytest.LogCaptureFixture) -> None:
    add_handler(context, START)
    context.store.deliveries["1-0"] = event_processor.MAX_DELIVERIES + 1

    handle(context, message({}), redelivered=True)

    assert context.started == []  # type: ignore[attr-defined]
    assert context.store.acked == ["1-0"]
    assert "giving up" in caplog.text


def test_only_active_handlers_of_the_event_whose_condition_holds_run(context: FakeContext) -> None:
    add_handler(context, START, name="a-inactive", active=False)
    add_handler(context, START, name="b-other-event", event="conductor:wf:other")
    add_handler(context, START, name="c-false", condition="$.id > 5")
    add_handler(context, START, name="d-broken", condition="this is not javascript(")
    add_handler(context, START, name="e-runs", condition="$.id < 5")

    handle(context, message({"id": 1}))

    assert [r.idempotency_key for r in context.started] == ["event:1-0:e-runs:0"]  # type: ignore[attr-defined]
    assert context.store.acked == ["1-0"]


def test_expand_inline_json_applies_to_the_action(context: FakeContext) -> None:
    add_handler(
        context,
        {
            "action": "start_workflow",
            "start_workflow": {"name": "t", "input": {"n": "${data.n}"}},
            "expandInlineJSON": True,
        },
        {"action": "start_workflow", "start_workflow": {"name": "t", "input": {"n": "${data.n}"}}},
    )

    handle(context, message({"data": '{"n": 5}'}))

    assert [r.input["n"] for r in context.started] == [5, None]  # type: ignore[attr-defined]


def test_terminate_and_update_variables_go_to_the_workflow(context: FakeContext) -> None:
    add_handler(
        context,
        {
            "action": "update_workflow_variables",
            "update_workflow_variables": {
                "workflowId": "${id}",
                "variables": {"status": "${status}"},
                "appendArray": True,
            },
        },
        {"action": "terminate_workflow", "terminate_workflow": {"workflowId": "${id}", "terminationReason": "${why}"}},
    )

    handle(context, message({"id": "w9", "status": "late", "why": "cancelled upstream"}))

    [(first_id, update), (second_id, terminate)] = context.router.delivered
    assert first_id == second_id == "w9"
    assert update == ev.UpdateVariables({"status": "late"}, True)
    assert terminate == ev.Terminate(reason="cancelled upstream")


def test_terminating_an_ended_workflow_is_no_failure(context: FakeContext, caplog: pytest.LogCaptureFixture) -> None:
    add_handler(context, {"action": "terminate_workflow", "terminate_workflow": {"workflowId": "w1"}})
    context.router.outcome = Outcome.IGNORED

    handle(context, message({}))

    assert "failed" not in caplog.text
    assert context.store.acked == ["1-0"]


def test_an_unknown_workflow_for_variables_is_logged(context: FakeContext, caplog: pytest.LogCaptureFixture) -> None:
    add_handler(
        context,
        {"action": "update_workflow_variables", "update_workflow_variables": {"workflowId": "gone", "variables": {}}},
    )
    context.router.outcome = Outcome.NOT_FOUND

    handle(context, message({}))

    assert "No workflow found with ID: gone" in caplog.text
    assert context.store.acked == ["1-0"]


def test_a_payload_that_is_not_an_object_is_acknowledged_without_running_anything(context: FakeContext) -> None:
    add_handler(context, START)

    handle(context, message([1, 2]))

    assert context.started == []  # type: ignore[attr-defined]
    assert context.store.acked == ["1-0"]
