"""A thin HTTP client for tests that want raw status codes and bodies."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests

TERMINAL = {"COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"}
DEADLINE_SECONDS = 30.0
Value = TypeVar("Value")


def eventually(
    fetch: Callable[[], Value], done: Callable[[Value], bool], what: str, timeout: float = DEADLINE_SECONDS
) -> Value:
    """Fetch until `done` holds; the deadline turns a hang into a failure that says what."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout}s; last seen {value}")
        time.sleep(0.05)


class PodiumClient:
    def __init__(self, api_url: str) -> None:
        self.api = api_url.rstrip("/")
        self.http = requests.Session()

    def __enter__(self) -> PodiumClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.api + path, timeout=30, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def register(self, workflow: dict[str, Any], task_defs: list[dict[str, Any]] | None = None) -> None:
        if task_defs:
            self.ok("POST", "/metadata/taskdefs", json=task_defs)
        self.ok("POST", "/metadata/workflow", json=workflow, params={"overwrite": "true"})

    def start(self, name: str, workflow_input: dict[str, Any] | None = None, **fields: Any) -> str:
        return str(self.ok("POST", "/workflow", json={"name": name, "input": workflow_input or {}, **fields}))

    def workflow(self, workflow_id: str) -> dict[str, Any]:
        return dict(self.ok("GET", f"/workflow/{workflow_id}"))

    def wait(self, workflow_id: str, statuses: set[str] | None = None, timeout: float = 60.0) -> dict[str, Any]:
        """Poll until the workflow reaches one of `statuses` (default: any terminal one)."""
        wanted = statuses or TERMINAL

        def fetch() -> tuple[str, dict[str, Any]]:
            # A workflow the engine starts itself (a child, a failureWorkflow) may not exist yet.
            response = self.request("GET", f"/workflow/{workflow_id}")
            if response.status_code != 200:
                return f"HTTP {response.status_code}", {}
            body = dict(response.json())
            return body["status"], body

        what = f"workflow {workflow_id} in {sorted(wanted)}"
        found = eventually(fetch, lambda seen: seen[0] in wanted, what, timeout)
        return found[1]

    def take(self, task_type: str, timeout: float = DEADLINE_SECONDS) -> dict[str, Any]:
        """Poll until one task of the type is handed out."""
        found = eventually(lambda: self.poll(task_type, count=1, timeout=500), bool, f"a {task_type} task", timeout)
        return found[0]

    def poll(self, task_type: str, count: int = 10, **params: Any) -> list[dict[str, Any]]:
        return list(self.ok("GET", f"/tasks/poll/batch/{task_type}", params={"count": count, "timeout": 100, **params}))

    def complete(self, task: dict[str, Any], output: dict[str, Any] | None = None, status: str = "COMPLETED") -> None:
        self.ok(
            "POST",
            "/tasks",
            json={
                "workflowInstanceId": task["workflowInstanceId"],
                "taskId": task["taskId"],
                "status": status,
                "outputData": output or {},
            },
        )

    def run_workers(
        self, task_types: list[str], workflow_id: str, output: dict[str, Any] | None = None, timeout: float = 60.0
    ) -> dict[str, Any]:
        """Act as a stub external worker for `task_types` until the workflow ends."""
        deadline = time.monotonic() + timeout
        while True:
            for task_type in task_types:
                for task in self.poll(task_type):
                    self.complete(task, output)
            workflow = self.workflow(workflow_id)
            if workflow["status"] in TERMINAL:
                return workflow
            if time.monotonic() > deadline:
                raise AssertionError(f"workflow {workflow_id} still {workflow['status']} after {timeout}s")
