"""A load for tests that move partitions: gated workflows with a Python pool task that
counts its own runs in Redis (`{gate}:runs:{item}`, by the `py_gate` worker) and then an
external worker task, finished by this process acting as the external worker."""

from __future__ import annotations

import uuid
from typing import Any

import redis

from tests.integration.client import PodiumClient, eventually


def gated_workflow(name: str) -> dict[str, Any]:
    """`py_gate` (held until the gate key exists; counts its runs), then `{name}_after`."""
    return {
        "name": name,
        "tasks": [
            {
                "name": "py_gate",
                "taskReferenceName": "gated",
                "inputParameters": {
                    "redisUrl": "${workflow.input.redisUrl}",
                    "gate": "${workflow.input.gate}",
                    "item": "${workflow.input.item}",
                },
            },
            {
                "name": f"{name}_after",
                "taskReferenceName": "after",
                "inputParameters": {"item": "${gated.output.item}"},
            },
        ],
        "outputParameters": {"item": "${after.output.item}"},
    }


class Load:
    """Starts gated workflows and finishes them as an external worker would."""

    def __init__(self, redis_url: str, client: PodiumClient) -> None:
        self.redis_url = redis_url
        self.client = client
        self.name = f"scale_{uuid.uuid4().hex[:8]}"
        self.gate = f"gate:{self.name}"
        self.redis = redis.Redis.from_url(redis_url)
        self.ids: list[str] = []
        client.register(gated_workflow(self.name), [{"name": f"{self.name}_after", "retryCount": 0}])

    def start(self, count: int) -> None:
        for _ in range(count):
            item = len(self.ids)
            workflow_input = {"redisUrl": self.redis_url, "gate": self.gate, "item": item}
            self.ids.append(self.client.start(self.name, workflow_input))

    def open_gate(self) -> None:
        self.redis.set(self.gate, 1)

    def work_external_tasks(self) -> None:
        for task in self.client.poll(f"{self.name}_after", count=50):
            self.client.complete(task, {"item": task["inputData"]["item"]})

    def finish(self, timeout: float = 90.0) -> list[dict[str, Any]]:
        self.open_gate()

        def fetch() -> list[dict[str, Any]]:
            self.work_external_tasks()
            return [self.client.workflow(workflow_id) for workflow_id in self.ids]

        return eventually(fetch, lambda found: all(w["status"] == "COMPLETED" for w in found), "all completed", timeout)

    def runs(self) -> list[int]:
        return [int(self.redis.get(f"{self.gate}:runs:{item}") or 0) for item in range(len(self.ids))]

    def unfinished(self) -> set[int]:
        """Items whose workflow has not completed yet."""
        return {
            item
            for item, workflow_id in enumerate(self.ids)
            if self.client.workflow(workflow_id)["status"] != "COMPLETED"
        }

    def check_each_ran_once(self, workflows: list[dict[str, Any]]) -> None:
        """Completed, with exactly one run of each task in its history, and the right output."""
        for index, workflow in enumerate(workflows):
            assert workflow["status"] == "COMPLETED", workflow.get("reasonForIncompletion")
            references = [t["referenceTaskName"] for t in workflow["tasks"]]
            assert references == ["gated", "after"], references
            assert workflow["output"] == {"item": index}
