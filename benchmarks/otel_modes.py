"""The telemetry a benchmark broker runs with: ``ARVO_BENCH_TELEMETRY`` = off | api | sdk.

* ``off`` (default): no ``Telemetry`` at all, the library as everyone gets it.
* ``api``: ``Telemetry()`` on the OpenTelemetry API with no SDK installed: every span is
  non-recording and every instrument a no-op (the issue's "< 5%" case).
* ``sdk``: the OpenTelemetry SDK recording every span (``BatchSpanProcessor`` to an
  exporter that discards them, so no I/O is timed) and every metric (an in-memory reader,
  collected never): what tracing costs a service that exports.

W1 and W5 pass :func:`broker_options` to ``create_concurrent_event_broker``. The SDK
providers are made once per process and live as long as it (the overhead runner gives
each mode a process of its own).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from arvo_concurrent.observability import Telemetry

__all__ = ["MODES", "broker_options", "telemetry_for"]

MODES = ("off", "api", "sdk")
ENV = "ARVO_BENCH_TELEMETRY"


def broker_options() -> dict[str, Any]:
    """``{"telemetry": ...}`` for the mode in ``ARVO_BENCH_TELEMETRY``; ``{}`` when off."""
    telemetry = telemetry_for(os.environ.get(ENV, "off"))
    return {} if telemetry is None else {"telemetry": telemetry}


@functools.cache
def telemetry_for(mode: str) -> Any:
    """The Telemetry of ``mode`` (cached: one per process), None for ``off``."""
    if mode not in MODES:
        raise ValueError(f"{ENV} must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off":
        return None
    if mode == "api":
        return Telemetry()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Discard()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)


class Discard(SpanExporter):
    """A span exporter that drops what it is given: the SDK's cost without any I/O."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS
