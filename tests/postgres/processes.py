"""Worker processes for the multi-process tests, always ended when the test ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """One worker process (``module``): JSON lines out, go-ahead lines in."""

    def __init__(self, args: dict[str, Any], module: str = "tests.postgres.worker") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, json.dumps(args)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    def message(self) -> dict[str, Any]:
        """The next JSON line the worker printed (blocks; the test's timeout bounds it)."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"worker ended without a message (exit code {self.process.wait()})"
        message: dict[str, Any] = json.loads(line)
        return message

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self, timeout: float = 30) -> int:
        """Wait for the worker to exit; its exit code."""
        return self.process.wait(timeout)


@contextmanager
def workers(
    *all_args: dict[str, Any], module: str = "tests.postgres.worker"
) -> Iterator[list[Worker]]:
    """Start one worker per ``args``; on the way out, kill and reap any still running."""
    started: list[Worker] = []
    try:
        for args in all_args:
            started.append(Worker(args, module))
        yield started
    finally:
        for worker in started:
            if worker.process.poll() is None:
                worker.process.kill()
            worker.process.wait()
            for stream in (worker.process.stdin, worker.process.stdout):
                if stream is not None:
                    stream.close()
