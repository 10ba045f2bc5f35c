"""The load test's report (benchmarks/load.py) without the load: per-endpoint figures and the
reconciliation of API calls against the audit and feedback rows."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import load  # noqa: E402

CALLS: list[dict[str, Any]] = [
    {"kind": "ask", "ms": 100.0, "error": None, "output_id": 1, "rating": None},
    {"kind": "ask", "ms": 300.0, "error": None, "output_id": 2, "rating": None},
    {"kind": "draft", "ms": 200.0, "error": None, "output_id": 3, "rating": None},
    {"kind": "feedback", "ms": 10.0, "error": None, "output_id": 2, "rating": "down"},
    {"kind": "ask", "ms": 900.0, "error": "ReadTimeout: slow", "output_id": None, "rating": None},
]
BEFORE = {"outputs": 0, "feedback": 0, "thumbs_down": 0, "max_output": 0, "max_feedback": 0}
AFTER = {"outputs": 3, "feedback": 1, "thumbs_down": 1, "max_output": 3, "max_feedback": 1}


def test_summary_is_per_endpoint_and_overall() -> None:
    summary = load.summarise(CALLS, wall=2.0)
    assert summary["overall"] | {"latency_ms": None} == {
        "requests": 5, "ok": 4, "errors": 1, "throughput_rps": 2.0, "latency_ms": None}
    ask = summary["by_endpoint"]["ask"]
    assert (ask["requests"], ask["ok"], ask["errors"]) == (3, 2, 1)
    assert ask["latency_ms"]["p50"] == 200.0  # successful calls only
    assert summary["by_endpoint"]["feedback"]["latency_ms"]["p99"] == 10.0


def test_rows_reconcile_with_the_calls() -> None:
    checks = load.store_checks(BEFORE, AFTER, CALLS, [1, 2, 3], [(2, "down")])
    assert not checks["lost"] and checks["output_ids_match"] and checks["feedback_rows_match"]
    assert checks["feedback"] == {"before": 0, "after": 1, "added": 1, "expected": 1}


def test_a_missing_or_misattributed_row_is_lost() -> None:
    missing = load.store_checks(BEFORE, {**AFTER, "feedback": 0}, CALLS, [1, 2, 3], [])
    assert missing["lost"] and not missing["feedback_rows_match"]
    wrong = load.store_checks(BEFORE, AFTER, CALLS, [1, 2, 3], [(1, "down")])
    assert wrong["lost"] and not wrong["feedback_rows_match"]
    extra = load.store_checks(BEFORE, {**AFTER, "outputs": 4}, CALLS, [1, 2, 3, 4],
                              [(2, "down")])
    assert extra["lost"] and not extra["output_ids_match"]


def test_the_summary_line_keeps_the_headline_figures() -> None:
    report = {"reps": 2, "seconds": 2.0, **load.summarise(CALLS, wall=2.0),
              "stores": load.store_checks(BEFORE, AFTER, CALLS, [1, 2, 3], [(2, "down")])}
    line = load.summary_line(report)
    assert "1 errors" in line and "2.0 req/s" in line and "p99" in line
    assert line.endswith("nothing lost")
