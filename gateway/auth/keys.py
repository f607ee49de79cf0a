"""Application keys: ids, secrets, and the salted hash that is all Redis keeps of a secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ROLES = ("admin", "user", "metadata", "worker")
# scrypt's cost: about 50 ms per check on this project's 2-core machine, paid only when a
# key is traded for a token, never per request.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def new_key_id() -> str:
    return f"key_{secrets.token_hex(8)}"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$<salt>$<hash>`, base64: what a key's record holds."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    encode = base64.urlsafe_b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def secret_matches(secret: str, stored: str) -> bool:
    """Whether `secret` hashes to `stored`, compared in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.scrypt(
            secret.encode(), salt=base64.urlsafe_b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
