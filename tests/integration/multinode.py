"""A real multi-node Ray cluster on one machine, for tests that add and lose nodes.

Every node is a separate `ray start` (a GCS + raylet on the head, a raylet on every other node), so
the raylets, object stores and worker pools are real and separate, and killing one raylet makes Ray
see a node die exactly as it would on a real cluster.

The pytest session already has a local Ray (`ray.init(num_cpus=2)` in conftest.py) and a process can
be connected to only one Ray cluster, so the code that talks to this cluster runs in a *driver
subprocess* (`run_driver` / `start_driver`). Everything here is plain functions and classes with no
pytest dependency, importable from any Python process (`tests.integration.multinode`, with the repo
root on PYTHONPATH, which `driver_env()` provides).

Usage::

    with MultiNodeRay(tmp_path) as cluster:
        worker = cluster.add_node("w1")             # custom resource {"node_w1": 1}
        result = cluster.run_driver("import ray; ray.init(); ...", timeout=120)
        cluster.kill_raylet(worker)                 # SIGKILL; GCS marks it dead in ~3 s
    # every process of this cluster is gone here; the session's own Ray is untouched

Token authentication
--------------------
Ray 2.60 has token authentication (`RAY_AUTH_MODE=token`). How the installed Ray decides
(ray/_private/authentication/authentication_token_setup.py, ray/scripts/scripts.py, worker.py):

* `ray.init()` starting a *local* cluster enables token auth by default when `RAY_AUTH_MODE` is
  unset: it sets `RAY_AUTH_MODE=token` in its own `os.environ` and generates `~/.ray/auth_token`
  if missing. So once the pytest session has run, `~/.ray/auth_token` exists.
* `ray start --head` with `RAY_AUTH_MODE` unset turns token auth on iff a token is available
  (`RAY_AUTH_TOKEN`, the file named by `RAY_AUTH_TOKEN_PATH`, or `~/.ray/auth_token`) — i.e. on
  this machine a head started "plainly" silently runs with auth on.
* `ray.init(address=<explicit address>)` never auto-enables auth (only `address=None/"auto"`
  does), so a driver without `RAY_AUTH_MODE=token` sends no token and the GCS answers
  "Unauthenticated: ... Authentication token is missing or incorrect"; after ~20 s of retries
  `ray.init` raises `ConnectionError: Failed to connect to Ray cluster`.
* The mode can only be set by the `RAY_AUTH_MODE` environment variable (not `--system-config`),
  and must be the same on every node. Token precedence: `RAY_AUTH_TOKEN` (the value itself) >
  `RAY_AUTH_TOKEN_PATH` (a file) > `~/.ray/auth_token`.

What this fixture does (what an operator does for a real cluster): it generates a fresh random
token per cluster (`secrets.token_hex(32)`, the same as Ray's own generator) and puts
`RAY_AUTH_MODE=token` and `RAY_AUTH_TOKEN=<token>` into the environment of every `ray start` and of
every driver (`driver_env()`), and drops any inherited `RAY_AUTH_TOKEN_PATH`. Nothing is written to
`~/.ray`, and the cluster doesn't depend on whatever token file the machine has. (Pass
`auth=False` to run with `RAY_AUTH_MODE=disabled` instead.)

Fast node-death detection
-------------------------
A raylet killed with SIGKILL cannot unregister; the GCS finds out through its health checks, and
with Ray's defaults (`health_check_initial_delay_ms=5000`, `health_check_period_ms=3000`,
`health_check_timeout_ms=10000`, `health_check_failure_threshold=5`) that takes 15 s or more.
The head is started with `--system-config` (the GCS reads these; the same keys work as
`RAY_health_check_period_ms`-style environment variables of the head's `ray start`)::

    health_check_initial_delay_ms = 1000
    health_check_period_ms        = 1000
    health_check_timeout_ms       = 1000
    health_check_failure_threshold = 3

so a killed node is reported `Alive: False` ("health check failed due to missing too many
heartbeats") about 3 s after the kill. They are `MultiNodeRay(system_config=...)` defaults and can
be overridden. Don't go much lower on a loaded 2-core machine: a live but slow raylet that misses
`threshold` checks in a row is declared dead for good.

Isolation and cleanup
---------------------
* Every node has its own `--temp-dir` (`<root>/<node name>`), so nothing goes to `/tmp/ray` and
  nothing collides with the session's own Ray or with another node. Ray's Unix socket paths
  (`<temp dir>/session_<timestamp>_<pid>/sockets/plasma_store`) must fit in 107 bytes, so node
  temp dirs must be short (<= 40 characters): a pytest `tmp_path` is usually too long, and then the
  cluster lives in a short `mkdtemp` under `/tmp` and a `ray-cluster` symlink in `base_dir` points
  to it (for the logs).
* Ports: the GCS port, the Ray client server port, the dashboard port and every node's
  node-manager and dashboard-agent ports are chosen free (bind port 0) instead of Ray's fixed
  defaults (6379, 10001, 8265, 52365 — the dashboard agent's 52365 would clash between nodes and
  with the session's Ray). Workers bind OS-chosen ports (`--min-worker-port=0
  --max-worker-port=0`). Choosing a free port and using it is racy; `ray start` is retried with
  new ports if it fails.
* The processes of a node are found through an environment marker: each `ray start` runs with
  `PODIUM_MULTINODE_CLUSTER=<root>` and `PODIUM_MULTINODE_NODE=<name>`, which every process it
  spawns inherits (GCS, raylet, dashboard agent, runtime-env agent, log monitor, autoscaler
  monitor, and all Ray workers, which get the raylet's environment). Most of these rename
  themselves (`ray::DashboardAgent`, `ray::IDLE`), so their command lines are useless, but
  `/proc/<pid>/environ` is not. `stop()` kills the processes carrying this cluster's marker, plus
  anything whose command line mentions the cluster root, plus descendants of those; it never uses
  `ray stop`, which kills every Ray process on the machine, including the session's own cluster.
  The raylet of a node is the process with that marker whose executable is `.../raylet`; its
  command line also carries `--node_manager_port=<port>` and `--node_id=<hex>`, which are checked.
* Inherited `RAY_*` variables (e.g. `RAY_AUTH_MODE` and `RAY_ADDRESS` left in `os.environ` by the
  session's `ray.init`) are removed from the environment of `ray start` and of drivers; only this
  module's settings and the caller's `env` are passed.
* Linux only (`/proc`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

CLUSTER_MARKER_ENV = "PODIUM_MULTINODE_CLUSTER"
NODE_MARKER_ENV = "PODIUM_MULTINODE_NODE"
RESULT_PREFIX = "MULTINODE_RESULT "
HEAD = "head"

# The GCS reads these; see "Fast node-death detection" above.
FAST_HEALTH_CHECKS: dict[str, Any] = {
    "health_check_initial_delay_ms": 1000,
    "health_check_period_ms": 1000,
    "health_check_timeout_ms": 1000,
    "health_check_failure_threshold": 3,
}

_NODE_NAME = re.compile(r"^[A-Za-z0-9_]{1,16}$")
# session_<YYYY-mm-dd_HH-MM-SS_ffffff>_<pid> plus "/sockets/plasma_store" inside a 107-byte sun_path.
_MAX_NODE_DIR_LEN = 40


class MultiNodeError(RuntimeError):
    pass


@dataclass
class NodeHandle:
    """One `ray start` of a MultiNodeRay cluster."""

    name: str
    temp_dir: Path
    node_manager_port: int
    node_id: str
    raylet_pid: int
    resources: dict[str, float] = field(default_factory=dict)
    is_head: bool = False
    killed: bool = False

    @property
    def resource(self) -> str:
        """The custom resource only this node has: schedule on it with `resources={res: 0.01}`."""
        return f"node_{self.name}"

    @property
    def logs_dir(self) -> Path:
        return self.temp_dir / "session_latest" / "logs"


# ---------------------------------------------------------------------------------------------
# /proc helpers (no psutil in this venv)


@dataclass(frozen=True)
class _Proc:
    pid: int
    ppid: int
    state: str
    cmdline: list[str]
    environ: dict[str, str]

    @property
    def exe_name(self) -> str:
        return os.path.basename(self.cmdline[0]) if self.cmdline else ""


def _read_proc(pid: int) -> _Proc | None:
    base = f"/proc/{pid}"
    try:
        with open(f"{base}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        # "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        with open(f"{base}/cmdline", "rb") as f:
            cmdline = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        environ: dict[str, str] = {}
        try:
            with open(f"{base}/environ", "rb") as f:
                for item in f.read().split(b"\0"):
                    key, sep, value = item.partition(b"=")
                    if sep:
                        environ[key.decode(errors="replace")] = value.decode(errors="replace")
        except PermissionError:
            pass
    except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError, IndexError):
        return None
    return _Proc(pid=pid, ppid=int(ppid), state=state, cmdline=cmdline, environ=environ)


def _all_procs() -> list[_Proc]:
    procs = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            proc = _read_proc(int(entry))
            if proc is not None:
                procs.append(proc)
    return procs


def _alive(pid: int) -> bool:
    """True while the pid exists and is not a zombie (Ray's daemons are reparented to pid 1,
    which may not reap them at once)."""
    proc = _read_proc(pid)
    return proc is not None and proc.state not in ("Z", "X")


def _kill(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    remaining = [p for p in pids if _alive(p)]
    while remaining and time.monotonic() < deadline:
        time.sleep(0.05)
        remaining = [p for p in remaining if _alive(p)]
    return remaining


def _free_port(taken: set[int]) -> int:
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("", 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port
    raise MultiNodeError("no free port found")


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1, what: str = "condition") -> None:
    """Poll `predicate` until it is true; raise TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# The cluster


class MultiNodeRay:
    """A head node plus any number of extra nodes, each a real `ray start` on this machine.

    `base_dir` is where the cluster's temp dirs (and logs) go; `None` means a fresh dir under /tmp.
    `keep_dir=True` keeps the temp dirs (logs) after `stop()`.
    """

    def __init__(
        self,
        base_dir: Path | str | None = None,
        *,
        head_num_cpus: int = 1,
        head_resources: Mapping[str, float] | None = None,
        object_store_mb: int = 128,
        system_config: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        auth: bool = True,
        keep_dir: bool = False,
        start_timeout: float = 90.0,
    ) -> None:
        self._base_dir = Path(base_dir) if base_dir is not None else None
        self._head_num_cpus = head_num_cpus
        self._head_resources = dict(head_resources or {})
        self._object_store_bytes = object_store_mb * 1024 * 1024
        self.system_config: dict[str, Any] = {**FAST_HEALTH_CHECKS, **(system_config or {})}
        self._extra_env = dict(env or {})
        self.auth = auth
        self.token = secrets.token_hex(32) if auth else ""
        self._keep_dir = keep_dir
        self._start_timeout = start_timeout
        self._ports: set[int] = set()
        self._symlink: Path | None = None
        self.root: Path | None = None
        self.node_ip = "127.0.0.1"
        self.gcs_port = 0
        self.head: NodeHandle | None = None
        self.nodes: dict[str, NodeHandle] = {}
        self._driver_count = 0
        self._drivers: list[subprocess.Popen[str]] = []

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """The GCS address, for `ray.init(address=...)` (drivers also get it as RAY_ADDRESS)."""
        if not self.gcs_port:
            raise MultiNodeError("cluster not started")
        return f"{self.node_ip}:{self.gcs_port}"

    def __enter__(self) -> MultiNodeRay:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> MultiNodeRay:
        if self.head is not None:
            return self
        self.root = self._make_root()
        try:
            resources = {f"node_{HEAD}": 1.0, **self._head_resources}
            self.head = self._start_node(HEAD, self._head_num_cpus, resources, head=True)
        except BaseException:
            self.stop()
            raise
        return self

    def add_node(self, name: str, num_cpus: int = 1, resources: Mapping[str, float] | None = None) -> NodeHandle:
        """Start another node joining the head; it has the custom resource `node_<name>: 1`.

        Returns once the node is registered with the GCS (`ray start` waits for that).
        """
        if self.head is None:
            raise MultiNodeError("start the cluster first")
        if not _NODE_NAME.match(name) or name == HEAD:
            raise ValueError(f"bad node name {name!r}: 1-16 of [A-Za-z0-9_], not {HEAD!r}")
        if name in self.nodes:
            raise ValueError(f"node {name!r} already exists (names are not reused, even after a kill)")
        return self._start_node(name, num_cpus, {f"node_{name}": 1.0, **(resources or {})}, head=False)

    def kill_raylet(self, node: NodeHandle | str, wait_exit: float = 10.0) -> int:
        """SIGKILL the node's raylet (no clean unregistration: the GCS notices through its health
        checks). Returns the pid. The node's agents and workers exit on their own once their raylet is
        gone; `stop()` reaps any that don't. Waits until the raylet process is gone."""
        handle = self.nodes[node] if isinstance(node, str) else node
        proc = _read_proc(handle.raylet_pid)
        if (
            proc is None
            or proc.exe_name != "raylet"
            or proc.environ.get(CLUSTER_MARKER_ENV) != str(self.root)
            or proc.environ.get(NODE_MARKER_ENV) != handle.name
        ):
            raise MultiNodeError(f"raylet of node {handle.name!r} (pid {handle.raylet_pid}) is not running")
        os.kill(handle.raylet_pid, signal.SIGKILL)
        handle.killed = True
        if _wait_gone([handle.raylet_pid], wait_exit):
            raise MultiNodeError(f"raylet pid {handle.raylet_pid} still alive {wait_exit}s after SIGKILL")
        return handle.raylet_pid

    def node_pids(self, node: NodeHandle | str | None = None) -> list[int]:
        """Live pids of this cluster (of one node if given), found by marker/command line/parentage."""
        name = node.name if isinstance(node, NodeHandle) else node
        return sorted(p.pid for p in self._cluster_procs(name))

    def stop(self, grace: float = 3.0) -> None:
        """Kill every process of this cluster (never anything else) and remove its temp dir."""
        for driver in self._drivers:
            if driver.poll() is None:
                driver.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                driver.wait(timeout=5)
        self._drivers.clear()
        if self.root is not None:
            deadline = time.monotonic() + grace + 20.0
            sig = signal.SIGTERM
            while True:
                pids = self.node_pids()
                if not pids:
                    break
                if time.monotonic() > deadline:
                    raise MultiNodeError(f"could not kill cluster processes {pids}")
                _kill(pids, sig)
                _wait_gone(pids, grace if sig == signal.SIGTERM else 2.0)
                sig = signal.SIGKILL
            if not self._keep_dir:
                shutil.rmtree(self.root, ignore_errors=True)
                if self._symlink is not None:
                    with contextlib.suppress(OSError):
                        self._symlink.unlink()
        self.head = None
        self.nodes.clear()
        self.gcs_port = 0

    # -- drivers -----------------------------------------------------------------------------

    def driver_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a driver process: RAY_ADDRESS, the auth settings, PYTHONPATH with the
        repo root. A driver then just calls `ray.init()` (or `ray.init(address=cluster.address)`)."""
        env = self._ray_env()
        env["RAY_ADDRESS"] = self.address
        env.pop(CLUSTER_MARKER_ENV, None)
        env.pop(NODE_MARKER_ENV, None)
        env.update(extra or {})
        return env

    def start_driver(
        self,
        code: str | Path | Callable[[], object],
        env: Mapping[str, str] | None = None,
        args: Iterable[str] = (),
    ) -> subprocess.Popen[str]:
        """Start a driver subprocess (stdout/stderr piped, text mode); `stop()` kills it if still running.

        `code` is Python source, a path to a script, or an importable module-level function (it is
        imported and called with no arguments in the subprocess)."""
        script = self._driver_script(code)
        proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            env=self.driver_env(env),
            cwd=str(REPO_ROOT),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._drivers.append(proc)
        return proc

    def run_driver(
        self,
        code: str | Path | Callable[[], object],
        env: Mapping[str, str] | None = None,
        timeout: float = 120.0,
        check: bool = True,
        args: Iterable[str] = (),
    ) -> subprocess.CompletedProcess[str]:
        """Run a driver to completion. With `check`, a non-zero exit raises MultiNodeError carrying
        its output; a timeout kills it and raises subprocess.TimeoutExpired."""
        proc = self.start_driver(code, env, args)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            raise subprocess.TimeoutExpired(proc.args, timeout, stdout, stderr) from None
        finally:
            if proc in self._drivers and proc.poll() is not None:
                self._drivers.remove(proc)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        if check and done.returncode != 0:
            raise MultiNodeError(
                f"driver exited with {done.returncode}\n--- stdout\n{stdout[-4000:]}\n--- stderr\n{stderr[-8000:]}"
            )
        return done

    # -- internals ---------------------------------------------------------------------------

    def _make_root(self) -> Path:
        if self._base_dir is not None:
            self._base_dir.mkdir(parents=True, exist_ok=True)
            # Leave room for "/<16-char node name>" under the root.
            if len(str(self._base_dir.resolve())) + len("/rmn-xxxxxxxx") + 17 <= _MAX_NODE_DIR_LEN:
                return Path(tempfile.mkdtemp(prefix="rmn-", dir=self._base_dir.resolve()))
        root = Path(tempfile.mkdtemp(prefix="rmn-", dir="/tmp"))
        if self._base_dir is not None:
            link = self._base_dir / "ray-cluster"
            with contextlib.suppress(OSError):
                link.symlink_to(root, target_is_directory=True)
                self._symlink = link
        return root

    def _ray_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        python_path = [str(REPO_ROOT)]
        if os.environ.get("PYTHONPATH"):
            python_path.append(os.environ["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(python_path)
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        if self.auth:
            env["RAY_AUTH_MODE"] = "token"
            env["RAY_AUTH_TOKEN"] = self.token
        else:
            env["RAY_AUTH_MODE"] = "disabled"
        env.update(self._extra_env)
        return env

    def _ray_executable(self) -> list[str]:
        ray_bin = Path(sys.executable).parent / "ray"
        if ray_bin.exists():
            return [str(ray_bin)]
        return [sys.executable, "-m", "ray.scripts.scripts"]

    def _start_node(self, name: str, num_cpus: int, resources: dict[str, float], head: bool) -> NodeHandle:
        assert self.root is not None
        temp_dir = self.root / name
        if len(str(temp_dir)) > _MAX_NODE_DIR_LEN:
            raise MultiNodeError(f"node temp dir {temp_dir} too long for Ray's Unix socket paths")
        temp_dir.mkdir()
        env = self._ray_env()
        env[CLUSTER_MARKER_ENV] = str(self.root)
        env[NODE_MARKER_ENV] = name
        last_error = ""
        for attempt in range(3):
            nm_port = _free_port(self._ports)
            cmd = [
                *self._ray_executable(),
                "start",
                f"--num-cpus={num_cpus}",
                f"--resources={json.dumps(resources)}",
                f"--temp-dir={temp_dir}",
                f"--node-ip-address={self.node_ip}",
                f"--node-manager-port={nm_port}",
                f"--dashboard-agent-listen-port={_free_port(self._ports)}",
                "--min-worker-port=0",
                "--max-worker-port=0",
                f"--object-store-memory={self._object_store_bytes}",
                "--include-log-monitor=false",
                "--disable-usage-stats",
                "--log-style=record",
                "--log-color=false",
            ]
            if head:
                self.gcs_port = _free_port(self._ports)
                cmd += [
                    "--head",
                    f"--port={self.gcs_port}",
                    f"--ray-client-server-port={_free_port(self._ports)}",
                    f"--dashboard-port={_free_port(self._ports)}",
                    "--include-dashboard=false",
                    f"--system-config={json.dumps(self.system_config)}",
                ]
            else:
                cmd.append(f"--address={self.address}")
            log_path = temp_dir / f"ray-start-{attempt}.log"
            with open(log_path, "w") as log:
                try:
                    rc = subprocess.run(
                        cmd,
                        env=env,
                        cwd=str(REPO_ROOT),
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # Ctrl-C at the terminal must not reach the daemons
                        timeout=self._start_timeout,
                    ).returncode
                except subprocess.TimeoutExpired:
                    rc = -1
            raylet = self._find_raylet(name, nm_port) if rc == 0 else None
            if raylet is not None:
                node_id = next((a.split("=", 1)[1] for a in raylet.cmdline if a.startswith("--node_id=")), "")
                handle = NodeHandle(
                    name=name,
                    temp_dir=temp_dir,
                    node_manager_port=nm_port,
                    node_id=node_id,
                    raylet_pid=raylet.pid,
                    resources={"CPU": float(num_cpus), **resources},
                    is_head=head,
                )
                self.nodes[name] = handle
                return handle
            last_error = f"ray start (attempt {attempt + 1}) exit {rc}:\n{log_path.read_text()[-3000:]}"
            # Clean up whatever this attempt left running before trying again with new ports.
            leftovers = self.node_pids(name)
            _kill(leftovers, signal.SIGKILL)
            _wait_gone(leftovers, 5.0)
        raise MultiNodeError(f"could not start node {name!r}\n{last_error}\n{self._log_tails(temp_dir)}")

    def _find_raylet(self, name: str, nm_port: int) -> _Proc | None:
        for proc in self._cluster_procs(name):
            if proc.exe_name == "raylet" and f"--node_manager_port={nm_port}" in proc.cmdline:
                return proc
        return None

    def _cluster_procs(self, name: str | None = None) -> list[_Proc]:
        if self.root is None:
            return []
        root = str(self.root)
        own = {os.getpid(), os.getppid()}
        procs = [p for p in _all_procs() if p.state not in ("Z", "X") and p.pid not in own]

        def marked(p: _Proc) -> bool:
            if p.environ.get(CLUSTER_MARKER_ENV) == root:
                return name is None or p.environ.get(NODE_MARKER_ENV) == name
            prefix = f"{root}/" if name is None else f"{root}/{name}/"
            return any(prefix in arg or arg.endswith(prefix.rstrip("/")) for arg in p.cmdline[:64])

        found = {p.pid: p for p in procs if marked(p)}
        # Descendants too (e.g. a worker that lost the marker); parents are never included.
        children: dict[int, list[_Proc]] = {}
        for p in procs:
            children.setdefault(p.ppid, []).append(p)
        stack = list(found)
        while stack:
            for child in children.get(stack.pop(), []):
                if child.pid not in found and child.pid not in own:
                    found[child.pid] = child
                    stack.append(child.pid)
        return list(found.values())

    def _driver_script(self, code: str | Path | Callable[[], object]) -> Path:
        if isinstance(code, Path):
            return code
        assert self.root is not None
        drivers = self.root / "drivers"
        drivers.mkdir(exist_ok=True)
        self._driver_count += 1
        script = drivers / f"driver_{self._driver_count}.py"
        if callable(code):
            module, qualname = code.__module__, code.__qualname__
            if module == "__main__" or "<" in qualname:
                raise ValueError("a driver function must be a module-level function of an importable module")
            source = f"import importlib\nimportlib.import_module({module!r}).{qualname}()\n"
        else:
            source = code
        script.write_text(source)
        return script

    @staticmethod
    def _log_tails(temp_dir: Path) -> str:
        logs = temp_dir / "session_latest" / "logs"
        out = []
        for name in ("gcs_server.err", "gcs_server.out", "raylet.err", "raylet.out"):
            path = logs / name
            if path.exists():
                out.append(f"--- {path}\n{path.read_text(errors='replace')[-2000:]}")
        return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Helpers for code running inside a driver


def emit_result(value: object) -> None:
    """In a driver: print a JSON result line for `driver_result()` to pick up."""
    print(RESULT_PREFIX + json.dumps(value), flush=True)


def driver_result(done: subprocess.CompletedProcess[str]) -> Any:
    """The last value a driver printed with `emit_result()`."""
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise MultiNodeError(
        f"driver printed no result\n--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
    )


def wait_node_dead(node_id: str, timeout: float = 30.0) -> float:
    """In a connected driver: poll `ray.nodes()` until the node is reported `Alive: False`.
    Returns the seconds waited; raises TimeoutError after `timeout`."""
    import ray

    start = time.monotonic()

    def dead() -> bool:
        return any(n["NodeID"] == node_id and not n["Alive"] for n in ray.nodes())

    wait_until(dead, timeout, interval=0.1, what=f"node {node_id[:12]} to be reported dead")
    return time.monotonic() - start
