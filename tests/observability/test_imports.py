"""The optional extras stay optional: importing the library imports none of them."""

from __future__ import annotations

import subprocess
import sys

_CHECK = """
import sys
import arvo_concurrent
import arvo_concurrent.interop
import arvo_concurrent.observability
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("opentelemetry", "cloudevents"))
assert not loaded, loaded
print("clean")
"""


def test_importing_the_library_imports_neither_opentelemetry_nor_cloudevents() -> None:
    run = subprocess.run(
        [sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=50, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "clean"
