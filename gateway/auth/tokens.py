"""The tokens `POST /api/token` hands out: JWTs signed with the gateways' shared key
(HS256, issuer `podium`), naming the key they were traded for and its role."""

from __future__ import annotations

from typing import Any

import jwt

from gateway.auth.errors import EXPIRED_TOKEN, AuthError
from gateway.auth.keys import ROLES
from gateway.auth.principal import Principal

ISSUER = "podium"
ALGORITHM = "HS256"


def issue(key_id: str, role: str, signing_key: str, now: float, ttl_seconds: int) -> str:
    claims = {"iss": ISSUER, "sub": key_id, "role": role, "iat": int(now), "exp": int(now) + ttl_seconds}
    return jwt.encode(claims, signing_key, algorithm=ALGORITHM)


def is_ours(token: str) -> bool:
    """Whether `token` claims to be one of Podium's own (else it may be an OIDC token)."""
    try:
        return bool(jwt.decode(token, options={"verify_signature": False}).get("iss") == ISSUER)
    except jwt.InvalidTokenError:
        return False


def verify(token: str, signing_key: str, now: float) -> Principal:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            # Time is checked below, against `now`, not the wall clock.
            options={"require": ["exp", "iss", "sub"], "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidSignatureError:
        raise AuthError("the token's signature does not verify (was it made by another Podium?)") from None
    except jwt.InvalidTokenError:
        raise AuthError("the token is not one Podium issued") from None
    if int(claims["exp"]) <= now:
        raise AuthError("the token has expired: trade the key for a new one at POST /api/token", EXPIRED_TOKEN)
    role = claims.get("role")
    if role not in ROLES:
        raise AuthError("the token names no role Podium knows")
    return Principal(subject=str(claims["sub"]), roles=frozenset({role}), via="key")
