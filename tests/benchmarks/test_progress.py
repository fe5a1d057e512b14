"""The progress bar draws on a terminal and stays silent anywhere else."""

from __future__ import annotations

import io

from benchmarks.progress import ProgressBar, render


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_the_bar_writes_nothing() -> None:
    stream = io.StringIO()
    with ProgressBar(2, stream) as bar:
        bar.begin("W1 prefetch=1 rep 1/1")
        bar.advance()
    assert not bar.enabled
    assert stream.getvalue() == ""


def test_on_a_terminal_the_bar_redraws_one_line_and_erases_it() -> None:
    stream = FakeTerminal()
    with ProgressBar(2, stream) as bar:
        bar.begin("W1 prefetch=1 rep 1/2")
        bar.advance()
        bar.begin("W1 prefetch=1 rep 2/2")
    text = stream.getvalue()
    assert bar.enabled
    assert "\n" not in text
    assert "0/2" in text
    assert "1/2" in text
    assert "W1 prefetch=1 rep 2/2" in text
    assert text.endswith("\r\x1b[K")


def test_render_fills_the_bar_in_proportion() -> None:
    assert render(0, 4, "x", 0.0).startswith("[" + "-" * 24 + "] 0/4 0:00 x")
    assert render(2, 4, "x", 75.0).startswith("[" + "#" * 12 + "-" * 12 + "] 2/4 1:15 x")
    assert render(4, 4, "x", 0.0).startswith("[" + "#" * 24 + "]")
