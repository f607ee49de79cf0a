"""A gateway with authentication on, in front of the session Podium's shards and Redis:
for the tests of authentication (tests/integration/test_auth.py, the UI's sign-in)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import ray

from cluster.runtime import Runtime
from gateway.actor import Gateway

ADMIN_ID, ADMIN_SECRET = "admin-tests", "admin-secret-for-tests-0123456789"
SIGNING_KEY = "signing-key-for-the-auth-tests-0123456789abcdef"


@contextmanager
def auth_gateway(podium: Runtime, name: str, **overrides: Any) -> Iterator[str]:
    """The API URL of a gateway with PODIUM_AUTH=on and the test admin key."""
    settings = replace(
        podium.settings, auth="on", admin_key_id=ADMIN_ID, admin_key_secret=ADMIN_SECRET,
        token_secret=SIGNING_KEY, port=0, **overrides,
    )
    gateway = Gateway.options(name=name, namespace=settings.namespace).remote(  # type: ignore[attr-defined]
        settings, podium.redis_url, False
    )
    try:
        yield ray.get(gateway.address.remote()) + "/api"
    finally:
        ray.kill(gateway, no_restart=True)
