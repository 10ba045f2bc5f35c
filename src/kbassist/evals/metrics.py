"""Aggregate case runs into the suite's metrics. With repeats, every metric is computed per
repeat and reported as the mean, with the spread (std, min, max) alongside."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from kbassist.core.governance import RULES
from kbassist.evals.runner import CaseRun, Outcome

HIT_KS = (1, 3, 5)

# Metric names, in the order reports show them, with a short description.
DESCRIPTIONS: dict[str, str] = {
    "cases": "cases run",
    "case_pass_rate": "share of cases that meet every expectation",
    "retrieval_hit_at_1": "an expected id is the top retrieved passage",
    "retrieval_hit_at_3": "an expected id is in the top 3 retrieved passages",
    "retrieval_hit_at_5": "an expected id is in the top 5 retrieved passages",
    "retrieval_mrr": "mean reciprocal rank of the first expected id (top 10)",
    "citation_precision": "share of citations that the case counts as relevant (macro)",
    "required_citations": "share of cases citing every id they must cite",
    "unknown_accuracy": "cases marked unknown true/false handled as marked",
    "roadmap_treatment": "cases whose roadmap items have the expected status and wording",
    "fit_accuracy": "fit cases with the expected verdict and segment",
    "roadmap_overpromises": "outputs presenting a not-available item as available or dated",
    "internal_leaks": "outputs repeating an internal roadmap note",
    "unapproved_numbers": "figures no approved claim states, in final outputs",
    "external_links": "links or images to URLs not in the package, in final outputs",
    "unsupported_sentence_rate": "factual sentences not supported by what the output cites",
    "violations_caught": "violations governance caught and fixed before output",
    "violations_remaining": "violations left in final outputs (must be 0)",
    "latency_p50_ms": "median wall time per case run",
    "latency_p95_ms": "95th percentile wall time per case run",
}


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def retrieval_metrics(runs: Sequence[CaseRun]) -> dict[str, float | None]:
    ranked = [r for r in runs if r.case.kind in {"ask", "rfp"} and r.case.expect.retrieval_ids()
              and r.case.expect.unknown is not True]
    metrics: dict[str, float | None] = {}
    for k in HIT_KS:
        metrics[f"retrieval_hit_at_{k}"] = _rounded(
            _mean([1.0 if r.rank is not None and r.rank <= k else 0.0 for r in ranked]))
    metrics["retrieval_mrr"] = _rounded(_mean([1 / r.rank if r.rank else 0.0 for r in ranked]))
    return metrics


def _share(outcomes: Sequence[Outcome], key: str) -> float | None:
    values = [1.0 if o.measures[key] else 0.0 for o in outcomes if key in o.measures]
    return _rounded(_mean(values))


def _check_share(outcomes: Sequence[Outcome], name: str) -> float | None:
    values = [1.0 if c.passed else 0.0 for o in outcomes for c in o.checks if c.name == name]
    return _rounded(_mean(values))


def outcome_metrics(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Metrics of one repeat: one outcome per case."""
    precision = [o.measures["citation_precision"] for o in outcomes
                 if o.measures.get("citation_precision") is not None]
    unsupported = sum(o.measures.get("unsupported", 0) for o in outcomes)
    factual = sum(o.measures.get("factual", 0) for o in outcomes)
    caught = Counter(rule for o in outcomes for rule in o.caught)
    latencies = [o.latency_ms for o in outcomes]
    return {
        "cases": len(outcomes),
        "case_pass_rate": _rounded(_mean([1.0 if o.passed else 0.0 for o in outcomes])),
        "citation_precision": _rounded(_mean(precision)),
        "required_citations": _check_share(outcomes, "cite"),
        "unknown_accuracy": _share(outcomes, "unknown_correct"),
        "roadmap_treatment": _check_share(outcomes, "roadmap"),
        "fit_accuracy": _share(outcomes, "fit_correct"),
        "roadmap_overpromises": sum(o.measures.get("overpromises", 0) for o in outcomes),
        "internal_leaks": sum(o.measures.get("leaks", 0) for o in outcomes),
        "unapproved_numbers": sum(o.measures.get("unapproved_numbers", 0) for o in outcomes),
        "external_links": sum(o.measures.get("external_links", 0) for o in outcomes),
        "unsupported_sentence_rate": _rounded(unsupported / factual) if factual else 0.0,
        "violations_caught": sum(caught.values()),
        "violations_remaining": sum(len(o.remaining) for o in outcomes),
        "latency_p50_ms": _rounded(percentile(latencies, 50), 1),
        "latency_p95_ms": _rounded(percentile(latencies, 95), 1),
        "violations_by_rule": {rule: caught[rule] for rule in RULES},
    }


def compute_metrics(runs: Sequence[CaseRun]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, spread). Metrics hold the mean over repeats; spread holds std/min/max of each
    numeric metric when there was more than one repeat (fit cases run once and are reused)."""
    repeats = max((len(r.outcomes) for r in runs), default=1)
    per_repeat = [outcome_metrics([r.outcomes[min(i, len(r.outcomes) - 1)] for r in runs])
                  for i in range(repeats)]
    metrics: dict[str, Any] = {}
    spread: dict[str, Any] = {}
    for name in per_repeat[0]:
        values = [m[name] for m in per_repeat]
        if name == "violations_by_rule":
            metrics[name] = values[0] if repeats == 1 else {
                rule: _rounded(_mean([v[rule] for v in values]), 2) for rule in values[0]}
            continue
        numbers = [float(v) for v in values if v is not None]
        if repeats == 1:
            metrics[name] = values[0]
            continue
        metrics[name] = _rounded(_mean(numbers)) if numbers else None
        if numbers:
            mean = sum(numbers) / len(numbers)
            std = math.sqrt(sum((v - mean) ** 2 for v in numbers) / len(numbers))
            spread[name] = {"std": round(std, 4), "min": min(numbers), "max": max(numbers)}
    metrics["cases"] = len(runs)
    metrics.update(retrieval_metrics(runs))
    metrics["cases_by_kind"] = dict(Counter(r.case.kind for r in runs))
    metrics["repeat"] = repeats
    return {k: metrics[k] for k in _ordered(metrics)}, spread


def _ordered(metrics: dict[str, Any]) -> list[str]:
    known = [k for k in DESCRIPTIONS if k in metrics]
    return known + [k for k in metrics if k not in DESCRIPTIONS]
