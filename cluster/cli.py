"""The `podium` command: run a node, and talk to a running one.

podium up [--workers mypkg.tasks] [--port 8080] [--detach]
podium down
podium status
podium scale --shards 4 | --per-node 2
podium register defs.json
podium start NAME --input '{"x": 1}' [--wait]
podium get WORKFLOW_ID
podium keys create NAME --role user | list | revoke ID
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cluster.config import Settings, use_given_ray_token, without_password
from cluster.keys_cli import add_parser as add_keys_parser

TERMINAL = {"COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"}


def _api_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url).rstrip("/")
    settings = Settings.from_env()
    return os.environ.get("PODIUM_URL", f"http://{settings.host}:{settings.port}/api").rstrip("/")


class ApiFailure(Exception):
    pass


_tokens: dict[str, str] = {}


def _token_for(url: str) -> str | None:
    """With PODIUM_KEY_ID and PODIUM_KEY_SECRET set, a token for the API `url` is on
    (traded once per run at POST /api/token)."""
    key_id, key_secret = os.environ.get("PODIUM_KEY_ID"), os.environ.get("PODIUM_KEY_SECRET")
    if not key_id or not key_secret:
        return None
    base = url.split("/api/", 1)[0] + "/api"
    if base not in _tokens:
        answer = _call("POST", base + "/token", {"keyId": key_id, "keySecret": key_secret}, authenticate=False)
        _tokens[base] = str(answer["token"])
    return _tokens[base]


def _call(method: str, url: str, body: Any = None, authenticate: bool = True) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    token = _token_for(url) if authenticate else None
    if token:
        headers["X-Authorization"] = token
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(detail).get("message", detail)
        raise ApiFailure(f"{method} {url}: HTTP {error.code}: {detail}") from None
    except urllib.error.URLError as error:
        raise ApiFailure(f"cannot reach Podium at {url}: {error.reason} (is `podium up` running?)") from None
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode()


def cmd_up(args: argparse.Namespace) -> int:
    use_given_ray_token()
    from cluster.runtime import configure_logging, runtime_for, with_overrides

    # `--workers pkg.mod` names modules relative to where Podium is started, as `python -m` does.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    settings = with_overrides(Settings.from_env(), port=args.port, shards=args.shards, host=args.host)
    configure_logging(settings.log_level)
    if args.detach and not settings.ray_address:
        raise ValueError(
            "--detach leaves Podium running in a Ray cluster that outlives this command: set RAY_ADDRESS "
            "to a cluster started with `ray start --head` (a local cluster stops with `podium up`)"
        )
    runtime = runtime_for(settings, args.workers, dashboard=not args.no_dashboard)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    runtime.start()
    state = "was already running; joined it" if runtime.adopted else "is up"
    print(f"Podium {state}.\n  UI:             {runtime.api_url.removesuffix('/api')}/", flush=True)
    print(f"  API:            {runtime.api_url}", flush=True)
    if runtime.dashboard_url:
        print(f"  Ray dashboard:  {runtime.dashboard_url}", flush=True)
        hint = runtime.dashboard_access.sign_in_hint() if runtime.dashboard_access else None
        if hint:
            print(f"                  {hint}", flush=True)
    print(f"  Redis:          {without_password(runtime.redis_url)}", flush=True)
    if args.detach:
        print("Detached: Podium keeps running in the Ray cluster; `podium down` stops it.", flush=True)
        runtime.leave_running()
        return 0
    # A driver that joined a cluster (RAY_ADDRESS) may be stopped by its pod being moved:
    # Podium's actors are detached and stay up; `podium down` stops them.
    leave_running = bool(settings.ray_address) or runtime.adopted
    print("Press Ctrl-C to " + ("disconnect (Podium keeps running)." if leave_running else "stop."), flush=True)
    try:
        stop.wait()
    finally:
        if leave_running:
            print("Disconnecting; Podium keeps running (`podium down` stops it).", flush=True)
            runtime.leave_running()
        else:
            print("Stopping Podium...", flush=True)
            runtime.stop()
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    use_given_ray_token()
    import ray

    from cluster.runtime import stop_running

    settings = Settings.from_env()
    ray.init(address=settings.ray_address or "auto", namespace=settings.namespace, log_to_driver=False)
    try:
        stopped = stop_running(settings)
    finally:
        ray.shutdown()
    print("Podium stopped." if stopped else f"No Podium is running in namespace {settings.namespace}.")
    return 0 if stopped else 1


def cmd_status(args: argparse.Namespace) -> int:
    base = _api_url(args)
    health = _call("GET", base + "/health")
    view = _call("GET", base + "/admin/shards")
    if args.json:
        print(json.dumps({"health": health, **view}, indent=2))
    else:
        print(f"healthy: {health.get('healthy')}   redis: {health.get('redis')}   partitions: {view['partitions']}")
        wanted = view["wanted"]
        per_node = f" ({wanted['shardsPerNode']} per node)" if wanted["shardsPerNode"] else ""
        print(f"shards wanted: {wanted['shards']}{per_node}")
        print(f"{'shard':<20} {'node':<10} {'partitions':>10} {'leaving':>8} {'executions':>11}")
        for shard in view["shards"]:
            if "error" in shard:
                print(f"{shard['name']:<20} unreachable: {shard['error']}")
                continue
            print(
                f"{shard['name']:<20} {shard['node'][:8]:<10} {len(shard['partitions']):>10} "
                f"{len(shard['leaving']):>8} {shard['activeExecutions']:>11}"
            )
        if view["unowned"]:
            print(f"partitions without an owner right now: {view['unowned']}")
    return 0 if health and health.get("healthy") else 1


def cmd_scale(args: argparse.Namespace) -> int:
    body = {"shards": args.shards} if args.shards is not None else {"shardsPerNode": args.per_node}
    print(json.dumps(_call("PUT", _api_url(args) + "/admin/shards", body)))
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    content = json.loads(Path(args.file).read_text())
    items = content if isinstance(content, list) else [content]
    workflows = [item for item in items if isinstance(item, dict) and "tasks" in item]
    task_defs = [item for item in items if isinstance(item, dict) and "tasks" not in item]
    base = _api_url(args)
    if task_defs:
        _call("POST", base + "/metadata/taskdefs", task_defs)
        print(f"registered {len(task_defs)} task definition(s): {', '.join(d.get('name', '?') for d in task_defs)}")
    if workflows:
        _call("PUT", base + "/metadata/workflow", workflows)
        print(f"registered {len(workflows)} workflow definition(s): {', '.join(w['name'] for w in workflows)}")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    try:
        workflow_input = json.loads(args.input) if args.input else {}
    except ValueError as error:
        raise ApiFailure(f"--input is not valid JSON: {error}") from None
    request: dict[str, Any] = {"name": args.name, "input": workflow_input}
    if args.version is not None:
        request["version"] = args.version
    if args.correlation_id:
        request["correlationId"] = args.correlation_id
    base = _api_url(args)
    workflow_id = _call("POST", base + "/workflow", request)
    print(workflow_id)
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        workflow = _call("GET", f"{base}/workflow/{workflow_id}?includeTasks=false")
        if workflow["status"] in TERMINAL:
            print(json.dumps({k: workflow.get(k) for k in ("status", "output", "reasonForIncompletion")}, indent=2))
            return 0 if workflow["status"] == "COMPLETED" else 1
        time.sleep(0.2)
    print(f"still running after {args.timeout}s", file=sys.stderr)
    return 2


def cmd_get(args: argparse.Namespace) -> int:
    print(json.dumps(_call("GET", f"{_api_url(args)}/workflow/{args.workflow_id}"), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podium", description="Conductor-compatible workflows on Ray and Redis")
    parser.add_argument("--url", help="API base URL of a running node (default $PODIUM_URL or host:port/api)")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start Redis (unless REDIS_URL), Ray, shards, pools and the gateway")
    up.add_argument(
        "--workers",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE and run its @worker_task functions on Ray actor pools (repeatable)",
    )
    up.add_argument("--port", type=int, help="HTTP port (default $PODIUM_PORT or 8080)")
    up.add_argument("--host", help="HTTP interface (default $PODIUM_HOST or 127.0.0.1)")
    up.add_argument("--shards", type=int, help="number of workflow shard actors")
    up.add_argument("--no-dashboard", action="store_true", help="do not start the Ray dashboard")
    up.add_argument(
        "--detach",
        action="store_true",
        help="start (or join) Podium in the cluster at RAY_ADDRESS, then exit, leaving it running",
    )
    up.set_defaults(handler=cmd_up)

    down = commands.add_parser("down", help="stop the Podium running in the Ray cluster at RAY_ADDRESS")
    down.set_defaults(handler=cmd_down)

    status = commands.add_parser("status", help="health, and each shard's node and partitions")
    status.add_argument("--json", action="store_true", help="print the full JSON")
    status.set_defaults(handler=cmd_status)

    scale = commands.add_parser("scale", help="change how many shards host workflows, while running")
    how_many = scale.add_mutually_exclusive_group(required=True)
    how_many.add_argument("--shards", type=int, help="a total number of shards")
    how_many.add_argument("--per-node", type=int, help="shards on each live Ray node")
    scale.set_defaults(handler=cmd_scale)

    register = commands.add_parser("register", help="register workflow or task definitions from a JSON file")
    register.add_argument("file")
    register.set_defaults(handler=cmd_register)

    start = commands.add_parser("start", help="start a workflow")
    start.add_argument("name")
    start.add_argument("--input", default="{}", help="workflow input as JSON")
    start.add_argument("--version", type=int)
    start.add_argument("--correlation-id")
    start.add_argument("--wait", action="store_true", help="wait for the workflow to end and print its output")
    start.add_argument("--timeout", type=float, default=300.0, help="seconds to wait with --wait")
    start.set_defaults(handler=cmd_start)

    add_keys_parser(commands, _api_url, _call)

    get = commands.add_parser("get", help="print a workflow execution")
    get.add_argument("workflow_id")
    get.set_defaults(handler=cmd_get)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (ApiFailure, ValueError, OSError) as error:
        print(f"podium: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
