"""The README's main job must keep working: run the example in-process."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "approval_workflow.py"


def test_the_refund_example_runs_three_workflows_to_their_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = importlib.util.spec_from_file_location("approval_workflow", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["approval_workflow"] = module
    try:
        spec.loader.exec_module(module)
        outcomes = module.main()
    finally:
        del sys.modules["approval_workflow"]
    assert [(o["order_id"], o["status"], o["refunded"]) for o in outcomes] == [
        ("order-1", "refunded", 25.0),
        ("order-2", "rejected", 0.0),
        ("order-3", "refunded", 99.5),
    ]
    assert outcomes[0]["transaction_id"] == "tx-order-1-25.00"
    assert "reviewer sees: 'Refund 480.00 EUR for order order-2?'" in capsys.readouterr().out
