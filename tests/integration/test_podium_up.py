"""`podium up` as a user runs it: it comes up, serves, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from cluster.redis_server import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def _processes(pattern: str) -> set[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return {int(pid) for pid in found.stdout.split()}


def _redis_pid(log: Path) -> int:
    match = re.search(r"pid=(\d+), just started", log.read_text())
    assert match, log.read_text()[-2000:]
    return int(match.group(1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def _start_up(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`podium up ARGS` as a user runs it, and its banner up to "Press Ctrl-C"."""
    up = subprocess.Popen(
        [sys.executable, "-m", "cluster.cli", "up", *args],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    banner = []
    assert up.stdout is not None
    for line in up.stdout:
        banner.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    return up, "".join(banner)


def test_podium_up_serves_and_ctrl_c_stops_everything_it_started(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    rays_before = _processes("raylet") | _processes("gcs_server")
    env = {**os.environ, "PODIUM_HOME": str(home), "PODIUM_PORT": str(port), "PYTHONPATH": str(REPO_ROOT)}
    env.pop("RAY_ADDRESS", None)
    env.pop("REDIS_URL", None)
    up, text = _start_up(["--no-dashboard", "--workers", "examples.workers"], env)
    try:
        assert f"API:            http://127.0.0.1:{port}/api" in text, text
        health = requests.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
        assert health["healthy"] is True
        assert len(health["shards"]) == 2
        redis_pid = _redis_pid(home / "redis" / "redis.log")
        os.kill(redis_pid, 0)  # its embedded Redis is running
    finally:
        up.send_signal(signal.SIGINT)
        rest, _ = up.communicate(timeout=120)
    assert up.returncode == 0, rest
    assert "Stopping Podium" in rest
    # Nothing it started survives: its Redis and its Ray cluster are gone.
    assert not _alive(redis_pid)
    deadline = time.monotonic() + 60
    while (_processes("raylet") | _processes("gcs_server")) - rays_before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not (_processes("raylet") | _processes("gcs_server")) - rays_before


def test_podium_up_prints_how_to_sign_in_to_the_ray_dashboard(tmp_path: Path) -> None:
    port, dashboard_port = free_port(), free_port()
    env = {
        **os.environ,
        "PODIUM_HOME": str(tmp_path / "home"),
        "PODIUM_PORT": str(port),
        "PODIUM_DASHBOARD_PORT": str(dashboard_port),
        "PYTHONPATH": str(REPO_ROOT),
    }
    # Ray's own default for a cluster `ray.init()` makes: token authentication, token in ~/.ray.
    for name in ("RAY_ADDRESS", "REDIS_URL", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        env.pop(name, None)
    up, text = _start_up([], env)
    try:
        found = re.search(r"Ray dashboard:\s+(\S+)\n\s+it asks for a token: `([^`]+)` prints it \(from (.+)\)\n", text)
        assert found, text
        url, command, source = found.groups()
        assert url == f"http://127.0.0.1:{dashboard_port}"
        assert source == str(Path("~/.ray/auth_token").expanduser())

        printed = subprocess.run(shlex.split(command), env=env, capture_output=True, text=True, timeout=120)
        assert printed.returncode == 0, printed.stderr
        token = printed.stdout.strip()
        # What the dashboard's "Authentication Token Required" dialog does with what it is given.
        sign_in = f"{url}/api/authenticate"
        assert requests.post(sign_in, timeout=30).status_code == 401
        assert requests.post(sign_in, headers={"Authorization": "Bearer wrong"}, timeout=30).status_code == 403
        accepted = requests.post(sign_in, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert accepted.status_code == 200, accepted.text

        access = requests.get(f"http://127.0.0.1:{port}/api/admin/dashboard", timeout=30).json()
        assert access == {"url": url, "authentication": "token", "tokenSource": source, "tokenCommand": command}
    finally:
        up.send_signal(signal.SIGINT)
        rest, _ = up.communicate(timeout=120)
    assert up.returncode == 0, rest
