"""Counters and histograms for the Ray dashboard and Prometheus (`ray.util.metrics`).

Ray exports them from every actor; `podium_` names them. Tags are the workflow name and
the task type, as Conductor tags its own metrics.
"""

from __future__ import annotations

from typing import Any, Protocol


class Metrics(Protocol):
    def workflow_started(self, name: str) -> None: ...

    def workflow_ended(self, name: str, status: str) -> None: ...

    def task_ended(self, task_type: str, status: str, latency_ms: int) -> None: ...

    def active_executions(self, count: int) -> None: ...


class NoMetrics:
    """For a shard core running outside Ray (tests of the core itself)."""

    def workflow_started(self, name: str) -> None:
        pass

    def workflow_ended(self, name: str, status: str) -> None:
        pass

    def task_ended(self, task_type: str, status: str, latency_ms: int) -> None:
        pass

    def active_executions(self, count: int) -> None:
        pass


class RayMetrics:
    def __init__(self, shard: int) -> None:
        from ray.util import metrics

        self._shard = str(shard)
        self._started: Any = metrics.Counter(
            "podium_workflows_started", "Workflow executions started", tag_keys=("workflow",)
        )
        self._ended: Any = metrics.Counter(
            "podium_workflows_ended", "Workflow executions ended, by status", tag_keys=("workflow", "status")
        )
        self._tasks: Any = metrics.Counter(
            "podium_tasks_ended", "Task executions ended, by status", tag_keys=("task_type", "status")
        )
        self._latency: Any = metrics.Histogram(
            "podium_task_latency_ms",
            "Milliseconds from a task's scheduling to its end",
            boundaries=[1, 5, 10, 50, 100, 500, 1000, 5000, 30000, 300000],
            tag_keys=("task_type",),
        )
        self._active: Any = metrics.Gauge(
            "podium_active_executions", "Executions held in a shard's memory", tag_keys=("shard",)
        )

    def workflow_started(self, name: str) -> None:
        self._started.inc(tags={"workflow": name})

    def workflow_ended(self, name: str, status: str) -> None:
        self._ended.inc(tags={"workflow": name, "status": status})

    def task_ended(self, task_type: str, status: str, latency_ms: int) -> None:
        self._tasks.inc(tags={"task_type": task_type, "status": status})
        self._latency.observe(latency_ms, tags={"task_type": task_type})

    def active_executions(self, count: int) -> None:
        self._active.set(count, tags={"shard": self._shard})


class BrokerMetrics:
    """Event queues on brokers (gateway/brokers/): messages published and consumed, and the
    failures that are retried (a broker down, a handler that failed), per provider. Counted
    here too, so `Gateway.broker_stats` can answer without Prometheus."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._ray: dict[str, Any] = {}
        try:
            from ray.util import metrics

            descriptions = {
                "published": "Messages EVENT tasks published to a broker",
                "publish_retries": "Attempts to publish to a broker that failed and are retried",
                "consumed": "Broker messages handled by event handlers and acknowledged",
                "handler_failures": "Broker messages left unacknowledged because a handler's action failed",
                "connection_failures": "Broker connections that failed or were lost (consumers reconnect)",
                "dropped": "Broker messages given up after too many deliveries",
            }
            for name, text in descriptions.items():
                self._ray[name] = metrics.Counter(f"podium_broker_{name}", text, tag_keys=("provider",))
        except Exception:  # outside a Ray worker (unit tests): the in-process counts remain
            self._ray = {}

    def count(self, name: str, provider: str) -> None:
        key = f"{name}:{provider}"
        self.counts[key] = self.counts.get(key, 0) + 1
        counter = self._ray.get(name)
        if counter is not None:
            counter.inc(tags={"provider": provider})
