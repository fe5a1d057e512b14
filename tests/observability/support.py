"""An OpenTelemetry SDK that keeps every span and metric in memory, for one test.

The providers are handed to the ``Telemetry`` (never installed globally), so tests do
not leak into each other and the global no-op providers stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Sampler

from arvo_concurrent.observability import Telemetry


class Recorded:
    """A ``Telemetry`` on an in-memory SDK, and what it recorded."""

    def __init__(self, sampler: Sampler | None = None) -> None:
        self.spans_exporter = InMemorySpanExporter()
        self.tracer_provider = (
            TracerProvider() if sampler is None else TracerProvider(sampler=sampler)
        )
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans_exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.telemetry = Telemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        return tuple(self.spans_exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans if span.name == name]

    def metrics(self) -> dict[str, list[Any]]:
        """Every metric collected now: name -> its data points."""
        data = self.reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def points(
    metrics: dict[str, list[Any]], name: str, attributes: dict[str, Any] | None = None
) -> list[Any]:
    """The data points of ``name`` whose attributes include ``attributes``."""
    return [
        point
        for point in metrics.get(name, [])
        if all(point.attributes.get(key) == value for key, value in (attributes or {}).items())
    ]


def recorded(sampler: Sampler | None = None) -> Iterator[Recorded]:
    telemetry = Recorded(sampler)
    try:
        yield telemetry
    finally:
        telemetry.shutdown()
