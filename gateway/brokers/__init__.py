"""Event queues on brokers: EVENT tasks publish to them, event handlers consume from them.

The gateway actor hosts both directions, beside the event processor of Podium's own event
bus (gateway/event_processor.py), because handling a broker message needs exactly what that
processor has (the router, the API's start and task-update paths) and publishing needs a
process that may wait on a broker without holding up a shard's turn:

- `publisher.py`, `BrokerPublisher`: EVENT task messages for a broker sink leave the
  shard in the step's checkpoint, in the broker outbox (cluster/store/brokers.py); every
  gateway reads it as one consumer group, publishes each message, then completes the task.
- `consumers.py`, `BrokerConsumers`: one consumer per broker queue that an active event
  handler listens on, running the handlers through the event processor, acknowledging the
  broker message once their actions are durable.
- one provider per broker, each in its own module (`amqp.py`, `nats.py`, `sqs.py`,
  `kafka.py`) behind `base.Provider`; `Brokers` makes each on first use from the settings.
"""

from __future__ import annotations

from cluster.config import ENV_VARS, Settings
from gateway.brokers.base import Address, BrokerError, BrokerMessage, NotConfigured, Provider, parse_address

__all__ = ["Address", "BrokerError", "BrokerMessage", "Brokers", "NotConfigured", "Provider", "parse_address"]


def missing_setting(settings: Settings, provider: str) -> str | None:
    """The environment variable to set before `provider` can be used, or None if it is set."""
    if provider == "amqp" and not settings.amqp_url:
        return ENV_VARS["amqp_url"]
    if provider == "nats" and not settings.nats_url:
        return ENV_VARS["nats_url"]
    if provider == "sqs" and not (settings.sqs_endpoint_url or settings.sqs_region):
        return f"{ENV_VARS['sqs_endpoint_url']} or {ENV_VARS['sqs_region']}"
    if provider == "kafka" and not settings.kafka_bootstrap_servers:
        return ENV_VARS["kafka_bootstrap_servers"]
    return None


class Brokers:
    """The providers of one gateway process, made on first use from its settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._providers: dict[str, Provider] = {}

    def provider(self, address: Address) -> Provider:
        """The provider serving `address`; NotConfigured if its setting is not set."""
        name = address.provider
        found = self._providers.get(name)
        if found is not None:
            return found
        setting = missing_setting(self.settings, name)
        if setting is not None:
            raise NotConfigured(address, setting)
        made = self._make(name)
        self._providers[name] = made
        return made

    def _make(self, name: str) -> Provider:
        settings = self.settings
        # Imported here: a gateway loads only the clients of the brokers it uses.
        if name == "amqp":
            from gateway.brokers.amqp import AmqpProvider

            assert settings.amqp_url
            return AmqpProvider(settings.amqp_url)
        if name == "nats":
            from gateway.brokers.nats import NatsProvider

            assert settings.nats_url
            return NatsProvider(settings.nats_url)
        if name == "sqs":
            from gateway.brokers.sqs import SqsProvider

            return SqsProvider(
                settings.sqs_endpoint_url,
                settings.sqs_region,
                settings.sqs_access_key_id,
                settings.sqs_secret_access_key,
            )
        from gateway.brokers.kafka import KafkaProvider

        assert settings.kafka_bootstrap_servers
        return KafkaProvider(settings.kafka_bootstrap_servers)

    async def close(self) -> None:
        for provider in self._providers.values():
            await provider.close()
        self._providers.clear()
