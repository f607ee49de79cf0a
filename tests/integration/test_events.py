"""Events end to end: EVENT tasks, the event bus, event handlers and their processor.

The acceptance check of the issue's Events part: an EVENT task's event starts a workflow
through a handler and completes a WAIT task in another; a processor that dies in the
middle of an event loses nothing (the message is claimed again and handled as if the
first attempt had never been, without starting the workflow twice).

These tests run their own Podium, whose processors claim an unacknowledged message after
2 s (PODIUM_EVENT_REDELIVERY_MS) instead of 30 s.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.api.event_resource_api import EventResourceApi
from conductor.client.http.api_client import ApiClient
from conductor.client.http.models.action import Action
from conductor.client.http.models.event_handler import EventHandler as SdkEventHandler
from conductor.client.http.models.task_details import TaskDetails
from conductor.client.http.rest import ApiException

from cluster.runtime import Runtime
from cluster.store import EVENT_GROUP, EventMessage, Keys, Store, event_fields
from definitions.models import EventAction, EventHandler
from gateway.context import GatewayContext
from gateway.event_processor import EventProcessor
from gateway.routing import ShardRouter
from tests.integration.client import PodiumClient
from tests.integration.conftest import start_podium

Json = dict[str, Any]
REDELIVERY_MS = 2000


@pytest.fixture(scope="module")
def runtime(ray_cluster: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    home: Path = tmp_path_factory.mktemp("podium-events")
    started = start_podium(home, "podium-events", workers=[], event_redelivery_ms=REDELIVERY_MS)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> Iterator[PodiumClient]:
    with PodiumClient(runtime.api_url) as module_client:
        yield module_client


class Orders:
    """A publisher with an EVENT task, the workflow its event starts, one that waits for an
    approval, and the handler tying them together; unique names per test."""

    def __init__(self, client: PodiumClient) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.client = client
        self.publisher = f"publish_order_event_{suffix}"
        self.fulfill = f"fulfill_order_{suffix}"
        self.approval = f"await_approval_{suffix}"
        self.event = f"conductor:{self.publisher}:order-status"
        self.handler = {
            "name": f"on_order_ready_{suffix}",
            "event": self.event,
            "condition": "$.status == 'READY'",
            "actions": [
                {
                    "action": "start_workflow",
                    "start_workflow": {
                        "name": self.fulfill,
                        "correlationId": "${orderId}",
                        "input": {"orderId": "${orderId}", "sourceWorkflowId": "${workflowInstanceId}"},
                    },
                },
                {
                    "action": "complete_task",
                    "complete_task": {
                        "workflowId": "${approvalWorkflowId}",
                        "taskRefName": "approval",
                        "output": {"approvedBy": "event handler", "orderId": "${orderId}"},
                    },
                },
            ],
            "active": True,
        }
        client.register(
            {
                "name": self.publisher,
                "tasks": [
                    {
                        "name": "publish_order_status",
                        "taskReferenceName": "publish",
                        "type": "EVENT",
                        "sink": "conductor:order-status",
                        "inputParameters": {
                            "orderId": "${workflow.input.orderId}",
                            "status": "${workflow.input.status}",
                            "approvalWorkflowId": "${workflow.input.approvalWorkflowId}",
                        },
                    }
                ],
            }
        )
        client.register(
            {
                "name": self.fulfill,
                "tasks": [
                    {
                        "name": "remember",
                        "taskReferenceName": "remember",
                        "type": "SET_VARIABLE",
                        "inputParameters": {"orderId": "${workflow.input.orderId}"},
                    }
                ],
            }
        )
        client.register(
            {"name": self.approval, "tasks": [{"name": "approval", "taskReferenceName": "approval", "type": "WAIT"}]}
        )
        client.ok("POST", "/event", json=self.handler)

    def waiting_approval(self) -> str:
        workflow_id = self.client.start(self.approval)
        workflow = self.client.wait(workflow_id, {"RUNNING"})
        assert workflow["tasks"][0]["status"] == "IN_PROGRESS"
        return workflow_id

    def fulfillments(self, order_id: str) -> list[Json]:
        found = self.client.ok(
            "GET", f"/workflow/{self.fulfill}/correlated/{order_id}", params={"includeClosed": "true"}
        )
        return list(found)

    def await_fulfillments(self, order_id: str, timeout: float = 30.0) -> list[Json]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.fulfillments(order_id)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


def test_an_event_task_starts_a_workflow_through_a_handler_and_completes_a_wait_in_another(
    client: PodiumClient,
) -> None:
    orders = Orders(client)
    approval_id = orders.waiting_approval()
    order_id = f"o-{uuid.uuid4().hex[:8]}"

    publisher_id = client.start(
        orders.publisher, {"orderId": order_id, "status": "READY", "approvalWorkflowId": approval_id}
    )

    published = client.wait(publisher_id)
    assert published["status"] == "COMPLETED"
    [event_task] = published["tasks"]
    assert event_task["taskType"] == "EVENT"
    assert event_task["status"] == "COMPLETED"
    assert event_task["outputData"] == {
        "orderId": order_id,
        "status": "READY",
        "approvalWorkflowId": approval_id,
        "sink": "conductor:order-status",
        "asyncComplete": False,
        "workflowInstanceId": publisher_id,
        "workflowType": orders.publisher,
        "workflowVersion": 1,
        "correlationId": None,
        "taskToDomain": {},
        "event_produced": orders.event,
    }

    approved = client.wait(approval_id)
    assert approved["status"] == "COMPLETED"
    [wait_task] = approved["tasks"]
    assert wait_task["status"] == "COMPLETED"
    assert wait_task["outputData"]["approvedBy"] == "event handler"
    assert wait_task["outputData"]["orderId"] == order_id
    assert wait_task["outputData"]["conductor.event.name"] == orders.event
    # The message id of an EVENT task's message is the task id, as in Conductor.
    assert wait_task["outputData"]["conductor.event.messageId"] == event_task["taskId"]

    [fulfilled] = orders.await_fulfillments(order_id)
    fulfilled = client.wait(fulfilled["workflowId"])
    assert fulfilled["status"] == "COMPLETED"
    assert fulfilled["correlationId"] == order_id
    assert fulfilled["input"] == {
        "orderId": order_id,
        "sourceWorkflowId": publisher_id,
        "conductor.event.messageId": event_task["taskId"],
        "conductor.event.name": orders.event,
    }
    assert fulfilled["variables"] == {"orderId": order_id}


class ProcessorDied(Exception):
    """Stands for the process dying: raised between two actions, before the acknowledgement."""


class DyingProcessor(EventProcessor):
    """Carries out the first action of each handler, then dies."""

    async def run_action(
        self, handler: EventHandler, index: int, action: EventAction, message: EventMessage, payload: Json
    ) -> Json:
        if index > 0:
            raise ProcessorDied
        return await super().run_action(handler, index, action, message, payload)


async def deliver_to(store: Store, consumer: str, event: str, payload: Json) -> list[EventMessage]:
    """Publish a message and have `consumer` receive it, in one transaction, so no other
    processor can be the one that gets it."""
    await store.ensure_event_group()
    pipe = store.redis.pipeline(transaction=True)
    pipe.xadd(Keys.events, event_fields(event, payload, f"crash-{uuid.uuid4().hex[:8]}"))
    pipe.xreadgroup(EVENT_GROUP, consumer, {Keys.events: ">"}, count=10)
    _, reply = await pipe.execute()
    return [EventMessage.of(entry_id, fields) for _, entries in reply for entry_id, fields in entries]


def test_a_processor_that_dies_mid_event_loses_nothing(runtime: Runtime, client: PodiumClient) -> None:
    orders = Orders(client)
    approval_id = orders.waiting_approval()
    order_id = f"o-{uuid.uuid4().hex[:8]}"
    payload = {"orderId": order_id, "status": "READY", "approvalWorkflowId": approval_id, "workflowInstanceId": "x"}
    settings = runtime.settings
    doomed = "doomed-processor"

    async def die_mid_event() -> dict[str, int]:
        store = Store(runtime.redis_url, settings.partitions)
        try:
            context = GatewayContext(settings, store, ShardRouter(store, settings.namespace, settings.lease_ms))
            processor = DyingProcessor(context, doomed, REDELIVERY_MS)
            [message] = await deliver_to(store, doomed, orders.event, payload)
            with pytest.raises(ProcessorDied):
                await processor.handle(message)
            return await store.pending_events()
        finally:
            await store.close()

    pending = asyncio.run(die_mid_event())

    # The first action ran, the second did not, and the message is still the dead consumer's.
    assert pending.get(doomed) == 1
    assert len(orders.fulfillments(order_id)) == 1
    assert client.workflow(approval_id)["status"] == "RUNNING"

    # The gateway's processor claims it once it has been idle for REDELIVERY_MS, and runs
    # both actions: the start finds the workflow the dead processor started.
    approved = client.wait(approval_id, timeout=REDELIVERY_MS / 1000 + 30)
    assert approved["status"] == "COMPLETED"
    assert approved["tasks"][0]["outputData"]["orderId"] == order_id
    [fulfilled] = orders.fulfillments(order_id)
    assert fulfilled["input"]["orderId"] == order_id

    async def bus_state() -> tuple[dict[str, int], int]:
        store = Store(runtime.redis_url, settings.partitions)
        try:
            return await store.pending_events(), int(await store.redis.xlen(Keys.events))
        finally:
            await store.close()

    pending_after, length = asyncio.run(bus_state())
    assert sum(pending_after.values()) == 0
    assert length == 0  # handled messages leave the stream


def test_an_event_posted_to_the_api_runs_handlers_whose_condition_holds(client: PodiumClient) -> None:
    orders = Orders(client)
    held, ready = f"o-{uuid.uuid4().hex[:8]}", f"o-{uuid.uuid4().hex[:8]}"
    approval_id = orders.waiting_approval()

    for order_id, status in ((held, "HOLD"), (ready, "READY")):
        response = client.request(
            "POST",
            f"/events/{orders.event}",
            json={"orderId": order_id, "status": status, "approvalWorkflowId": approval_id},
        )
        assert response.status_code == 202, response.text
        answer = response.json()
        assert answer["event"] == orders.event
        message_id = answer["messageId"]

    [fulfilled] = orders.await_fulfillments(ready)
    assert fulfilled["input"]["conductor.event.messageId"] == message_id
    # One processor handles messages in order: the HOLD message was done before this one.
    assert orders.fulfillments(held) == []
    assert client.wait(approval_id)["tasks"][0]["outputData"]["orderId"] == ready


def test_an_event_task_with_another_provider_fails_with_the_reason(client: PodiumClient) -> None:
    name = f"sqs_publisher_{uuid.uuid4().hex[:8]}"
    client.register(
        {"name": name, "tasks": [{"name": "e", "taskReferenceName": "e", "type": "EVENT", "sink": "sqs:my-queue"}]}
    )

    failed = client.wait(client.start(name))

    assert failed["status"] == "FAILED"
    # This Podium has no SQS configured (tests/integration/test_event_brokers.py has one that has).
    assert failed["tasks"][0]["reasonForIncompletion"] == (
        "'sqs:my-queue' names a sqs queue, but PODIUM_SQS_ENDPOINT_URL or PODIUM_SQS_REGION is not set"
    )


def test_an_event_task_needs_a_sink_at_registration(client: PodiumClient) -> None:
    response = client.request(
        "POST",
        "/metadata/workflow",
        json={"name": "no_sink", "tasks": [{"name": "e", "taskReferenceName": "e", "type": "EVENT"}]},
    )

    assert response.status_code == 400
    assert "task 'e' (EVENT): sink is missing" in response.json()["message"]


def test_event_handler_api(client: PodiumClient) -> None:
    suffix = uuid.uuid4().hex[:8]
    event = f"conductor:api_{suffix}:done"
    handler = {
        "name": f"api_handler_{suffix}",
        "event": event,
        "actions": [{"action": "terminate_workflow", "terminate_workflow": {"workflowId": "${workflowId}"}}],
        "active": True,
    }

    assert client.ok("POST", "/event", json=handler) == {}
    duplicate = client.request("POST", "/event", json=handler)
    assert duplicate.status_code == 409
    assert duplicate.json()["message"] == f"EventHandler with name {handler['name']} already exists!"

    # As Conductor answers it: what was given, with the defaults of what was left out.
    stored = EventHandler.model_validate(handler).to_wire()
    assert stored["actions"][0]["expandInlineJSON"] is False
    assert stored in client.ok("GET", "/event")
    assert client.ok("GET", f"/event/{event}") == [stored]

    inactive = {**handler, "active": False, "condition": "$.go"}
    assert client.ok("PUT", "/event", json=inactive) == {}
    assert client.ok("GET", f"/event/{event}") == []
    assert client.ok("GET", f"/event/{event}", params={"activeOnly": "false"}) == [
        {**stored, **inactive, "actions": stored["actions"]}
    ]

    unknown = client.request("PUT", "/event", json={**handler, "name": f"missing_{suffix}"})
    assert unknown.status_code == 404
    assert unknown.json()["message"] == f"EventHandler with name missing_{suffix} not found!"

    assert client.ok("DELETE", f"/event/{handler['name']}") == {}
    gone = client.request("DELETE", f"/event/{handler['name']}")
    assert gone.status_code == 404
    assert gone.json()["message"] == f"EventHandler with name {handler['name']} not found!"
    assert client.ok("GET", f"/event/{event}", params={"activeOnly": "false"}) == []


def test_conductor_python_manages_event_handlers(runtime: Runtime) -> None:
    api = EventResourceApi(ApiClient(Configuration(server_api_url=runtime.api_url)))
    suffix = uuid.uuid4().hex[:8]
    event = f"conductor:sdk_{suffix}:done"
    details = TaskDetails(workflow_id="${workflowInstanceId}", task_ref_name="approval", output={"ok": True})
    handler = SdkEventHandler(
        name=f"sdk_handler_{suffix}",
        event=event,
        condition="$.ok",
        actions=[Action(action="complete_task", complete_task=details, expand_inline_json=True)],
        active=True,
    )

    api.add_event_handler(handler)
    with pytest.raises(ApiException) as duplicate:
        api.add_event_handler(handler)
    assert duplicate.value.status == 409

    [found] = api.get_event_handlers_for_event(event, active_only=True)
    assert (found.name, found.event, found.condition, found.active) == (handler.name, event, "$.ok", True)
    [action] = found.actions
    assert action.action == "complete_task"
    assert action.expand_inline_json is True
    assert (action.complete_task.workflow_id, action.complete_task.task_ref_name) == (
        "${workflowInstanceId}",
        "approval",
    )
    assert action.complete_task.output == {"ok": True}
    assert handler.name in [h.name for h in api.get_event_handlers()]

    handler.active = False
    api.update_event_handler(handler)
    assert api.get_event_handlers_for_event(event, active_only=True) == []
    assert [h.active for h in api.get_event_handlers_for_event(event, active_only=False)] == [False]

    api.remove_event_handler_status(handler.name)
    assert api.get_event_handlers_for_event(event, active_only=False) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "event": "e", "actions": []}, "No actions specified"),
        ({"event": "e", "actions": [{"action": "fail_task", "fail_task": {"taskId": "t"}}]}, "name: Field required"),
        (
            {
                "name": "x",
                "event": "e",
                "actions": [{"action": "complete_task", "complete_task": {"taskRefName": "w"}}],
            },
            "complete_task needs taskId, or workflowId and taskRefName",
        ),
        ({"name": "x", "event": "e", "actions": [{"action": "start_agent"}]}, "action 'start_agent' is not supported"),
        ([{"name": "x"}], "expected a JSON object"),
    ],
)
def test_a_malformed_event_handler_is_refused_naming_the_problem(client: PodiumClient, body: Any, message: str) -> None:
    for method in ("POST", "PUT"):
        response = client.request(method, "/event", json=body)
        assert response.status_code == 400, response.text
        assert message in response.json()["message"]


def test_publishing_needs_a_json_object(client: PodiumClient) -> None:
    not_object = client.request("POST", "/events/conductor:x:y", json=[1, 2])
    assert not_object.status_code == 400
    assert "must be a JSON object" in not_object.json()["message"]
    empty = client.request("POST", "/events/conductor:x:y", data=b"")
    assert empty.status_code == 400
