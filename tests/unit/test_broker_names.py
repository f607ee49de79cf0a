"""How event queue names map to brokers and their options (gateway/brokers/), as Conductor's
providers read them: AMQPSettings.fromURI, the NATS providers' `subject:queueGroup`, the
JetStream stream name, SQS queue names; and which setting turns each broker on."""

from __future__ import annotations

import pytest

from cluster.config import Settings
from gateway.brokers import Brokers, NotConfigured, missing_setting, parse_address
from gateway.brokers.amqp import AmqpSettings
from gateway.brokers.base import Address, BrokerError, redelivery_delay
from gateway.brokers.nats import durable_name, split_subject, stream_name


def address(event: str) -> Address:
    found = parse_address(event)
    assert found is not None
    return found


@pytest.mark.parametrize("event", ["conductor:wf:ref", "orders", "pubsub:topic", "", "amqp_queue"])
def test_names_that_are_not_broker_queues(event: str) -> None:
    assert parse_address(event) is None


@pytest.mark.parametrize(
    ("event", "provider", "name"),
    [
        ("amqp:orders", "amqp", "orders"),
        ("amqp_queue:orders?durable=false", "amqp", "orders?durable=false"),
        ("amqp_exchange:ex?routingKey=a.b", "amqp", "ex?routingKey=a.b"),
        ("nats:a.b:group", "nats", "a.b:group"),
        ("nats_stream:a.b", "nats", "a.b"),
        ("jsm:a.b", "nats", "a.b"),
        ("sqs:payments", "sqs", "payments"),
        ("kafka:topic", "kafka", "topic"),
    ],
)
def test_broker_queue_names(event: str, provider: str, name: str) -> None:
    found = address(event)
    assert (found.provider, found.name, found.event) == (provider, name, event)


def test_an_amqp_queue_takes_conductors_defaults() -> None:
    settings = AmqpSettings.of(address("amqp_queue:orders"))
    assert settings.name == "orders"
    assert not settings.exchange
    assert (settings.durable, settings.exclusive, settings.auto_delete) == (True, False, False)
    assert settings.delivery_mode == 2


def test_an_amqp_exchange_reads_its_options_case_insensitively() -> None:
    settings = AmqpSettings.of(
        address(
            "amqp_exchange:ex?exchangeType=direct&ROUTINGKEY=created&bindQueueName=mine&durable=false"
            "&autoDelete=true&deliveryMode=1&maxPriority=5"
        )
    )
    assert settings.exchange
    assert (settings.name, settings.exchange_type, settings.routing_key, settings.bind_queue) == (
        "ex",
        "direct",
        "created",
        "mine",
    )
    assert (settings.durable, settings.auto_delete, settings.delivery_mode) == (False, True, 1)
    assert settings.arguments == {"x-max-priority": 5}


def test_an_exchange_without_bind_queue_name_binds_bound_to_it() -> None:
    assert AmqpSettings.of(address("amqp_exchange:ex")).bind_queue == "bound_to_ex"


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ("amqp_queue:?durable=true", "names no queue or exchange"),
        ("amqp_queue:q?deliveryMode=3", "deliveryMode must be 1 or 2"),
        ("amqp_queue:q?maxPriority=high", "invalid literal"),
        ("amqp_exchange:ex?exchangeType=", "the exchange type is empty"),
    ],
)
def test_bad_amqp_options_name_the_problem(event: str, problem: str) -> None:
    with pytest.raises(BrokerError) as caught:
        AmqpSettings.of(address(event))
    assert problem in str(caught.value)


def test_nats_subjects_queue_groups_and_stream_names() -> None:
    assert split_subject(address("nats:orders.created:workers")) == ("orders.created", "workers")
    assert split_subject(address("nats_stream:orders.*")) == ("orders.*", None)
    assert stream_name("orders.*.x.>") == "ORDERS_ANY_X_ALL"
    assert durable_name(None) == "podium"
    assert durable_name("my.group") == "podium_my_group"


@pytest.mark.parametrize(
    ("provider", "missing"),
    [
        ("amqp", "PODIUM_AMQP_URL"),
        ("nats", "PODIUM_NATS_URL"),
        ("sqs", "PODIUM_SQS_ENDPOINT_URL or PODIUM_SQS_REGION"),
        ("kafka", "PODIUM_KAFKA_BOOTSTRAP_SERVERS"),
    ],
)
def test_each_broker_needs_its_setting(provider: str, missing: str) -> None:
    assert missing_setting(Settings(), provider) == missing


def test_a_sink_on_a_broker_that_is_not_configured_names_the_setting() -> None:
    with pytest.raises(NotConfigured) as caught:
        Brokers(Settings()).provider(address("sqs:payments"))
    assert str(caught.value) == (
        "'sqs:payments' names a sqs queue, but PODIUM_SQS_ENDPOINT_URL or PODIUM_SQS_REGION is not set"
    )


def test_a_region_alone_turns_sqs_on() -> None:
    assert missing_setting(Settings(sqs_region="eu-west-1"), "sqs") is None


def test_redelivery_delays_grow_and_stop_at_thirty_seconds() -> None:
    assert [redelivery_delay(n) for n in (1, 2, 3, 10)] == [0.5, 1.0, 2.0, 30.0]
