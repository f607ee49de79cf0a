"""Authentication on (PODIUM_AUTH=on): a gateway of its own, in front of the session's
shards and Redis, with an admin key from its settings; conductor-python's own token flow."""

from __future__ import annotations

import http.server
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis
import requests
from conductor.client.configuration.configuration import Configuration
from conductor.client.configuration.settings.authentication_settings import AuthenticationSettings
from conductor.client.http.models import StartWorkflowRequest, TaskResult
from conductor.client.orkes_clients import OrkesClients
from cryptography.hazmat.primitives.asymmetric import rsa

from cluster.config import Settings
from cluster.runtime import Runtime
from cluster.store import Keys, Store
from gateway.auth import tokens
from gateway.auth.authenticator import MAX_FAILURES, Authenticator
from gateway.auth.errors import AuthError
from tests.integration.auth_gateway import ADMIN_ID, ADMIN_SECRET, SIGNING_KEY, auth_gateway
from tests.integration.client import eventually
from tests.integration.conftest import REPO_ROOT

TASK_TYPE = "auth_echo"
WORKFLOW: dict[str, Any] = {
    "name": "auth_flow",
    "version": 1,
    "tasks": [{"name": TASK_TYPE, "taskReferenceName": "echo", "type": "SIMPLE"}],
}


@pytest.fixture(scope="module")
def api(podium: Runtime) -> Iterator[str]:
    with auth_gateway(podium, "podium-gateway-auth-tests") as url:
        yield url


def token_for(api: str, key_id: str, secret: str) -> str:
    answer = requests.post(f"{api}/token", json={"keyId": key_id, "keySecret": secret}, timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def as_(token: str) -> dict[str, str]:
    return {"X-Authorization": token}


@pytest.fixture(scope="module")
def admin(api: str) -> dict[str, str]:
    return as_(token_for(api, ADMIN_ID, ADMIN_SECRET))


def new_key(api: str, admin: dict[str, str], role: str) -> dict[str, Any]:
    answer = requests.post(f"{api}/auth/keys", json={"name": f"{role} key", "role": role}, headers=admin, timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_without_a_credential_the_api_answers_401_and_says_what_is_missing(api: str) -> None:
    answer = requests.get(f"{api}/metadata/workflow", timeout=30)
    assert answer.status_code == 401
    body = answer.json()
    assert "no credential" in body["message"] and "X-Authorization" in body["message"]
    assert body["error"] == "INVALID_TOKEN"


def test_health_and_the_ui_need_no_credential(api: str) -> None:
    assert requests.get(f"{api}/health", timeout=30).status_code == 200
    assert requests.get(api.removesuffix("/api") + "/health", timeout=30).status_code == 200


def test_a_token_works_in_x_authorization_and_as_a_bearer(api: str) -> None:
    token = token_for(api, ADMIN_ID, ADMIN_SECRET)
    assert requests.get(f"{api}/metadata/workflow", headers=as_(token), timeout=30).status_code == 200
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{api}/metadata/workflow", headers=bearer, timeout=30).status_code == 200


def test_a_forged_or_expired_token_is_refused(api: str) -> None:
    forged = tokens.issue(ADMIN_ID, "admin", "not-the-key" * 4, time.time(), 60)
    answer = requests.get(f"{api}/metadata/workflow", headers=as_(forged), timeout=30)
    assert (answer.status_code, answer.json()["error"]) == (401, "INVALID_TOKEN")
    assert "signature" in answer.json()["message"]
    expired = tokens.issue(ADMIN_ID, "admin", SIGNING_KEY, time.time() - 7200, 60)
    answer = requests.get(f"{api}/metadata/workflow", headers=as_(expired), timeout=30)
    assert (answer.status_code, answer.json()["error"]) == (401, "EXPIRED_TOKEN")
    garbage = requests.get(f"{api}/metadata/workflow", headers=as_("garbage"), timeout=30)
    assert garbage.status_code == 401


def test_a_wrong_secret_gets_no_token(api: str) -> None:
    answer = requests.post(f"{api}/token", json={"keyId": ADMIN_ID, "keySecret": "wrong"}, timeout=30)
    assert answer.status_code == 401
    assert answer.json()["message"] == "unknown key id or wrong secret"
    assert requests.post(f"{api}/token", json={"keyId": ADMIN_ID}, timeout=30).status_code == 400


@pytest.mark.parametrize(
    ("role", "allowed", "forbidden"),
    [
        ("user", ("GET", "/metadata/workflow"), ("POST", "/metadata/taskdefs")),
        ("metadata", ("GET", "/metadata/taskdefs"), ("POST", "/workflow")),
        ("worker", ("GET", f"/tasks/poll/{TASK_TYPE}"), ("POST", "/workflow")),
    ],
)
def test_each_role_may_what_its_table_says_and_gets_a_403_naming_it_otherwise(
    api: str, admin: dict[str, str], role: str, allowed: tuple[str, str], forbidden: tuple[str, str]
) -> None:
    key = new_key(api, admin, role)
    headers = as_(token_for(api, key["id"], key["secret"]))
    ok = requests.request(allowed[0], api + allowed[1], headers=headers, timeout=30)
    assert ok.status_code in (200, 204), ok.text
    refused = requests.request(forbidden[0], api + forbidden[1], json=[], headers=headers, timeout=30)
    assert refused.status_code == 403
    assert f"role {role} may not {forbidden[0]}" in refused.json()["message"]
    assert requests.get(f"{api}/auth/keys", headers=headers, timeout=30).status_code == 403


def test_keys_are_listed_without_secrets_and_revoking_one_stops_its_tokens(api: str, admin: dict[str, str]) -> None:
    key = new_key(api, admin, "user")
    listed = requests.get(f"{api}/auth/keys", headers=admin, timeout=30).json()
    mine = next(entry for entry in listed if entry["id"] == key["id"])
    assert set(mine) == {"id", "name", "role", "createTime"}
    headers = as_(token_for(api, key["id"], key["secret"]))
    assert requests.get(f"{api}/metadata/workflow", headers=headers, timeout=30).status_code == 200

    assert requests.delete(f"{api}/auth/keys/{key['id']}", headers=admin, timeout=30).status_code == 204
    again = requests.post(f"{api}/token", json={"keyId": key["id"], "keySecret": key["secret"]}, timeout=30)
    assert again.status_code == 401
    eventually(
        lambda: requests.get(f"{api}/metadata/workflow", headers=headers, timeout=30).status_code,
        lambda status: status == 401,
        "the revoked key's token refused",
        15,
    )
    assert requests.delete(f"{api}/auth/keys/{key['id']}", headers=admin, timeout=30).status_code == 404


def test_conductor_python_trades_its_key_and_runs_a_workflow(api: str, admin: dict[str, str]) -> None:
    key = new_key(api, admin, "admin")
    configuration = Configuration(
        server_api_url=api, authentication_settings=AuthenticationSettings(key_id=key["id"], key_secret=key["secret"])
    )
    clients = OrkesClients(configuration)
    registered = requests.post(f"{api}/metadata/workflow?overwrite=true", json=WORKFLOW, headers=admin, timeout=30)
    registered.raise_for_status()
    workflow_id = clients.get_workflow_client().start_workflow(StartWorkflowRequest(name="auth_flow", input={"x": 1}))
    task_client = clients.get_task_client()
    task = eventually(lambda: task_client.poll_task(TASK_TYPE, worker_id="auth-test"), bool, "a task to poll", 30)
    task_client.update_task(
        TaskResult(workflow_instance_id=workflow_id, task_id=task.task_id, status="COMPLETED", output_data={"ok": 1})
    )
    done = eventually(
        lambda: clients.get_workflow_client().get_workflow(workflow_id, include_tasks=False),
        lambda workflow: workflow.status == "COMPLETED",
        "the workflow completes",
        30,
    )
    assert done.output == {"ok": 1}


def _forget_failures(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        counters = client.keys(Keys.auth_failures("*", "*"))
        if counters:
            client.delete(*counters)


def test_repeated_wrong_secrets_are_answered_429_with_retry_after(api: str, podium: Runtime) -> None:
    _forget_failures(podium.redis_url)  # earlier tests' wrong secrets came from this address too
    body = {"keyId": "key_flood", "keySecret": "wrong"}
    statuses = [requests.post(f"{api}/token", json=body, timeout=30).status_code for _ in range(MAX_FAILURES + 1)]
    try:
        assert statuses[:MAX_FAILURES] == [401] * MAX_FAILURES
        assert statuses[-1] == 429
        answer = requests.post(f"{api}/token", json=body, timeout=30)
        assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1
    finally:
        # The address counter would lock this machine out of POST /api/token for a minute.
        _forget_failures(podium.redis_url)


@pytest.mark.asyncio(loop_scope="function")
async def test_secrets_never_reach_the_log(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(auth="on", admin_key_id="admin", admin_key_secret="the-admin-secret", partitions=8)
    store = Store(redis_url, 8)
    authenticator = Authenticator(settings, store)
    await authenticator.start()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError):
        await authenticator.exchange("admin", "a-wrong-secret", "10.0.0.1")
    token = await authenticator.exchange("admin", "the-admin-secret", "10.0.0.1")
    await authenticator.principal(token)
    assert "a-wrong-secret" not in caplog.text and "the-admin-secret" not in caplog.text
    assert token not in caplog.text
    assert "failed token request from 10.0.0.1 for key id 'admin'" in caplog.text
    stored = await store.redis.hget(Keys.auth_keys, "admin")
    assert b"the-admin-secret" not in stored
    await store.close()


@pytest.mark.asyncio(loop_scope="function")
async def test_a_gateway_with_auth_on_and_no_admin_key_refuses_to_start(redis_url: str) -> None:
    store = Store(redis_url, 8)
    with pytest.raises(RuntimeError, match="PODIUM_AUTH=on needs an admin key"):
        await Authenticator(Settings(auth="on", partitions=8), store).start()
    await store.close()


def test_podium_up_with_auth_on_and_no_admin_key_stops_with_the_reason(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PODIUM_", "RAY_ADDRESS", "REDIS_URL"))}
    env.update({"PODIUM_AUTH": "on", "PODIUM_HOME": str(tmp_path), "PODIUM_PORT": "0", "PYTHONPATH": str(REPO_ROOT)})
    finished = subprocess.run(
        [sys.executable, "-m", "cluster.cli", "up", "--no-dashboard"], env=env, cwd=str(tmp_path),
        capture_output=True, text=True, timeout=180,
    )
    assert finished.returncode == 1
    assert "PODIUM_AUTH=on needs an admin key: set PODIUM_ADMIN_KEY_ID and PODIUM_ADMIN_KEY_SECRET" in finished.stderr


class JwksServer:
    """The identity provider's JWKS, served from this process to the gateway's."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        body = json.dumps(jwks).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_identity_providers_token_is_accepted_with_its_roles(podium: Runtime) -> None:
    issuer, audience = "https://idp.example/realms/podium", "podium-api"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": "k1", "use": "sig"}

    def token(**claims: Any) -> str:
        now = int(time.time())
        body = {"iss": issuer, "aud": audience, "sub": "ada", "iat": now, "exp": now + 300, **claims}
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})

    with JwksServer({"keys": [public]}) as jwks, auth_gateway(
        podium, "podium-gateway-oidc-tests",
        oidc_issuer=issuer, oidc_audience=audience, oidc_jwks_url=jwks.url,
    ) as api:
        bearer = {"Authorization": f"Bearer {token(roles=['user'])}"}
        assert requests.get(f"{api}/metadata/workflow", headers=bearer, timeout=30).status_code == 200
        refused = requests.post(f"{api}/metadata/taskdefs", json=[], headers=bearer, timeout=30)
        assert refused.status_code == 403 and "role user may not POST" in refused.json()["message"]
        wrong = requests.get(
            f"{api}/metadata/workflow", headers=as_(token(aud="another-api", roles=["user"])), timeout=30
        )
        assert wrong.status_code == 401 and "audience" in wrong.json()["message"]
        none = requests.get(f"{api}/metadata/workflow", headers=as_(token(roles=["viewer"])), timeout=30)
        assert none.status_code == 401 and "none of Podium's roles" in none.json()["message"]
