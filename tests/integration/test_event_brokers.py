"""Event queues on real brokers: RabbitMQ, NATS (core and JetStream) and SQS (moto's server).

A Podium of this module's own is configured with the three brokers (tests/integration/
brokers.py starts them as child processes); Kafka is not configured here: no Kafka broker
can be installed on this machine from the package registries it reaches (docs/api.md).

For each broker: an EVENT task publishes and a client on the broker sees the message; a
message put on the broker starts a workflow through a handler, and completes a WAIT task;
a broker stopped and started again mid-run loses nothing; a handler's failure leaves the
message unacknowledged and it is delivered again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import ray
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.api.event_resource_api import EventResourceApi
from conductor.client.http.api_client import ApiClient
from conductor.client.http.models.action import Action
from conductor.client.http.models.event_handler import EventHandler as SdkEventHandler
from conductor.client.http.models.start_workflow import StartWorkflow
from conductor.client.http.models.task_details import TaskDetails

from cluster.runtime import Runtime
from tests.integration.brokers import CoreNatsListener, MotoSqs, Nats, RabbitMQ
from tests.integration.client import PodiumClient, eventually
from tests.integration.conftest import start_podium

Json = dict[str, Any]
WAIT_SECONDS = 120.0


class Brokers:
    def __init__(self, base: Path) -> None:
        self.rabbit = RabbitMQ(base / "rabbitmq")
        self.nats = Nats(base / "nats")
        self.sqs = MotoSqs(base / "sqs")

    def close(self) -> None:
        for broker in (self.rabbit, self.nats, self.sqs):
            broker.close()


@pytest.fixture(scope="module")
def brokers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Brokers]:
    started = Brokers(tmp_path_factory.mktemp("brokers"))
    try:
        started.rabbit.start()
        started.nats.start()
        started.sqs.start()
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def runtime(ray_cluster: None, brokers: Brokers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    started = start_podium(
        tmp_path_factory.mktemp("podium-brokers"),
        "podium-brokers",
        workers=[],
        event_redelivery_ms=2000,
        amqp_url=brokers.rabbit.url,
        nats_url=brokers.nats.url,
        sqs_endpoint_url=brokers.sqs.url,
        sqs_access_key_id="testing",
        sqs_secret_access_key="testing",
    )
    yield started
    started.stop()


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> Iterator[PodiumClient]:
    with PodiumClient(runtime.api_url) as module_client:
        yield module_client


@pytest.fixture(scope="module")
def events_api(runtime: Runtime) -> EventResourceApi:
    return EventResourceApi(ApiClient(Configuration(server_api_url=runtime.api_url)))


def suffix() -> str:
    return uuid.uuid4().hex[:8]


def broker_stats(runtime: Runtime) -> Json:
    return dict(ray.get(runtime.gateway.broker_stats.remote()))


def count(runtime: Runtime, name: str) -> int:
    return int(broker_stats(runtime)["counts"].get(name, 0))


def await_consuming(runtime: Runtime, event: str) -> None:
    eventually(lambda: broker_stats(runtime), lambda s: event in s["consuming"], f"a consumer of {event}", WAIT_SECONDS)


def publisher(client: PodiumClient, sink: str) -> str:
    name = f"publish_{suffix()}"
    client.register(
        {
            "name": name,
            "tasks": [
                {
                    "name": "publish",
                    "taskReferenceName": "publish",
                    "type": "EVENT",
                    "sink": sink,
                    "inputParameters": {"orderId": "${workflow.input.orderId}", "batch": "${workflow.input.batch}"},
                }
            ],
        }
    )
    return name


def target(client: PodiumClient) -> str:
    name = f"started_by_broker_{suffix()}"
    client.register({"name": name, "tasks": [{"name": "noop", "taskReferenceName": "noop", "type": "NOOP"}]})
    return name


def start_handler(events_api: EventResourceApi, event: str, workflow: str) -> str:
    """A handler on `event` that starts `workflow`, correlated by the message's `batch`."""
    name = f"on_broker_{suffix()}"
    start = StartWorkflow(name=workflow, correlation_id="${batch}", input={"n": "${n}"})
    events_api.add_event_handler(
        SdkEventHandler(
            name=name, event=event, actions=[Action(action="start_workflow", start_workflow=start)], active=True
        )
    )
    return name


def started(client: PodiumClient, workflow: str, batch: str) -> list[Json]:
    found = client.ok("GET", f"/workflow/{workflow}/correlated/{batch}", params={"includeClosed": "true"})
    return list(found)


def await_started(client: PodiumClient, workflow: str, batch: str, expected: int) -> list[Json]:
    return eventually(
        lambda: started(client, workflow, batch),
        lambda found: len(found) >= expected,
        f"{expected} workflow(s) {workflow} of batch {batch}",
        WAIT_SECONDS,
    )


def message(batch: str, n: int = 0, **extra: Any) -> bytes:
    return orjson.dumps({"batch": batch, "n": n, **extra})


# -- an EVENT task publishes; a client on the broker sees the message -------------------


def assert_published(body: bytes, workflow_id: str, sink: str, order_id: str) -> None:
    payload = orjson.loads(body)
    assert payload["workflowInstanceId"] == workflow_id
    assert payload["orderId"] == order_id
    assert payload["sink"] == sink
    assert payload["event_produced"] == sink


def run_publisher(client: PodiumClient, sink: str) -> tuple[Json, str]:
    order_id = f"o-{suffix()}"
    workflow_id = client.start(publisher(client, sink), {"orderId": order_id, "batch": "b"})
    done = client.wait(workflow_id, timeout=WAIT_SECONDS)
    assert done["status"] == "COMPLETED", done
    [task] = done["tasks"]
    assert task["status"] == "COMPLETED"
    return task, order_id


def test_an_event_task_publishes_to_a_rabbitmq_queue(client: PodiumClient, brokers: Brokers) -> None:
    queue = f"orders_{suffix()}"
    task, order_id = run_publisher(client, f"amqp_queue:{queue}")

    received = brokers.rabbit.take(queue)

    assert received.message_id == task["taskId"]
    assert_published(received.body, task["workflowInstanceId"], f"amqp_queue:{queue}", order_id)


def test_an_event_task_publishes_to_a_rabbitmq_exchange_with_its_routing_key(
    client: PodiumClient, brokers: Brokers
) -> None:
    exchange, queue = f"ex_{suffix()}", f"seen_{suffix()}"
    brokers.rabbit.bind_queue(exchange, queue, "orders.created")
    sink = f"amqp_exchange:{exchange}?exchangeType=topic&routingKey=orders.created"

    task, order_id = run_publisher(client, sink)

    received = brokers.rabbit.take(queue)
    assert received.routing_key == "orders.created"
    assert_published(received.body, task["workflowInstanceId"], sink, order_id)


def test_an_event_task_publishes_to_a_nats_subject(client: PodiumClient, brokers: Brokers) -> None:
    subject = f"orders.{suffix()}"
    listener = CoreNatsListener(brokers.nats.url, subject)
    try:
        task, order_id = run_publisher(client, f"nats:{subject}")
        [body] = eventually(lambda: list(listener.received), bool, f"a message on {subject}", WAIT_SECONDS)
    finally:
        listener.close()

    assert_published(body, task["workflowInstanceId"], f"nats:{subject}", order_id)


def test_an_event_task_publishes_to_a_jetstream_stream(client: PodiumClient, brokers: Brokers) -> None:
    subject = f"orders.{suffix()}"
    task, order_id = run_publisher(client, f"nats_stream:{subject}")

    [stored] = brokers.nats.stream_messages(subject.replace(".", "_").upper(), subject)

    assert stored.headers["Nats-Msg-Id"] == task["taskId"]
    assert_published(stored.data, task["workflowInstanceId"], f"nats_stream:{subject}", order_id)


def test_an_event_task_publishes_to_an_sqs_queue(client: PodiumClient, brokers: Brokers) -> None:
    queue = f"orders_{suffix()}"
    task, order_id = run_publisher(client, f"sqs:{queue}")

    received = brokers.sqs.take(queue)

    assert_published(received["Body"].encode(), task["workflowInstanceId"], f"sqs:{queue}", order_id)


# -- a message on the broker runs a handler ----------------------------------------------


def put_on(brokers: Brokers, kind: str, name: str, body: bytes) -> None:
    match kind:
        case "amqp_queue":
            brokers.rabbit.publish(name, body, message_id=str(uuid.uuid4()))
        case "nats_stream":
            brokers.nats.publish(name, body, stream=True)
        case "nats":
            brokers.nats.publish(name, body, stream=False)
        case "sqs":
            brokers.sqs.publish(name, body)
        case _:
            raise AssertionError(kind)


def queue_name(kind: str) -> str:
    return f"in.{suffix()}" if kind.startswith("nats") else f"in_{suffix()}"


@pytest.mark.parametrize("kind", ["amqp_queue", "nats_stream", "sqs"])
def test_a_message_on_the_broker_starts_a_workflow_through_a_handler(
    client: PodiumClient, events_api: EventResourceApi, brokers: Brokers, runtime: Runtime, kind: str
) -> None:
    name, workflow, batch = queue_name(kind), target(client), f"batch-{suffix()}"
    start_handler(events_api, f"{kind}:{name}", workflow)
    await_consuming(runtime, f"{kind}:{name}")

    put_on(brokers, kind, name, message(batch, 7))

    [run] = await_started(client, workflow, batch, 1)
    assert client.wait(run["workflowId"])["input"]["n"] == 7


def test_a_core_nats_message_starts_a_workflow_while_a_gateway_listens(
    client: PodiumClient, events_api: EventResourceApi, brokers: Brokers, runtime: Runtime
) -> None:
    # Core NATS keeps nothing: a message sent before the gateway's subscription reached the
    # server is lost (as in Conductor), so the message is sent until one is handled.
    subject, workflow, batch = queue_name("nats"), target(client), f"batch-{suffix()}"
    start_handler(events_api, f"nats:{subject}", workflow)
    await_consuming(runtime, f"nats:{subject}")

    def send_and_look() -> list[Json]:
        brokers.nats.publish(subject, message(batch, 3), stream=False)
        return started(client, workflow, batch)

    found = eventually(send_and_look, bool, f"a workflow started from nats:{subject}", WAIT_SECONDS)

    assert client.wait(found[0]["workflowId"])["input"]["n"] == 3


@pytest.mark.parametrize("kind", ["amqp_queue", "nats_stream", "sqs"])
def test_a_message_on_the_broker_completes_a_wait_task(
    client: PodiumClient, events_api: EventResourceApi, brokers: Brokers, runtime: Runtime, kind: str
) -> None:
    name = queue_name(kind)
    waiting = f"await_broker_{suffix()}"
    client.register({"name": waiting, "tasks": [{"name": "wait", "taskReferenceName": "wait", "type": "WAIT"}]})
    workflow_id = client.start(waiting)
    client.wait(workflow_id, {"RUNNING"})
    details = TaskDetails(workflow_id="${workflowId}", task_ref_name="wait", output={"approvedBy": "${by}"})
    events_api.add_event_handler(
        SdkEventHandler(
            name=f"complete_{suffix()}",
            event=f"{kind}:{name}",
            actions=[Action(action="complete_task", complete_task=details)],
            active=True,
        )
    )
    await_consuming(runtime, f"{kind}:{name}")

    put_on(brokers, kind, name, orjson.dumps({"workflowId": workflow_id, "by": "broker"}))

    done = client.wait(workflow_id, timeout=WAIT_SECONDS)
    assert done["status"] == "COMPLETED"
    assert done["tasks"][0]["outputData"]["approvedBy"] == "broker"


# -- a broker restarted mid-run loses nothing --------------------------------------------


def restart_cases(brokers: Brokers) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    return {
        "amqp_queue": (brokers.rabbit.stop, brokers.rabbit.start),
        "nats_stream": (brokers.nats.stop, brokers.nats.start),
    }


@pytest.mark.parametrize("kind", ["amqp_queue", "nats_stream"])
def test_a_broker_restarted_mid_run_loses_nothing(
    client: PodiumClient, events_api: EventResourceApi, brokers: Brokers, runtime: Runtime, kind: str
) -> None:
    stop, start = restart_cases(brokers)[kind]
    provider = "amqp" if kind.startswith("amqp") else "nats"
    # A queue with messages on it and no consumer yet, and one a handler consumes.
    stored_name, live_name = queue_name(kind), queue_name(kind)
    workflow, stored_batch, live_batch = target(client), f"stored-{suffix()}", f"live-{suffix()}"
    for n in range(2):
        put_on(brokers, kind, stored_name, message(stored_batch, n))
    start_handler(events_api, f"{kind}:{live_name}", workflow)
    await_consuming(runtime, f"{kind}:{live_name}")
    sender = publisher(client, f"{kind}:{live_name}")
    retries_before = count(runtime, f"publish_retries:{provider}")

    stop()
    # EVENT tasks run while the broker is down: their messages wait in the outbox.
    senders = [client.start(sender, {"orderId": f"o{n}", "batch": live_batch}) for n in range(3)]
    eventually(
        lambda: count(runtime, f"publish_retries:{provider}"),
        lambda retries: retries > retries_before,
        "failed publishes counted in the broker metrics",
        WAIT_SECONDS,
    )
    assert all(client.workflow(w)["status"] == "RUNNING" for w in senders)
    start()

    for workflow_id in senders:
        assert client.wait(workflow_id, timeout=WAIT_SECONDS)["status"] == "COMPLETED"
    live = await_started(client, workflow, live_batch, 3)
    task_ids = {client.workflow(w)["tasks"][0]["taskId"] for w in senders}
    assert {run["input"]["conductor.event.messageId"] for run in live} == task_ids
    # What was on the broker before it stopped is still there for a handler added after.
    start_handler(events_api, f"{kind}:{stored_name}", workflow)
    stored = await_started(client, workflow, stored_batch, 2)
    assert sorted(run["input"]["n"] for run in stored) == [0, 1]


def test_an_sqs_outage_delays_publishing_and_loses_nothing(
    client: PodiumClient, events_api: EventResourceApi, brokers: Brokers, runtime: Runtime
) -> None:
    # moto keeps queues in memory: the outage empties it, so nothing is left on it before.
    name, workflow, batch = queue_name("sqs"), target(client), f"batch-{suffix()}"
    start_handler(events_api, f"sqs:{name}", workflow)
    await_consuming(runtime, f"sqs:{name}")
    sender = publisher(client, f"sqs:{name}")
    retries_before = count(runtime, "publish_retries:sqs")

    brokers.sqs.stop()
    senders = [client.start(sender, {"orderId": f"o{n}", "batch": batch}) for n in range(2)]
    eventually(
        lambda: count(runtime, "publish_retries:sqs"),
        lambda retries: retries > retries_before,
        "failed publishes counted in the broker metrics",
        WAIT_SECONDS,
    )
    brokers.sqs.start()

    for workflow_id in senders:
        assert client.wait(workflow_id, timeout=WAIT_SECONDS)["status"] == "COMPLETED"
    assert len(await_started(client, workflow, batch, 2)) == 2


# -- a handler's failure leaves the message unacknowledged; it is delivered again --------


@pytest.mark.parametrize("kind", ["amqp_queue", "nats_stream", "sqs"])
def test_a_failed_handler_leaves_the_message_on_the_broker_and_it_is_delivered_again(
    client: PodiumClient, events_api: EventResourceApi, brokers: Brokers, runtime: Runtime, kind: str
) -> None:
    provider = {"amqp_queue": "amqp", "nats_stream": "nats", "sqs": "sqs"}[kind]
    name, batch = queue_name(kind), f"batch-{suffix()}"
    # The handler starts a workflow that is not registered yet: its action fails.
    workflow = f"registered_later_{suffix()}"
    start_handler(events_api, f"{kind}:{name}", workflow)
    await_consuming(runtime, f"{kind}:{name}")
    failures_before = count(runtime, f"handler_failures:{provider}")

    put_on(brokers, kind, name, message(batch, 5))
    eventually(
        lambda: count(runtime, f"handler_failures:{provider}"),
        lambda failures: failures > failures_before,
        "the handler's failure counted",
        WAIT_SECONDS,
    )
    client.register({"name": workflow, "tasks": [{"name": "noop", "taskReferenceName": "noop", "type": "NOOP"}]})

    [run] = await_started(client, workflow, batch, 1)
    assert run["input"]["n"] == 5


# -- a broker that is not configured ------------------------------------------------------


def test_a_sink_on_a_broker_that_is_not_configured_fails_the_task_naming_the_setting(client: PodiumClient) -> None:
    workflow_id = client.start(publisher(client, "kafka:orders"), {"orderId": "o", "batch": "b"})

    failed = client.wait(workflow_id, timeout=WAIT_SECONDS)

    assert failed["status"] == "FAILED"
    reason = failed["tasks"][0]["reasonForIncompletion"]
    assert reason == "'kafka:orders' names a kafka queue, but PODIUM_KAFKA_BOOTSTRAP_SERVERS is not set"


def test_a_handler_on_a_queue_podium_cannot_consume_is_reported(
    client: PodiumClient, events_api: EventResourceApi, runtime: Runtime
) -> None:
    event = f"kafka:topic_{suffix()}"
    start_handler(events_api, event, target(client))

    stats = eventually(
        lambda: broker_stats(runtime), lambda s: event in s["notConsumed"], f"{event} reported", WAIT_SECONDS
    )

    assert "PODIUM_KAFKA_BOOTSTRAP_SERVERS is not set" in stats["notConsumed"][event]
    assert event not in stats["consuming"]
