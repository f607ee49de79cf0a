"""OpenTelemetry traces: one trace per workflow execution, one span per task execution.

Spans are recorded when a task or workflow ends, with its real start and end times,
so nothing is held open across steps, passivation or restarts. Ids are derived from
the workflow and task ids: every shard, and every restart of one, puts the spans of an
execution in the same trace under the same root span.

Tracing is on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (spans are exported over OTLP
HTTP); otherwise nothing is recorded and nothing is imported.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

_next_trace_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("podium_trace_id", default=None)
_next_span_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("podium_span_id", default=None)
MS = 1_000_000  # nanoseconds per millisecond


def _digest(text: str, size: int) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=size).digest(), "big") or 1


def trace_id_of(workflow_id: str) -> int:
    return _digest(workflow_id, 16)


def root_span_id_of(workflow_id: str) -> int:
    return _digest(workflow_id + "/workflow", 8)


def span_id_of(task_id: str) -> int:
    return _digest(task_id, 8)


class _DerivedIds(IdGenerator):
    """Ids chosen by the caller for the span being started; random otherwise."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()

    def generate_span_id(self) -> int:
        chosen = _next_span_id.get()
        return chosen if chosen is not None else self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        chosen = _next_trace_id.get()
        return chosen if chosen is not None else self._random.generate_trace_id()


class ExecutionTracer:
    def __init__(self, processor: SpanProcessor, service_name: str = "podium") -> None:
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}), id_generator=_DerivedIds())
        provider.add_span_processor(processor)
        self._provider = provider
        self._tracer = provider.get_tracer("podium")

    def task_ended(self, workflow: Mapping[str, Any], task: Mapping[str, Any]) -> None:
        workflow_id = workflow["workflowId"]
        parent = NonRecordingSpan(
            SpanContext(
                trace_id_of(workflow_id),
                root_span_id_of(workflow_id),
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
        )
        attributes = {
            "podium.workflow.id": workflow_id,
            "podium.workflow.name": workflow["workflowName"],
            "podium.task.id": task["taskId"],
            "podium.task.type": task["taskType"],
            "podium.task.reference": task["referenceTaskName"],
            "podium.task.attempt": task["retryCount"],
            "podium.task.status": task["status"],
        }
        token = _next_span_id.set(span_id_of(task["taskId"]))
        try:
            span = self._tracer.start_span(
                task["referenceTaskName"],
                context=trace.set_span_in_context(parent),
                start_time=(task.get("startTime") or task["scheduledTime"]) * MS,
                attributes=attributes,
            )
        finally:
            _next_span_id.reset(token)
        span.end(end_time=task["endTime"] * MS)

    def workflow_ended(self, workflow: Mapping[str, Any]) -> None:
        workflow_id = workflow["workflowId"]
        trace_token = _next_trace_id.set(trace_id_of(workflow_id))
        span_token = _next_span_id.set(root_span_id_of(workflow_id))
        try:
            span = self._tracer.start_span(
                workflow["workflowName"],
                context=trace.set_span_in_context(trace.INVALID_SPAN),
                start_time=workflow["createTime"] * MS,
                attributes={
                    "podium.workflow.id": workflow_id,
                    "podium.workflow.name": workflow["workflowName"],
                    "podium.workflow.version": workflow["workflowVersion"],
                    "podium.workflow.status": workflow["status"],
                    "podium.workflow.correlation_id": workflow.get("correlationId") or "",
                },
            )
        finally:
            _next_span_id.reset(span_token)
            _next_trace_id.reset(trace_token)
        span.end(end_time=workflow["endTime"] * MS)

    def shutdown(self) -> None:
        self._provider.shutdown()


def tracer_from_environment() -> ExecutionTracer | None:
    """An OTLP-exporting tracer when OTEL_EXPORTER_OTLP_ENDPOINT is set, else None."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return ExecutionTracer(BatchSpanProcessor(OTLPSpanExporter()), os.environ.get("OTEL_SERVICE_NAME", "podium"))
