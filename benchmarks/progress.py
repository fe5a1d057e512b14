"""A one-line progress bar on a terminal; silent anywhere else."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

_BAR_WIDTH = 24


class ProgressBar:
    """Counts steps and redraws one line on ``stream`` (stderr by default).

    It draws only when ``stream`` is a terminal, so that redirected output and logs
    stay free of carriage returns. It redraws between steps, never from a thread of
    its own: a benchmark must not share the CPU with its progress bar.
    """

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self._stream = sys.stderr if stream is None else stream
        self.enabled = self._stream.isatty()
        self._total = max(total, 1)
        self._done = 0
        self._label = ""
        self._t0 = time.monotonic()

    def begin(self, label: str) -> None:
        """Step ``label`` starts: show its name."""
        self._label = label
        self._draw()

    def advance(self) -> None:
        """The current step is done."""
        self._done = min(self._done + 1, self._total)
        self._draw()

    def close(self) -> None:
        """Erase the bar so that what follows starts on a clean line."""
        if self.enabled:
            self._stream.write("\r\x1b[K")
            self._stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _draw(self) -> None:
        if not self.enabled:
            return
        line = render(self._done, self._total, self._label, time.monotonic() - self._t0)
        width = shutil.get_terminal_size().columns - 1
        self._stream.write("\r\x1b[K" + line[:width])
        self._stream.flush()


def render(done: int, total: int, label: str, elapsed_s: float) -> str:
    """The bar's text: ``[#####-----] 3/12 0:07 W1 prefetch=8 rep 1/3``."""
    filled = _BAR_WIDTH * done // total
    minutes, seconds = divmod(int(elapsed_s), 60)
    bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
    return f"[{bar}] {done}/{total} {minutes}:{seconds:02d} {label}"
