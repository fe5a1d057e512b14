"""Tuning mode: the pure sweep and recommendation, loading inputs, one real broker pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from arvo_concurrent.arvo import ArvoEvent, create_arvo_event
from benchmarks import tune
from benchmarks.tune import Measurement, TuneRow

EXAMPLE = "benchmarks.examples.io_handler:create_handler"
EXAMPLE_EVENTS = Path(__file__).parents[2] / "benchmarks" / "examples" / "io_events.jsonl"


def _row(prefetch: int, rate: float) -> TuneRow:
    return TuneRow(prefetch, rate, 1.0, 1.0, 0, 0)


def test_sweep_takes_medians_and_speedups_relative_to_the_first_prefetch() -> None:
    # 10 events; at prefetch p the k-th repetition takes (1 + k) / p seconds.
    calls: list[int] = []

    def measure(prefetch: int) -> Measurement:
        calls.append(prefetch)
        k = calls.count(prefetch)
        return Measurement(10, (1 + k) / prefetch, unrouted=k, failed=0)

    rows = tune.sweep([2, 4], measure, repeat=3)
    assert calls == [2, 2, 2, 4, 4, 4]
    assert [r.prefetch for r in rows] == [2, 4]
    assert rows[0].wall_s == pytest.approx(1.5)
    assert rows[0].events_per_s == pytest.approx(10 / 1.5)
    assert rows[1].events_per_s == pytest.approx(10 / 0.75)
    assert [r.speedup for r in rows] == pytest.approx([1.0, 2.0])
    assert rows[0].unrouted == 3


@pytest.mark.parametrize(
    ("rates", "chosen"),
    [
        ({1: 100.0, 2: 191.0, 4: 200.0, 8: 201.0}, 2),  # 191 >= 0.95 * 201 = 190.95
        ({1: 100.0, 2: 190.0, 4: 200.0, 8: 201.0}, 4),  # 190 < 190.95
        ({1: 100.0, 2: 150.0, 4: 200.0, 8: 210.0}, 4),  # 200 >= 0.95 * 210 = 199.5
        ({1: 100.0, 2: 150.0, 4: 199.0, 8: 210.0}, 8),  # 199 < 199.5
        ({16: 300.0, 1: 300.0}, 1),  # the smallest prefetch, not the first measured
        ({4: 50.0}, 4),
    ],
)
def test_recommend_the_smallest_prefetch_within_5_percent_of_the_best(
    rates: dict[int, float], chosen: int
) -> None:
    rows = [_row(p, r) for p, r in rates.items()]
    assert tune.recommend(rows).prefetch == chosen


def test_recommend_needs_a_measurement() -> None:
    with pytest.raises(ValueError, match="no prefetch was measured"):
        tune.recommend([])


def test_report_shows_every_prefetch_and_the_recommendation() -> None:
    rows = [TuneRow(1, 100.0, 1.0, 1.0, 5, 0), TuneRow(8, 400.0, 0.25, 4.0, 5, 2)]
    text = tune.format_report(rows)
    assert "1            100.0   1.000     1.00x         5       0" in text
    assert "8            400.0   0.250     4.00x         5       2" in text
    assert "Recommendation: prefetch=8" in text
    assert "unrouted: emitted events that no handler took" in text
    assert "Warning: some events failed" in text


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "is not of the form module:factory"),
        ("module:", "is not of the form module:factory"),
        ("no.such.module:make", "cannot import handler module 'no.such.module'"),
        ("missing/file.py:make", "cannot import handler module 'missing/file.py'"),
        ("tests.benchmarks.handlers:nope", "has no attribute 'nope'"),
        ("tests.benchmarks.handlers:NOT_A_FACTORY", "is a int, not a callable factory"),
    ],
)
def test_load_factory_names_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tune.load_factory(spec)


def test_load_factory_from_a_file_path() -> None:
    path = Path(__file__).parent / "handlers.py"
    factory = tune.load_factory(f"{path}:flaky")
    assert tune.make_handler(factory, "spec").source == "com.test.flaky"


def test_a_handler_function_instead_of_its_factory_says_what_was_expected() -> None:
    spec = "tests.benchmarks.handlers:handle_add"
    factory = tune.load_factory(spec)
    with pytest.raises(ValueError, match=r"takes arguments \(data: ") as info:
        tune.make_handler(factory, spec)
    message = str(info.value)
    assert "looks like the handler function itself" in message
    assert "expected module:factory, a function that takes no arguments" in message


def test_a_handler_object_instead_of_its_factory_says_what_was_expected() -> None:
    with pytest.raises(ValueError, match="is an event handler itself; --handler names the"):
        tune.load_factory("tests.benchmarks.handlers:HANDLER")


def test_make_handler_rejects_an_object_that_is_not_a_handler() -> None:
    factory = tune.load_factory("tests.benchmarks.handlers:no_source")
    with pytest.raises(ValueError, match="returned object, not an event handler"):
        tune.make_handler(factory, "tests.benchmarks.handlers:no_source")


def _event(n: int, to: str = "com.test.flaky") -> ArvoEvent:
    return create_arvo_event(
        type="com.test.flaky", source="com.test.client", subject="com.test/s", data={"n": n}, to=to
    )


def _event_line(n: int, to: str = "com.test.flaky") -> str:
    return _event(n, to).to_json()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "holds no events"),
        ("\n  \n", "holds no events"),
        ('{"id": "x"}\n', r"events\.jsonl:1: not an ArvoEvent"),
        ("{}\n{not json\n", r"events\.jsonl:1: not an ArvoEvent"),
        (f"{_event_line(1)}\n\n{{not json\n", r"events\.jsonl:3: not an ArvoEvent"),
        (f"{_event_line(1, to='com.other.one')}\n", "addressed to com.other.one, but the"),
    ],
)
def test_load_events_names_the_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        tune.load_events(path, "com.test.flaky")


def test_load_events_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot read events file .*absent\.jsonl"):
        tune.load_events(tmp_path / "absent.jsonl", "com.test.flaky")


def test_the_example_events_all_reach_the_example_handler() -> None:
    events = tune.load_events(EXAMPLE_EVENTS, "com.example.lookup")
    assert len(events) == 120


def test_broker_pass_counts_failed_and_unrouted_events_without_breaking() -> None:
    flaky = tune.load_factory("tests.benchmarks.handlers:flaky")
    events = [_event(n) for n in range(6)]
    measured = tune.broker_measure(flaky, "flaky", events, timeout_s=30)(2)
    assert (measured.events, measured.failed, measured.unrouted) == (6, 3, 0)
    assert measured.seconds > 0

    example = tune.load_factory(EXAMPLE)
    lookups = tune.load_events(EXAMPLE_EVENTS, "com.example.lookup")[:4]
    replies = tune.broker_measure(example, EXAMPLE, lookups, timeout_s=30)(4)
    assert (replies.events, replies.failed, replies.unrouted) == (4, 0, 4)
