"""The observability example runs and prints spans and metrics through the console exporters."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "observability.py"


def test_the_example_prints_the_spans_and_the_metrics_of_its_resolves() -> None:
    spec = importlib.util.spec_from_file_location("observability_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["observability_example"] = module
    out = io.StringIO()
    try:
        spec.loader.exec_module(module)
        results = module.main(out)
    finally:
        del sys.modules["observability_example"]
    assert results == [3.0, 5.0, 7.0]

    text = out.getvalue()
    span_lines = [line for line in text.splitlines() if line.startswith("span ")]
    names = [line.split("'")[1] for line in span_lines]
    assert names.count("resolve com.example.calculator.add") == 3
    assert names.count("publish com.example.calculator.add") == 3
    assert names.count("process com.example.calculator.add") == 4  # one per execution: a retry
    # The metrics JSON: everything between the last span line and the results line.
    body = text[text.rindex(span_lines[-1]) + len(span_lines[-1]) : text.rindex("results:")]
    exported = json.loads(body)
    metrics = {
        metric["name"]: metric["data"]["data_points"]
        for resource in exported["resource_metrics"]
        for scope in resource["scope_metrics"]
        for metric in scope["metrics"]
    }
    assert sum(p["value"] for p in metrics["arvo.events.handled"]) == 3
    assert sum(p["value"] for p in metrics["arvo.events.retried"]) == 1
    assert sum(p["count"] for p in metrics["arvo.handler.duration"]) == 4
