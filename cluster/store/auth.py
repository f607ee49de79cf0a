"""Application keys, the token signing key and failed-attempt counters (`auth:` keys).

A key's secret is never stored: only its salted hash (gateway/auth/keys.py makes and
checks it). Listing keys never returns the hash either.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from cluster.store.base import StoreBase
from cluster.store.keys import Keys

NO_ADMIN_KEY = (
    "PODIUM_AUTH=on needs an admin key: set PODIUM_ADMIN_KEY_ID and PODIUM_ADMIN_KEY_SECRET "
    "(none is stored in this Redis yet); see docs/auth.md"
)


@dataclass(frozen=True)
class AppKey:
    id: str
    name: str
    role: str
    secret_hash: str
    create_time: int

    def public(self) -> dict[str, Any]:
        """What the API and the CLI show: everything but the hash."""
        return {"id": self.id, "name": self.name, "role": self.role, "createTime": self.create_time}

    def to_json(self) -> bytes:
        return orjson.dumps({**self.public(), "hash": self.secret_hash})

    @staticmethod
    def from_json(raw: bytes | str) -> AppKey:
        data = orjson.loads(raw)
        return AppKey(data["id"], data["name"], data["role"], data["hash"], int(data["createTime"]))


def has_admin_key(client: Any) -> bool:
    """Whether a key of role admin is stored (a blocking redis-py client, for `podium up`)."""
    return any(AppKey.from_json(raw).role == "admin" for raw in client.hvals(Keys.auth_keys))


class AuthStore(StoreBase):
    async def put_app_key(self, key: AppKey) -> None:
        await self.redis.hset(Keys.auth_keys, key.id, key.to_json())

    async def add_app_key(self, key: AppKey) -> bool:
        """Store a new key; False (and nothing written) if its id is taken."""
        return bool(await self.redis.hsetnx(Keys.auth_keys, key.id, key.to_json()))

    async def get_app_key(self, key_id: str) -> AppKey | None:
        raw = await self.redis.hget(Keys.auth_keys, key_id)
        return None if raw is None else AppKey.from_json(raw)

    async def list_app_keys(self) -> list[AppKey]:
        keys = [AppKey.from_json(raw) for raw in (await self.redis.hgetall(Keys.auth_keys)).values()]
        return sorted(keys, key=lambda key: (key.create_time, key.id))

    async def revoke_app_key(self, key_id: str) -> bool:
        return bool(await self.redis.hdel(Keys.auth_keys, key_id))

    async def shared_token_secret(self) -> str:
        """The signing key every gateway shares when none is configured: the first gateway
        to ask makes it; the rest read that one."""
        await self.redis.set(Keys.auth_token_secret, secrets.token_urlsafe(48), nx=True)
        raw = await self.redis.get(Keys.auth_token_secret)
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def auth_lockout(self, who: list[tuple[str, str]], limit: int) -> int:
        """Seconds until the first of `who` ((kind, id) pairs) may try again, 0 if none has
        reached `limit` failures in its window."""
        wait = 0
        for kind, name in who:
            key = Keys.auth_failures(kind, name)
            count = await self.redis.get(key)
            if count is not None and int(count) >= limit:
                wait = max(wait, int(await self.redis.ttl(key)), 1)
        return wait

    async def record_auth_failure(self, who: list[tuple[str, str]], window_seconds: int) -> None:
        """Count one failed attempt for each of `who`; a count lasts `window_seconds` from
        its first failure."""
        pipe = self.redis.pipeline(transaction=False)
        for kind, name in who:
            key = Keys.auth_failures(kind, name)
            # SET NX starts the window at the first failure; INCR keeps the expiry it set
            # (EXPIRE NX would do it in one, but needs Redis 7).
            pipe.set(key, 0, ex=window_seconds, nx=True)
            pipe.incr(key)
        await pipe.execute()
