"""Checking credentials: application keys traded for tokens, Podium's tokens, and OIDC
bearer tokens from an external identity provider."""

from __future__ import annotations

import logging
import time

from cluster.config import Settings
from cluster.store import AppKey, Store
from cluster.store.auth import NO_ADMIN_KEY
from gateway.auth import keys, tokens
from gateway.auth.errors import AuthError
from gateway.auth.oidc import OidcVerifier
from gateway.auth.principal import Principal

log = logging.getLogger("podium.auth")
# Failed `POST /api/token` attempts allowed per client address and per key id in a window.
MAX_FAILURES = 10
FAILURE_WINDOW_SECONDS = 60
# How long a gateway trusts that a token's key still exists: a revoked key's tokens stop
# working within this time.
KEY_RECHECK_SECONDS = 5.0


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; try again in {retry_after} s")
        self.retry_after = retry_after


class Authenticator:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.oidc = (
            OidcVerifier(
                settings.oidc_issuer or "",
                settings.oidc_audience or "",
                settings.oidc_jwks_url or "",
                settings.oidc_role_claim,
            )
            if settings.oidc_configured
            else None
        )
        self._signing_key = settings.token_secret or ""
        self._key_seen: dict[str, float] = {}

    async def start(self) -> None:
        """Store the admin key the environment names (hashed); refuse to serve without any."""
        settings = self.settings
        if settings.admin_key_id and settings.admin_key_secret:
            await self.store.put_app_key(
                AppKey(settings.admin_key_id, "admin (PODIUM_ADMIN_KEY_ID)", "admin",
                       keys.hash_secret(settings.admin_key_secret), int(time.time() * 1000))
            )
        if not any(key.role == "admin" for key in await self.store.list_app_keys()):
            raise RuntimeError(NO_ADMIN_KEY)
        if not self._signing_key:
            self._signing_key = await self.store.shared_token_secret()

    # -- tokens for keys ------------------------------------------------------------------

    async def exchange(self, key_id: str, key_secret: str, client: str) -> str:
        """A token for a key id and its secret; AuthError if they do not match,
        TooManyAttempts after MAX_FAILURES failures from the client or for the key."""
        who = [("addr", client), ("key", key_id[:200])]
        wait = await self.store.auth_lockout(who, MAX_FAILURES)
        if wait:
            raise TooManyAttempts(wait)
        key = await self.store.get_app_key(key_id)
        # The hash is computed even for an unknown id, so a miss takes as long as a wrong secret.
        stored = key.secret_hash if key is not None else keys.hash_secret("", salt=b"\0" * 16)
        if not keys.secret_matches(key_secret, stored) or key is None:
            await self.store.record_auth_failure(who, FAILURE_WINDOW_SECONDS)
            log.warning("failed token request from %s for key id %r", client, key_id[:64])
            raise AuthError("unknown key id or wrong secret")
        return tokens.issue(key.id, key.role, self._signing_key, time.time(), self.settings.token_ttl_seconds)

    # -- requests ---------------------------------------------------------------------------

    async def principal(self, credential: str) -> Principal:
        if tokens.is_ours(credential):
            principal = tokens.verify(credential, self._signing_key, time.time())
            await self._check_key_exists(principal.subject)
            return principal
        if self.oidc is not None:
            return await self.oidc.verify(credential)
        raise AuthError("the token is not one Podium issued")

    async def _check_key_exists(self, key_id: str) -> None:
        now = time.monotonic()
        if now - self._key_seen.get(key_id, float("-inf")) < KEY_RECHECK_SECONDS:
            return
        if await self.store.get_app_key(key_id) is None:
            self._key_seen.pop(key_id, None)
            raise AuthError("the key this token was issued for has been revoked")
        self._key_seen[key_id] = now
