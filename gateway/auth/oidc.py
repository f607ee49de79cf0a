"""Bearer tokens from an external OAuth2 / OpenID Connect identity provider.

A token is accepted when it is a JWT signed with a key from the provider's JWKS
(RS*, PS* or ES*: never `none`, never an HMAC whose secret would be the public key), its
`iss` is the configured issuer, its `aud` holds the configured audience, it has not
expired and is already valid (`nbf`), within a small leeway for clock skew. Its roles
come from one claim (a list, or a space-separated string like OAuth2's `scope`), or
from Keycloak's `realm_access.roles`; only Podium's roles count.

The JWKS is fetched once and cached; a token naming a key id the cache lacks (the
provider rotated its keys) fetches it again, at most once per `REFETCH_SECONDS`, so a
stream of forged key ids cannot make the gateway hammer the provider.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import jwt

from gateway.auth.errors import AuthError
from gateway.auth.principal import Principal

ROLES = frozenset({"admin", "user", "metadata", "worker"})
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
KEY_TYPE_OF_ALGORITHM = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
LEEWAY_SECONDS = 30
REFETCH_SECONDS = 30.0
FETCH_TIMEOUT_SECONDS = 5.0


class OidcVerifier:
    def __init__(self, issuer: str, audience: str, jwks_url: str, role_claim: str = "roles") -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.role_claim = role_claim
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise AuthError("the bearer token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            raise AuthError(f"tokens signed with {algorithm!r} are not accepted; expected one of RS*, PS*, ES*")
        key = await self._key(header.get("kid"))
        # The algorithm must fit the key: an RSA key signs RS*/PS*, an EC key ES*.
        if KEY_TYPE_OF_ALGORITHM[algorithm[:2]] != key.key_type:
            raise AuthError(f"the token's algorithm {algorithm} does not fit its {key.key_type} signing key")
        claims = self._decode(token, key, algorithm)
        roles = self._roles(claims)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthError("the token has no subject ('sub')")
        return Principal(subject=subject, roles=roles, via="oidc")

    def _decode(self, token: str, key: jwt.PyJWK, algorithm: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("the token is not valid yet ('nbf' or 'iat' is in the future)") from None
        except jwt.InvalidIssuerError:
            raise AuthError(f"the token's issuer {self._unverified(token, 'iss')!r} is not {self.issuer!r}") from None
        except jwt.InvalidAudienceError:
            raise AuthError(f"the token is not for audience {self.audience!r}") from None
        except jwt.MissingRequiredClaimError as error:
            raise AuthError(f"the token has no {error.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise AuthError("the token's signature does not verify") from None
        except jwt.InvalidTokenError as error:
            raise AuthError(f"the token is not valid: {type(error).__name__}") from None
        return claims

    @staticmethod
    def _unverified(token: str, claim: str) -> Any:
        try:
            return jwt.decode(token, options={"verify_signature": False}).get(claim)
        except jwt.InvalidTokenError:
            return None

    def _roles(self, claims: dict[str, Any]) -> frozenset[str]:
        raw = claims.get(self.role_claim)
        if raw is None and isinstance(claims.get("realm_access"), dict):
            raw = claims["realm_access"].get("roles")  # Keycloak
        if isinstance(raw, str):
            named = raw.split()
        elif isinstance(raw, list):
            named = [role for role in raw if isinstance(role, str)]
        else:
            named = []
        roles = frozenset(named) & ROLES
        if not roles:
            raise AuthError(
                f"the token has none of Podium's roles ({', '.join(sorted(ROLES))}) in claim {self.role_claim!r}"
            )
        return roles

    async def _key(self, kid: Any) -> jwt.PyJWK:
        if not isinstance(kid, str) or not kid:
            raise AuthError("the token names no signing key ('kid' in its header)")
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at >= REFETCH_SECONDS:
                await self._fetch()
        key = self._keys.get(kid)
        if key is None:
            raise AuthError(f"no signing key with kid {kid!r} in the identity provider's JWKS")
        return key

    async def _fetch(self) -> None:
        self._fetched_at = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http, http.get(self.jwks_url) as response:
                response.raise_for_status()
                document = json.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise AuthError(f"the identity provider's keys could not be read ({type(error).__name__})") from None
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or "kid" not in entry:
                continue
            try:
                keys[entry["kid"]] = jwt.PyJWK(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue  # a key type or curve this library cannot use: skip it, keep the rest
        self._keys = keys
