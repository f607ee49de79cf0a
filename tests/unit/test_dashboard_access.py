"""Where `podium up` says the Ray dashboard's token comes from: Ray's own order of sources."""

from __future__ import annotations

from pathlib import Path

from cluster.dashboard import DashboardAccess, token_source


def test_token_source_follows_rays_order() -> None:
    default = str(Path("~/.ray/auth_token").expanduser())
    assert token_source({}) == default
    assert token_source({"RAY_AUTH_TOKEN_PATH": "/run/secrets/ray"}) == "/run/secrets/ray"
    assert token_source({"RAY_AUTH_TOKEN": "abc", "RAY_AUTH_TOKEN_PATH": "/run/secrets/ray"}) == (
        "the RAY_AUTH_TOKEN environment variable"
    )
    assert token_source({"RAY_AUTH_TOKEN": "", "RAY_AUTH_TOKEN_PATH": ""}) == default


def test_no_sign_in_hint_without_token_authentication() -> None:
    open_dashboard = DashboardAccess("http://127.0.0.1:8265", token_auth=False, token_source=None, token_command=None)
    assert open_dashboard.sign_in_hint() is None
    assert open_dashboard.to_wire() == {
        "url": "http://127.0.0.1:8265", "authentication": "disabled", "tokenSource": None, "tokenCommand": None,
    }
