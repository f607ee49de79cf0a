"""Settings.from_env: defaults, overrides and error messages that name the variable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cluster.config import ENV_VARS, Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The developer's shell may export REDIS_URL or RAY_ADDRESS; tests must not see them.
    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults(tmp_path: Path) -> None:
    s = Settings.from_env()
    assert s.redis_url is None
    assert s.embedded_redis
    assert s.ray_address is None
    assert s.home == (tmp_path / ".podium").resolve()
    assert s.home.is_absolute()
    assert s.redis_dir == s.home / "redis"
    assert s.host == "127.0.0.1"
    assert s.port == 8080
    assert s.shards == 2
    assert s.partitions == 0  # the count the Redis holds, or DEFAULT_PARTITIONS for a new one
    assert s.lease_ms == 10_000
    assert s.max_payload_bytes == 1_048_576
    assert s.redis_port == 0
    assert s.dashboard_port == 8265
    assert s.log_level == "INFO"
    assert s.event_redelivery_ms == 30_000


def test_every_variable_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {
        "REDIS_URL": "redis://cache:6380/2",
        "RAY_ADDRESS": "ray://head:10001",
        "PODIUM_HOME": str(tmp_path / "state"),
        "PODIUM_HOST": "0.0.0.0",
        "PODIUM_PORT": "9000",
        "PODIUM_SHARDS": "8",
        "PODIUM_IDLE_SECONDS": "2.5",
        "PODIUM_SCRIPT_TIMEOUT_MS": "500",
        "PODIUM_SCRIPT_MAX_MEMORY_MB": "32",
        "PODIUM_PARTITIONS": "64",
        "PODIUM_MAX_PAYLOAD_BYTES": "2048",
        "PODIUM_REDIS_PORT": "6390",
        "PODIUM_DASHBOARD_PORT": "0",
        "PODIUM_LOG_LEVEL": "debug",
        "PODIUM_NAMESPACE": "podium-blue",
        "PODIUM_GATEWAY_RESOURCE": "podium_gateway",
        "PODIUM_EVENT_REDELIVERY_MS": "5000",
        "PODIUM_LEASE_MS": "4000",
        "PODIUM_SHARDS_PER_NODE": "3",
        "PODIUM_REDIS_CLUSTER": "yes",
        "PODIUM_REDIS_APPENDFSYNC": "always",
        "PODIUM_AMQP_URL": "amqp://guest:guest@rabbit:5672/",
        "PODIUM_NATS_URL": "nats://nats:4222",
        "PODIUM_SQS_ENDPOINT_URL": "http://sqs:9324",
        "PODIUM_SQS_REGION": "eu-west-1",
        "PODIUM_SQS_ACCESS_KEY_ID": "key",
        "PODIUM_SQS_SECRET_ACCESS_KEY": "secret",
        "PODIUM_KAFKA_BOOTSTRAP_SERVERS": "kafka1:9092,kafka2:9092",
        "PODIUM_AUTH": "ON",
        "PODIUM_ADMIN_KEY_ID": "admin",
        "PODIUM_ADMIN_KEY_SECRET": "s3cret",
        "PODIUM_TOKEN_SECRET": "signing",
        "PODIUM_TOKEN_TTL_SECONDS": "600",
        "PODIUM_OIDC_ISSUER": "https://idp.example",
        "PODIUM_OIDC_AUDIENCE": "podium",
        "PODIUM_OIDC_JWKS_URL": "https://idp.example/jwks",
        "PODIUM_OIDC_ROLE_CLAIM": "groups",
    }
    assert set(env) == set(ENV_VARS.values())
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = Settings.from_env()
    assert s == Settings(
        redis_url="redis://cache:6380/2",
        ray_address="ray://head:10001",
        home=tmp_path / "state",
        host="0.0.0.0",
        port=9000,
        shards=8,
        idle_seconds=2.5,
        script_timeout_ms=500,
        script_max_memory_mb=32,
        partitions=64,
        max_payload_bytes=2048,
        redis_port=6390,
        dashboard_port=0,
        log_level="DEBUG",
        namespace="podium-blue",
        gateway_resource="podium_gateway",
        event_redelivery_ms=5000,
        lease_ms=4000,
        shards_per_node=3,
        redis_cluster=True,
        redis_appendfsync="always",
        amqp_url="amqp://guest:guest@rabbit:5672/",
        nats_url="nats://nats:4222",
        sqs_endpoint_url="http://sqs:9324",
        sqs_region="eu-west-1",
        sqs_access_key_id="key",
        sqs_secret_access_key="secret",
        kafka_bootstrap_servers="kafka1:9092,kafka2:9092",
        auth="on",
        admin_key_id="admin",
        admin_key_secret="s3cret",
        token_secret="signing",
        token_ttl_seconds=600,
        oidc_issuer="https://idp.example",
        oidc_audience="podium",
        oidc_jwks_url="https://idp.example/jwks",
        oidc_role_claim="groups",
    )
    assert not s.embedded_redis


def test_an_unknown_fsync_policy_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="PODIUM_REDIS_APPENDFSYNC='sometimes': use one of everysec, always"):
        Settings.from_env({"PODIUM_REDIS_APPENDFSYNC": "sometimes"})


def test_explicit_mapping_instead_of_os_environ() -> None:
    s = Settings.from_env({"PODIUM_PORT": " 8181 ", "PODIUM_SHARDS": "3"})
    assert (s.port, s.shards) == (8181, 3)


def test_relative_home_is_resolved_against_cwd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PODIUM_HOME", "data/../node1")
    assert Settings.from_env().home == tmp_path.resolve() / "node1"


def test_home_expands_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PODIUM_HOME", "~/podium")
    assert Settings.from_env().home == tmp_path.resolve() / "podium"


@pytest.mark.parametrize("var", ["REDIS_URL", "PODIUM_PORT", "PODIUM_LOG_LEVEL", "RAY_ADDRESS"])
def test_empty_variable_means_default(monkeypatch: pytest.MonkeyPatch, var: str) -> None:
    monkeypatch.setenv(var, "  ")
    assert Settings.from_env() == Settings()


@pytest.mark.parametrize(
    "var",
    [
        "PODIUM_PORT",
        "PODIUM_SHARDS",
        "PODIUM_PARTITIONS",
        "PODIUM_MAX_PAYLOAD_BYTES",
        "PODIUM_REDIS_PORT",
        "PODIUM_DASHBOARD_PORT",
    ],
)
@pytest.mark.parametrize("bad", ["abc", "80.5", "0x50", "8 0"])
def test_non_integer_is_rejected_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, bad: str
) -> None:
    monkeypatch.setenv(var, bad)
    with pytest.raises(ValueError, match=var) as info:
        Settings.from_env()
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("PODIUM_PORT", "65536"),
        ("PODIUM_PORT", "-1"),
        ("PODIUM_REDIS_PORT", "70000"),
        ("PODIUM_DASHBOARD_PORT", "-5"),
        ("PODIUM_SHARDS", "0"),
        ("PODIUM_PARTITIONS", "-1"),
        ("PODIUM_MAX_PAYLOAD_BYTES", "0"),
        ("PODIUM_EVENT_REDELIVERY_MS", "0"),
    ],
)
def test_out_of_range_is_rejected_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError, match=var):
        Settings.from_env()


def test_bad_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_LOG_LEVEL", "LOUD")
    with pytest.raises(ValueError, match="PODIUM_LOG_LEVEL"):
        Settings.from_env()


def test_bad_redis_url_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "localhost:6379")
    with pytest.raises(ValueError, match="REDIS_URL"):
        Settings.from_env()


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ValueError, match="PODIUM_PORT"):
        Settings(port=99999)
    with pytest.raises(ValueError, match="PODIUM_SHARDS"):
        Settings(shards=True)


def test_frozen() -> None:
    s = Settings.from_env()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]


def test_every_field_has_an_env_var() -> None:
    assert {f.name for f in dataclasses.fields(Settings)} == set(ENV_VARS)


def test_a_ray_token_in_the_environment_turns_token_auth_on_unless_a_mode_is_given() -> None:
    from cluster.config import use_given_ray_token

    given = {"RAY_AUTH_TOKEN": "secret"}
    use_given_ray_token(given)
    assert given["RAY_AUTH_MODE"] == "token"
    from_file = {"RAY_AUTH_TOKEN_PATH": "/etc/ray/token"}
    use_given_ray_token(from_file)
    assert from_file["RAY_AUTH_MODE"] == "token"
    explicit = {"RAY_AUTH_TOKEN": "secret", "RAY_AUTH_MODE": "disabled"}
    use_given_ray_token(explicit)
    assert explicit["RAY_AUTH_MODE"] == "disabled"
    none: dict[str, str] = {}
    use_given_ray_token(none)
    assert "RAY_AUTH_MODE" not in none


def test_a_redis_password_never_reaches_the_banner() -> None:
    from cluster.config import without_password

    assert without_password("redis://:s3cret@podium-redis:6379/0") == "redis://:***@podium-redis:6379/0"
    assert without_password("rediss://default:s3cret@cache.example:6380/1") == "rediss://default:***@cache.example:6380/1"
    assert without_password("redis://127.0.0.1:6399/0") == "redis://127.0.0.1:6399/0"


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("PODIUM_IDLE_SECONDS", "soon", "PODIUM_IDLE_SECONDS must be a number, got 'soon'"),
        ("PODIUM_IDLE_SECONDS", "-1", "PODIUM_IDLE_SECONDS must be a number of seconds >= 0"),
        ("PODIUM_SCRIPT_TIMEOUT_MS", "0", "PODIUM_SCRIPT_TIMEOUT_MS"),
        ("PODIUM_SCRIPT_MAX_MEMORY_MB", "lots", "PODIUM_SCRIPT_MAX_MEMORY_MB"),
    ],
)
def test_shard_settings_are_checked_when_podium_starts(variable: str, value: str, complaint: str) -> None:
    """Read where `podium up` runs and handed to every shard: a bad value stops the start,
    naming the variable, instead of failing the first step that needs it."""
    with pytest.raises(ValueError, match=complaint):
        Settings.from_env({variable: value})


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({"PODIUM_AUTH": "maybe"}, "PODIUM_AUTH='maybe': use one of off, on"),
        ({"PODIUM_ADMIN_KEY_ID": "admin"}, "set PODIUM_ADMIN_KEY_ID and PODIUM_ADMIN_KEY_SECRET together"),
        ({"PODIUM_OIDC_ISSUER": "https://idp"}, "OIDC needs PODIUM_OIDC_AUDIENCE, PODIUM_OIDC_JWKS_URL as well"),
    ],
)
def test_auth_settings_are_checked_by_name(environ: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Settings.from_env(environ)


def test_secrets_stay_out_of_the_settings_repr() -> None:
    settings = Settings(admin_key_id="admin", admin_key_secret="s3cret-value", token_secret="signing-value")
    assert "s3cret-value" not in repr(settings) and "signing-value" not in repr(settings)
