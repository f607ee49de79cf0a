"""The one exception credential checks raise."""

from __future__ import annotations

# The `error` field of a 401, which conductor-python reads to decide whether to trade its
# key for a new token and try again (AuthorizationException.token_expired / invalid_token).
EXPIRED_TOKEN = "EXPIRED_TOKEN"
INVALID_TOKEN = "INVALID_TOKEN"


class AuthError(Exception):
    """A credential was missing, malformed, expired or not recognised.

    ``message`` is shown to the client, so it never contains the credential itself;
    ``code`` is Conductor's machine-readable reason.
    """

    def __init__(self, message: str, code: str = INVALID_TOKEN) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
