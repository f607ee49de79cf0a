"""OIDC bearer tokens, verified against a JWKS served on 127.0.0.1 by the test (keys made
here with cryptography, tokens signed with PyJWT): what is accepted, and each way a
token is refused, with a message that names why and never holds the token."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.auth import oidc
from gateway.auth.errors import AuthError
from gateway.auth.oidc import OidcVerifier

ISSUER = "https://idp.example/realms/podium"
AUDIENCE = "podium-api"


class Provider:
    """An identity provider's JWKS endpoint, with keys that can be rotated."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0
        self.url = ""

    def add_rsa(self, kid: str) -> rsa.RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys[kid] = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig"}
        return key

    def add_ec(self, kid: str) -> ec.EllipticCurvePrivateKey:
        key = ec.generate_private_key(ec.SECP256R1())
        self.keys[kid] = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig"}
        return key

    async def jwks(self, _request: web.Request) -> web.Response:
        self.fetches += 1
        return web.json_response({"keys": list(self.keys.values())})


@pytest_asyncio.fixture(loop_scope="function")
async def provider() -> AsyncIterator[Provider]:
    served = Provider()
    app = web.Application()
    app.router.add_get("/jwks", served.jwks)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    served.url = f"http://127.0.0.1:{port}/jwks"
    yield served
    await runner.cleanup()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": "ada", "exp": now + 300, "iat": now, "roles": ["user"], **overrides}


def sign(key: Any, kid: str, algorithm: str = "RS256", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm=algorithm, headers={"kid": kid})


def verifier(provider: Provider, role_claim: str = "roles") -> OidcVerifier:
    return OidcVerifier(ISSUER, AUDIENCE, provider.url, role_claim)


async def refused(check: OidcVerifier, token: str) -> str:
    with pytest.raises(AuthError) as raised:
        await check.verify(token)
    assert token not in raised.value.message
    return raised.value.message


@pytest.mark.asyncio(loop_scope="function")
async def test_a_token_signed_by_the_provider_is_accepted_with_its_roles(provider: Provider) -> None:
    key = provider.add_rsa("k1")
    principal = await verifier(provider).verify(sign(key, "k1", roles=["user", "worker", "unrelated"]))
    assert (principal.subject, principal.roles, principal.via) == ("ada", frozenset({"user", "worker"}), "oidc")


@pytest.mark.asyncio(loop_scope="function")
async def test_ec_keys_and_space_separated_roles_work(provider: Provider) -> None:
    key = provider.add_ec("e1")
    principal = await verifier(provider, "scope").verify(sign(key, "e1", "ES256", scope="openid metadata"))
    assert principal.roles == frozenset({"metadata"})


@pytest.mark.asyncio(loop_scope="function")
async def test_keycloak_realm_roles_are_read(provider: Provider) -> None:
    key = provider.add_rsa("k1")
    token = sign(key, "k1", roles=None, realm_access={"roles": ["admin", "offline_access"]})
    assert (await verifier(provider).verify(token)).roles == frozenset({"admin"})


@pytest.mark.asyncio(loop_scope="function")
async def test_the_jwks_is_fetched_once_and_cached(provider: Provider) -> None:
    key = provider.add_rsa("k1")
    check = verifier(provider)
    for _ in range(3):
        await check.verify(sign(key, "k1"))
    assert provider.fetches == 1


@pytest.mark.asyncio(loop_scope="function")
async def test_a_wrong_issuer_is_refused_and_named(provider: Provider) -> None:
    key = provider.add_rsa("k1")
    message = await refused(verifier(provider), sign(key, "k1", iss="https://evil.example"))
    assert "'https://evil.example'" in message and ISSUER in message


@pytest.mark.asyncio(loop_scope="function")
async def test_a_wrong_audience_is_refused(provider: Provider) -> None:
    key = provider.add_rsa("k1")
    assert "audience" in await refused(verifier(provider), sign(key, "k1", aud="another-api"))


@pytest.mark.asyncio(loop_scope="function")
async def test_an_expired_token_is_refused_beyond_the_leeway(provider: Provider) -> None:
    key = provider.add_rsa("k1")
    check = verifier(provider)
    await check.verify(sign(key, "k1", exp=int(time.time()) - oidc.LEEWAY_SECONDS // 2))  # within the leeway
    assert "expired" in await refused(check, sign(key, "k1", exp=int(time.time()) - oidc.LEEWAY_SECONDS - 60))


@pytest.mark.asyncio(loop_scope="function")
async def test_a_token_not_valid_yet_is_refused(provider: Provider) -> None:
    key = provider.add_rsa("k1")
    assert "not valid yet" in await refused(verifier(provider), sign(key, "k1", nbf=int(time.time()) + 3600))


@pytest.mark.asyncio(loop_scope="function")
async def test_a_token_signed_by_another_key_is_refused(provider: Provider) -> None:
    provider.add_rsa("k1")
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert "signature" in await refused(verifier(provider), sign(impostor, "k1"))


@pytest.mark.asyncio(loop_scope="function")
async def test_an_unknown_kid_is_refused_then_a_rotated_key_is_picked_up(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider.add_rsa("k1")
    check = verifier(provider)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert "no signing key with kid 'k9'" in await refused(check, sign(stranger, "k9"))
    assert provider.fetches == 1
    # Within REFETCH_SECONDS a second unknown kid does not fetch again.
    assert "kid 'k8'" in await refused(check, sign(stranger, "k8"))
    assert provider.fetches == 1
    # The provider rotates in a new key; once the refetch interval has passed it is found.
    rotated = provider.add_rsa("k2")
    monkeypatch.setattr(oidc, "REFETCH_SECONDS", 0.0)
    assert (await check.verify(sign(rotated, "k2"))).subject == "ada"
    assert provider.fetches == 2


@pytest.mark.asyncio(loop_scope="function")
async def test_alg_none_is_refused(provider: Provider) -> None:
    provider.add_rsa("k1")
    token = jwt.encode(claims(), "", algorithm="none", headers={"kid": "k1"})
    assert "'none'" in await refused(verifier(provider), token)


@pytest.mark.asyncio(loop_scope="function")
async def test_hmac_with_the_public_key_as_secret_is_refused(provider: Provider) -> None:
    """The classic algorithm confusion: HS256 keyed with the provider's public key."""
    key = provider.add_rsa("k1")
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Signed by hand: PyJWT itself refuses to use a PEM public key as an HMAC secret.
    token = _hmac_token(public_pem)
    assert "'HS256'" in await refused(verifier(provider), token)


def _hmac_token(secret: bytes) -> str:
    import base64
    import hashlib
    import hmac

    def encode(part: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=")

    signing_input = encode({"alg": "HS256", "typ": "JWT", "kid": "k1"}) + b"." + encode(claims())
    signature = base64.urlsafe_b64encode(hmac.new(secret, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


@pytest.mark.asyncio(loop_scope="function")
async def test_an_algorithm_that_does_not_fit_the_key_is_refused(provider: Provider) -> None:
    provider.add_rsa("k1")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    assert "does not fit" in await refused(verifier(provider), sign(ec_key, "k1", "ES256"))


@pytest.mark.asyncio(loop_scope="function")
async def test_a_token_without_podiums_roles_is_refused(provider: Provider) -> None:
    key = provider.add_rsa("k1")
    message = await refused(verifier(provider), sign(key, "k1", roles=["viewer"]))
    assert "none of Podium's roles" in message and "'roles'" in message


@pytest.mark.asyncio(loop_scope="function")
async def test_garbage_is_refused_as_malformed(provider: Provider) -> None:
    assert "well-formed" in await refused(verifier(provider), "not-a-jwt")


@pytest.mark.asyncio(loop_scope="function")
async def test_an_unreachable_provider_is_an_auth_error_not_a_crash() -> None:
    check = OidcVerifier(ISSUER, AUDIENCE, "http://127.0.0.1:9/jwks")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert "could not be read" in await refused(check, sign(key, "k1"))
