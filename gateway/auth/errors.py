"""The one exception credential checks raise."""

from __future__ import annotations


class AuthError(Exception):
    """A credential was missing, malformed, expired or not recognised.

    ``message`` is shown to the client, so it never contains the credential itself.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
