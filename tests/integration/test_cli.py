"""The `podium` command against a running node: register, start --wait, get, status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cluster.runtime import Runtime

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(runtime: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cluster.cli", "--url", runtime.api_url, *args],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
    )


def test_register_start_wait_and_get(podium: Runtime, tmp_path: Path) -> None:
    definitions = [
        {"name": "cli_task", "retryCount": 0},
        {
            "name": "cli_workflow",
            "tasks": [{"name": "py_add", "taskReferenceName": "add",
                       "inputParameters": {"a": "${workflow.input.a}", "b": 1}}],
            "outputParameters": {"sum": "${add.output.sum}"},
        },
    ]
    path = tmp_path / "defs.json"
    path.write_text(json.dumps(definitions))

    registered = run_cli(podium, "register", str(path))
    assert registered.returncode == 0, registered.stderr
    assert "1 task definition(s): cli_task" in registered.stdout
    assert "1 workflow definition(s): cli_workflow" in registered.stdout

    started = run_cli(podium, "start", "cli_workflow", "--input", '{"a": 41}', "--wait")
    assert started.returncode == 0, started.stderr
    workflow_id, _, summary = started.stdout.partition("\n")
    assert json.loads(summary) == {"status": "COMPLETED", "output": {"sum": 42}, "reasonForIncompletion": None}

    fetched = run_cli(podium, "get", workflow_id)
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads(fetched.stdout)["workflowId"] == workflow_id

    status = run_cli(podium, "status", "--json")
    assert status.returncode == 0, status.stderr
    view = json.loads(status.stdout)
    assert view["health"]["healthy"] is True
    owned = sorted(p for shard in view["shards"] for p in shard["partitions"])
    assert owned == list(range(view["partitions"])), "every partition is served by exactly one shard"
    assert {shard["name"] for shard in view["shards"]} == {"podium-shard-0", "podium-shard-1"}

    table = run_cli(podium, "status")
    assert table.returncode == 0, table.stderr
    assert "podium-shard-0" in table.stdout and "partitions" in table.stdout


def test_errors_are_one_line_messages_and_a_failing_exit_code(podium: Runtime) -> None:
    unknown = run_cli(podium, "start", "no_such_workflow")
    assert unknown.returncode == 1
    assert "No such workflow found by name: no_such_workflow, version: null" in unknown.stderr
    bad_input = run_cli(podium, "start", "cli_workflow", "--input", "{not json")
    assert bad_input.returncode == 1
    assert "--input is not valid JSON" in bad_input.stderr


def test_the_readme_example_runs_on_its_python_worker(podium: Runtime) -> None:
    registered = run_cli(podium, "register", str(REPO_ROOT / "examples" / "hello.json"))
    assert registered.returncode == 0, registered.stderr
    started = run_cli(podium, "start", "hello", "--input", '{"name": "Ada", "language": "fr"}', "--wait")
    assert started.returncode == 0, started.stderr
    summary = json.loads(started.stdout.partition("\n")[2])
    assert summary["output"] == {
        "greeting": "Bonjour, Ada!",
        "both": {"english": {"greeting": "Hello, Ada!"}, "french": {"greeting": "Bonjour, Ada!"}},
    }
