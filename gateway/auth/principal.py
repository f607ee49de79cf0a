"""Who a request acts as, once its credential has been checked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    subject: str  # key id, or the OIDC 'sub'
    roles: frozenset[str]
    via: str  # "key" | "oidc"
