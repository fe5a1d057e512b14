"""Traces and metrics of a broker, printed by OpenTelemetry's console exporters.

Run it: ``python examples/observability.py`` (needs ``arvo-concurrent[otel]`` and
``opentelemetry-sdk``). A calculator service that fails its first call (a timeout the
broker retries) answers three ``resolve()`` calls; every span is printed as it ends
(one line each: name, kind, trace and parent), then the metrics once, as JSON.

The providers are handed to ``Telemetry`` here so the example keeps to itself; an
application usually installs them globally (``trace.set_tracer_provider(...)``,
``metrics.set_meter_provider(...)``) and passes a plain ``Telemetry()``.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

import msgspec
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from arvo_concurrent import (
    ArvoEvent,
    create_arvo_event_factory,
    create_arvo_event_handler,
    create_concurrent_event_broker,
    create_simple_arvo_contract,
)
from arvo_concurrent.observability import Telemetry


class Numbers(msgspec.Struct):
    numbers: list[float]


class Total(msgspec.Struct):
    result: float


add_contract = create_simple_arvo_contract(
    uri="#/example/calculator/add",
    type="example.calculator.add",
    versions={"1.0.0": {"accepts": Numbers, "emits": Total}},
)


def _add(data: Numbers) -> dict[str, Any]:
    return {"type": "evt.example.calculator.add.success", "data": {"result": sum(data.numbers)}}


class FlakyAdder:
    """The add handler behind a link that times out once: the broker retries it."""

    def __init__(self) -> None:
        self._handler = create_arvo_event_handler(contract=add_contract, handler={"1.0.0": _add})
        self.source = self._handler.source
        self._failed = threading.Event()

    def execute(self, event: ArvoEvent) -> list[ArvoEvent]:
        if not self._failed.is_set():
            self._failed.set()
            raise TimeoutError("the adder did not answer in time")
        return self._handler.execute(event)


def _span_line(span: ReadableSpan) -> str:
    parent = f"{span.parent.span_id:016x}" if span.parent else "-"
    return (
        f"span {span.name!r} kind={span.kind.name} trace={span.context.trace_id:032x} "
        f"id={span.context.span_id:016x} parent={parent}\n"
    )


def main(out: TextIO = sys.stdout) -> list[float]:
    """Resolve three additions with tracing and metrics on; returns their results."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=_span_line))
    )
    # A long interval: the metrics are printed once, when the provider shuts down.
    reader = PeriodicExportingMetricReader(
        ConsoleMetricExporter(out=out), export_interval_millis=3_600_000
    )
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry = Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
    factory = create_arvo_event_factory(add_contract.version("1.0.0"))
    try:
        with create_concurrent_event_broker(
            [{"handler": FlakyAdder(), "retry": {"max_retries": 2, "initial_delay_ms": 10}}],
            telemetry=telemetry,
        ) as handle:
            results = [
                handle.resolve(
                    factory.accepts(source="com.example.client", data={"numbers": [n, n + 1]}),
                    timeout=10,
                ).data["result"]
                for n in (1.0, 2.0, 3.0)
            ]
    finally:
        meter_provider.shutdown()
        tracer_provider.shutdown()
    print(f"results: {results}", file=out)
    return results


if __name__ == "__main__":
    main()
