"""The multi-package eval summary: one table of packages (tuned and scored apart), then per
package its question classes, its confidence calibration, the gold self-check and what
failed. Each package's own full report is the usual one (``report.to_markdown``/``to_html``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kbassist.evals.report import fmt

if TYPE_CHECKING:
    from kbassist.evals.packages import PackagesRun

MAX_FAILED = 15
COLUMNS = (("cases", "cases"), ("case_pass_rate", "passed"), ("usefulness", "useful"),
           ("usefulness_ask", "ask useful"), ("unknown_accuracy", "unknown acc."),
           ("internal_leaks", "leaks"), ("roadmap_overpromises", "overpromises"),
           ("citation_precision", "citation precision"), ("usefulness_draft", "drafts rubric"),
           ("usefulness_rfp", "RFP rows right"), ("fit_accuracy", "fit"),
           ("latency_p50_ms", "p50 ms"), ("gold_problems", "gold problems"))


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def packages_markdown(result: PackagesRun) -> str:
    lines = [f"## kbassist eval across packages: {'PASSED' if result.passed else 'FAILED'}", "",
             "Tuned packages may be looked at while tuning; scored packages are only run and "
             "reported (evals/packages/tuning.yaml). Quote both.", ""]
    lines += [_row(["package", "role", *(label for _, label in COLUMNS), "gates"]),
              _row(["---"] * (len(COLUMNS) + 3))]
    for role in ("tuned", "scored"):
        for name, run in result.runs.items():
            if result.role(name) != role:
                continue
            failed = [g.name for g in run.failed_gates]
            lines.append(_row([name, role, *(fmt(run.metrics.get(key)) for key, _ in COLUMNS),
                               "FAIL: " + ", ".join(failed) if failed else "pass"]))
    for name, run in result.runs.items():
        lines += ["", f"### {name} ({result.role(name)})", "",
                  f"kb_version `{run.kb_version}` · backend {run.backend}/{run.model} · "
                  f"{len(run.cases)} cases · {run.seconds:.1f}s", ""]
        lines += [_row(["class", "cases", "passed", "useful", "unknown acc.", "leaks",
                        "overpromises", "citation precision"]), _row(["---"] * 8)]
        for klass, row in result.breakdowns[name].items():
            lines.append(_row([klass, row["cases"], row["passed"], row["useful"],
                               fmt(row["unknown_accuracy"]), row["leaks"], row["overpromises"],
                               fmt(row["citation_precision"])]))
        lines += ["", "Confidence calibration (ask and RFP answers):", "",
                  _row(["confidence", "answers", "useful", "useful rate"]), _row(["---"] * 4)]
        for band in result.calibrations[name]:
            lines.append(_row([band["band"], band["answers"], band["useful"],
                               fmt(band["useful_rate"])]))
        if result.gold[name]:
            lines += ["", "Gold self-check problems:", ""]
            lines += [f"- {p}" for p in result.gold[name]]
        failed_cases = [c for c in run.cases if not c["passed"]]
        if failed_cases:
            lines += ["", f"Failed cases ({len(failed_cases)}; first {MAX_FAILED}):", ""]
            for case in failed_cases[:MAX_FAILED]:
                reasons = "; ".join(f"{c['name']}: {c['reason']}" for c in case["checks"]
                                    if not c["passed"])
                lines.append(f"- `{case['id']}` ({case.get('class') or case['kind']}): "
                             f"{reasons[:300]}")
        if run.regressions:
            lines += ["", "Regressions against this package's baseline: "
                      + ", ".join(r["id"] for r in run.regressions)]
    return "\n".join(lines) + "\n"
