"""How to open the Ray dashboard: its URL, and where the token it asks for comes from.

Ray 2.60 turns token authentication on for a cluster `ray.init()` creates, so the URL
alone lands on "Authentication Token Required". The token is a shared secret that
grants running code on the cluster: `podium up` and `GET /api/admin/dashboard` say
where it is and which command prints it, never the token itself.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

# Ray's default token file (ray._private.authentication.authentication_token_setup).
DEFAULT_TOKEN_PATH = Path("~/.ray/auth_token")


@dataclass(frozen=True)
class DashboardAccess:
    url: str | None
    token_auth: bool
    token_source: str | None
    token_command: str | None

    def to_wire(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "authentication": "token" if self.token_auth else "disabled",
            "tokenSource": self.token_source,
            "tokenCommand": self.token_command,
        }

    def sign_in_hint(self) -> str | None:
        """One line for a terminal: how to answer the dashboard's token prompt."""
        if not self.token_auth:
            return None
        return f"it asks for a token: `{self.token_command}` prints it (from {self.token_source})"


def token_source(environ: Mapping[str, str] | None = None) -> str:
    """Where Ray takes the token from, in Ray's order: RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, the default file."""
    env = os.environ if environ is None else environ
    if env.get("RAY_AUTH_TOKEN"):
        return "the RAY_AUTH_TOKEN environment variable"
    if env.get("RAY_AUTH_TOKEN_PATH"):
        return str(Path(env["RAY_AUTH_TOKEN_PATH"]).expanduser())
    return str(DEFAULT_TOKEN_PATH.expanduser())


def token_command() -> str:
    """`ray get-auth-token`, with the full path of Ray's CLI when the shell would not find this one."""
    ray_cli = Path(sys.executable).with_name("ray")
    on_path = shutil.which("ray")
    if not ray_cli.exists() or (on_path is not None and Path(on_path).resolve() == ray_cli.resolve()):
        return "ray get-auth-token"
    return f"{ray_cli} get-auth-token"


def token_auth_enabled() -> bool:
    """Whether this Ray process runs with token authentication (Ray sets the mode at `ray.init`)."""
    from ray._private.authentication.authentication_utils import is_token_auth_enabled

    return bool(is_token_auth_enabled())


def dashboard_url() -> str | None:
    """The dashboard's URL as the cluster's GCS records it, so any node's process finds the head's."""
    from ray._private.services import get_webui_url_from_internal_kv

    if not ray.is_initialized():
        return None
    address = get_webui_url_from_internal_kv()
    if not address:
        return None
    return address if "://" in address else f"http://{address}"


def dashboard_access(url: str | None = None) -> DashboardAccess:
    """How to open the dashboard of the Ray cluster this process is connected to."""
    found = url or dashboard_url()
    secured = token_auth_enabled()
    return DashboardAccess(
        url=found,
        token_auth=secured,
        token_source=token_source() if secured else None,
        token_command=token_command() if secured else None,
    )
