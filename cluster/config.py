"""Process-wide settings for a Podium node, read once from environment variables.

Every knob an operator can turn lives here so that the CLI, the gateway and the
tests agree on names and defaults. ``Settings`` is frozen: it is built once at start
and handed to Ray actors, which must all see the same values.

An empty variable (``PODIUM_PORT=``) counts as unset, because env files and
Kubernetes manifests often declare a variable with no value to mean "default".
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_PARTITIONS", "ENV_VARS", "Settings", "use_given_ray_token"]

# Partitions of a new Redis: enough that shards on many nodes each get an even share.
DEFAULT_PARTITIONS = 256

# Field name -> environment variable. Kept in one table so error messages from
# __post_init__ (which may run on a directly-constructed Settings) still name the
# variable an operator would actually change.
ENV_VARS: dict[str, str] = {
    "redis_url": "REDIS_URL",
    "ray_address": "RAY_ADDRESS",
    "home": "PODIUM_HOME",
    "host": "PODIUM_HOST",
    "port": "PODIUM_PORT",
    "shards": "PODIUM_SHARDS",
    "idle_seconds": "PODIUM_IDLE_SECONDS",
    "script_timeout_ms": "PODIUM_SCRIPT_TIMEOUT_MS",
    "script_max_memory_mb": "PODIUM_SCRIPT_MAX_MEMORY_MB",
    "partitions": "PODIUM_PARTITIONS",
    "max_payload_bytes": "PODIUM_MAX_PAYLOAD_BYTES",
    "redis_port": "PODIUM_REDIS_PORT",
    "dashboard_port": "PODIUM_DASHBOARD_PORT",
    "log_level": "PODIUM_LOG_LEVEL",
    "namespace": "PODIUM_NAMESPACE",
    "gateway_resource": "PODIUM_GATEWAY_RESOURCE",
    "event_redelivery_ms": "PODIUM_EVENT_REDELIVERY_MS",
    "lease_ms": "PODIUM_LEASE_MS",
    "shards_per_node": "PODIUM_SHARDS_PER_NODE",
    "redis_cluster": "PODIUM_REDIS_CLUSTER",
    "redis_appendfsync": "PODIUM_REDIS_APPENDFSYNC",
    "amqp_url": "PODIUM_AMQP_URL",
    "nats_url": "PODIUM_NATS_URL",
    "sqs_endpoint_url": "PODIUM_SQS_ENDPOINT_URL",
    "sqs_region": "PODIUM_SQS_REGION",
    "sqs_access_key_id": "PODIUM_SQS_ACCESS_KEY_ID",
    "sqs_secret_access_key": "PODIUM_SQS_SECRET_ACCESS_KEY",
    "kafka_bootstrap_servers": "PODIUM_KAFKA_BOOTSTRAP_SERVERS",
    "auth": "PODIUM_AUTH",
    "admin_key_id": "PODIUM_ADMIN_KEY_ID",
    "admin_key_secret": "PODIUM_ADMIN_KEY_SECRET",
    "token_secret": "PODIUM_TOKEN_SECRET",
    "token_ttl_seconds": "PODIUM_TOKEN_TTL_SECONDS",
    "oidc_issuer": "PODIUM_OIDC_ISSUER",
    "oidc_audience": "PODIUM_OIDC_AUDIENCE",
    "oidc_jwks_url": "PODIUM_OIDC_JWKS_URL",
    "oidc_role_claim": "PODIUM_OIDC_ROLE_CLAIM",
}

APPENDFSYNC_POLICIES = ("everysec", "always")
AUTH_MODES = ("off", "on")

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class Settings:
    """Configuration of one Podium node. Build it with :meth:`Settings.from_env`."""

    redis_url: str | None = None
    """Redis to keep all durable state in (``REDIS_URL``). ``None`` starts the embedded
    Redis under ``home``. One Podium instance per Redis database: keys are not
    prefixed per instance. It may be a Redis Cluster (see ``redis_cluster``)."""

    ray_address: str | None = None
    """Ray cluster to join (``RAY_ADDRESS``, e.g. ``auto`` or ``ray://head:10001``).
    ``None`` starts a local single-node Ray for development."""

    home: Path = Path(".podium")
    """Directory for local state (``PODIUM_HOME``): the embedded Redis data and log.
    Always stored absolute, because Ray workers do not share the driver's cwd."""

    host: str = "127.0.0.1"
    """Interface the HTTP gateway binds to (``PODIUM_HOST``); ``0.0.0.0`` to expose it."""

    port: int = 8080
    """TCP port of the HTTP gateway (``PODIUM_PORT``); 0 picks a free port (tests)."""

    shards: int = 2
    """Number of ``WorkflowShard`` actors hosting workflow executions (``PODIUM_SHARDS``)
    when Podium starts; ``podium scale --shards N`` changes it while it runs."""

    partitions: int = 0
    """Fixed count of workflow-id partitions (``PODIUM_PARTITIONS``), the unit that moves
    between shards. Chosen once at cluster creation: changing it later re-hashes every
    workflow id to another partition, so an existing Redis keeps the value it was created
    with. ``0`` (the default) means that value, or ``DEFAULT_PARTITIONS`` for a new Redis;
    any other value must match it. Many more partitions than shards keeps the load even
    as shards come and go."""

    max_payload_bytes: int = 1_048_576
    """Largest HTTP request body the gateway accepts (``PODIUM_MAX_PAYLOAD_BYTES``);
    larger bodies are answered with 413 before they are parsed."""

    redis_port: int = 0
    """Port for the embedded Redis (``PODIUM_REDIS_PORT``); 0 picks a free port.
    Ignored when ``redis_url`` is set."""

    dashboard_port: int = 8265
    """Port of the Ray dashboard when Podium starts a local Ray (``PODIUM_DASHBOARD_PORT``)."""

    log_level: str = "INFO"
    """Python logging level name for Podium's loggers (``PODIUM_LOG_LEVEL``)."""

    namespace: str = "podium"
    """Ray namespace of this node's named actors (``PODIUM_NAMESPACE``): two Podium
    instances, each with its own Redis database, can share one Ray cluster under
    different namespaces."""

    gateway_resource: str | None = None
    """A Ray custom resource the gateway actor needs one unit of
    (``PODIUM_GATEWAY_RESOURCE``), to pin it to the node its Service points at, e.g.
    the head node of a KubeRay cluster started with ``--resources='{"podium_gateway": 1}'``."""

    event_redelivery_ms: int = 30_000
    """How long a message of the event bus may stay received but unacknowledged by an event
    processor before another one claims it and handles it again (``PODIUM_EVENT_REDELIVERY_MS``):
    the time a processor that died mid-message holds it up."""

    lease_ms: int = 10_000
    """How long a shard's lease on its partitions lasts without renewal (``PODIUM_LEASE_MS``):
    the time before the partitions of a shard that stopped answering (a lost node, a paused
    process) are taken over by the others. Renewed every quarter of it (at most every second)."""

    idle_seconds: float = 30.0
    """How long an execution with nothing to do stays in a shard's memory before it is
    passivated (``PODIUM_IDLE_SECONDS``, fractions allowed). Executions whose only active
    tasks are WAIT, HUMAN or SUB_WORKFLOW leave memory at once regardless."""

    script_timeout_ms: int = 2000
    """Time limit of one JavaScript evaluation (``PODIUM_SCRIPT_TIMEOUT_MS``): SWITCH or
    DECISION with javascript, INLINE, LAMBDA, a DO_WHILE ``loopCondition``."""

    script_max_memory_mb: int = 64
    """V8 heap limit of one JavaScript evaluation (``PODIUM_SCRIPT_MAX_MEMORY_MB``)."""

    shards_per_node: int | None = None
    """Shards on each live Ray node (``PODIUM_SHARDS_PER_NODE``). When set, it replaces
    ``shards``: a node that joins gets this many new shards, and the shards of a node that
    leaves are retired, their partitions handed to the others."""

    redis_cluster: bool = False
    """Whether ``REDIS_URL`` is a Redis Cluster (``PODIUM_REDIS_CLUSTER``). ``podium up``
    asks the Redis and sets it; set it only to insist. On a cluster each shard turn
    writes one partition's slot and carries its other writes out afterwards, through the
    partition's outbox (cluster/store/outbox.py)."""

    redis_appendfsync: str = "everysec"
    """When the embedded Redis flushes its append-only file to disk
    (``PODIUM_REDIS_APPENDFSYNC``): ``everysec`` (a power loss or kernel crash can lose
    about the last second of writes) or ``always`` (before each write is acknowledged;
    nothing acknowledged is lost, at the cost docs/performance.md measures)."""

    amqp_url: str | None = None
    """RabbitMQ (AMQP 0-9-1) broker for `amqp:`, `amqp_queue:` and `amqp_exchange:` event
    queues (``PODIUM_AMQP_URL``, e.g. ``amqp://guest:guest@localhost:5672/``). Unset:
    EVENT tasks with such a sink fail, and handlers on such events are not consumed."""

    nats_url: str | None = None
    """NATS server for `nats:` and `nats_stream:`/`jsm:` (JetStream) event queues
    (``PODIUM_NATS_URL``, e.g. ``nats://localhost:4222``)."""

    sqs_endpoint_url: str | None = None
    """Endpoint of the SQS API for `sqs:` event queues (``PODIUM_SQS_ENDPOINT_URL``), for an
    SQS-compatible server; with ``sqs_region`` alone Amazon's endpoint for the region is used.
    Credentials come from the usual AWS variables (``AWS_ACCESS_KEY_ID``, ...)."""

    sqs_region: str | None = None
    """AWS region of the SQS queues (``PODIUM_SQS_REGION``); setting it or the endpoint turns
    `sqs:` queues on (``us-east-1`` when only the endpoint is set)."""

    sqs_access_key_id: str | None = None
    """Access key for SQS (``PODIUM_SQS_ACCESS_KEY_ID``), with ``sqs_secret_access_key``;
    unset, the AWS SDK's own chain is used (``AWS_ACCESS_KEY_ID``, profiles, instance roles)."""

    sqs_secret_access_key: str | None = field(default=None, repr=False)
    """Secret of ``sqs_access_key_id`` (``PODIUM_SQS_SECRET_ACCESS_KEY``)."""

    kafka_bootstrap_servers: str | None = None
    """Kafka brokers for `kafka:` sinks (``PODIUM_KAFKA_BOOTSTRAP_SERVERS``, e.g.
    ``localhost:9092``, comma-separated). Podium publishes to Kafka; it does not consume."""

    auth: str = "off"
    """Whether the API asks for credentials (``PODIUM_AUTH``, ``off`` or ``on``); see docs/auth.md."""

    admin_key_id: str | None = None
    """Id of an admin application key stored (hashed) at every gateway start
    (``PODIUM_ADMIN_KEY_ID``), with ``admin_key_secret``: the first key of a new cluster."""

    admin_key_secret: str | None = field(default=None, repr=False)
    """Secret of ``admin_key_id`` (``PODIUM_ADMIN_KEY_SECRET``)."""

    token_secret: str | None = field(default=None, repr=False)
    """Key that signs the tokens ``POST /api/token`` hands out (``PODIUM_TOKEN_SECRET``).
    Unset: one is generated and kept in Redis, so every gateway accepts every token."""

    token_ttl_seconds: int = 3600
    """How long a token from ``POST /api/token`` is accepted (``PODIUM_TOKEN_TTL_SECONDS``)."""

    oidc_issuer: str | None = None
    """Issuer (``iss``) of OIDC bearer tokens from an external identity provider
    (``PODIUM_OIDC_ISSUER``); with ``oidc_audience`` and ``oidc_jwks_url`` it turns them on."""

    oidc_audience: str | None = None
    """Audience (``aud``) OIDC tokens must name (``PODIUM_OIDC_AUDIENCE``)."""

    oidc_jwks_url: str | None = None
    """Where the identity provider publishes its signing keys (``PODIUM_OIDC_JWKS_URL``)."""

    oidc_role_claim: str = "roles"
    """Claim of an OIDC token that lists its Podium roles (``PODIUM_OIDC_ROLE_CLAIM``)."""

    def __post_init__(self) -> None:
        # Validate here rather than only in from_env so a Settings built in code
        # (tests, embedding) cannot carry values the cluster would choke on later.
        for name in ("port", "redis_port", "dashboard_port"):
            _check_range(name, getattr(self, name), 0, 65535)
        for name in ("shards", "max_payload_bytes", "event_redelivery_ms", "script_timeout_ms", "script_max_memory_mb"):
            _check_range(name, getattr(self, name), 1, None)
        if not self.idle_seconds >= 0:
            raise ValueError(f"{ENV_VARS['idle_seconds']} must be a number of seconds >= 0, got {self.idle_seconds!r}")
        _check_range("partitions", self.partitions, 0, None)
        _check_range("lease_ms", self.lease_ms, 1000, None)
        if self.shards_per_node is not None:
            _check_range("shards_per_node", self.shards_per_node, 1, None)
        if not self.host:
            raise ValueError(f"{ENV_VARS['host']} must not be empty")
        if self.redis_appendfsync not in APPENDFSYNC_POLICIES:
            allowed = ", ".join(APPENDFSYNC_POLICIES)
            raise ValueError(f"{ENV_VARS['redis_appendfsync']}={self.redis_appendfsync!r}: use one of {allowed}")
        level = self.log_level.strip().upper()
        if level not in logging.getLevelNamesMapping():
            known = ", ".join(sorted(logging.getLevelNamesMapping()))
            raise ValueError(f"{ENV_VARS['log_level']}={self.log_level!r} is not a log level ({known})")
        auth = self.auth.strip().lower()
        if auth not in AUTH_MODES:
            raise ValueError(f"{ENV_VARS['auth']}={self.auth!r}: use one of {', '.join(AUTH_MODES)}")
        object.__setattr__(self, "auth", auth)
        _check_range("token_ttl_seconds", self.token_ttl_seconds, 1, None)
        if (self.admin_key_id is None) != (self.admin_key_secret is None):
            raise ValueError(f"set {ENV_VARS['admin_key_id']} and {ENV_VARS['admin_key_secret']} together")
        oidc = {name: getattr(self, name) for name in ("oidc_issuer", "oidc_audience", "oidc_jwks_url")}
        if any(oidc.values()) and not all(oidc.values()):
            missing = ", ".join(ENV_VARS[name] for name, value in oidc.items() if not value)
            raise ValueError(f"OIDC needs {missing} as well")
        if self.redis_url is not None and not self.redis_url.startswith(_REDIS_SCHEMES):
            raise ValueError(
                f"{ENV_VARS['redis_url']}={self.redis_url!r} must start with one of "
                f"{', '.join(_REDIS_SCHEMES)}"
            )
        # frozen=True blocks normal assignment; normalising in place is still the
        # simplest way to make every constructor path yield canonical values.
        object.__setattr__(self, "log_level", level)
        object.__setattr__(self, "home", Path(self.home).expanduser().resolve())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``).

        Raises ``ValueError`` naming the offending variable when a value is malformed.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_VARS[f.name])
            if raw is None or not raw.strip():
                continue
            raw = raw.strip()
            # Annotations are strings under `from __future__ import annotations`;
            # accept the class too so the check survives that import being removed.
            if f.type in ("int", int, "int | None"):
                values[f.name] = _parse_int(f.name, raw)
            elif f.type in ("float", float):
                values[f.name] = _parse_float(f.name, raw)
            elif f.type in ("bool", bool):
                values[f.name] = _parse_bool(f.name, raw)
            elif f.type in ("Path", Path):
                values[f.name] = Path(raw)
            else:
                values[f.name] = raw
        return cls(**values)

    @property
    def redis_dir(self) -> Path:
        """Where the embedded Redis keeps its append-only file and log."""
        return self.home / "redis"

    @property
    def auth_on(self) -> bool:
        return self.auth == "on"

    @property
    def oidc_configured(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_audience and self.oidc_jwks_url)

    @property
    def embedded_redis(self) -> bool:
        """Whether this node must start its own Redis (no ``REDIS_URL`` given)."""
        return self.redis_url is None


def _parse_float(field: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{ENV_VARS[field]} must be a number, got {raw!r}") from None


def _parse_int(field: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{ENV_VARS[field]}={raw!r} is not an integer") from None


def _parse_bool(field: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{ENV_VARS[field]}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def _check_range(field: str, value: int, low: int, high: int | None) -> None:
    # bool is an int subclass; Settings(port=True) is always a mistake.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{ENV_VARS[field]} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{ENV_VARS[field]}={value} must be {bounds}")


def use_given_ray_token(environ: dict[str, str] | Any = None) -> None:
    """Ray 2.60 turns token authentication on for clusters made with `ray start`, but a
    driver joining one by address uses a token only when `RAY_AUTH_MODE=token` says so:
    a token given in the environment is taken as saying it. Ray reads the mode when it is
    imported, so this runs before."""
    env = os.environ if environ is None else environ
    if env.get("RAY_AUTH_TOKEN") or env.get("RAY_AUTH_TOKEN_PATH"):
        env.setdefault("RAY_AUTH_MODE", "token")


def without_password(url: str) -> str:
    """`url` fit for a log or a banner: a password in it is replaced by `***`."""
    parts = urllib.parse.urlsplit(url)
    if not parts.password:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
