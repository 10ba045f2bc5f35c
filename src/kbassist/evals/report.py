"""Eval reports: a Markdown summary for CI logs and pull requests, and one self-contained HTML
file (inline CSS and SVG charts, no scripts, no external assets) that opens anywhere."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from kbassist.core.governance import RULES
from kbassist.evals.metrics import DESCRIPTIONS

if TYPE_CHECKING:
    from kbassist.evals import EvalRun

MAX_LISTED = 30
RATE_METRICS = ("case_pass_rate", "retrieval_hit_at_5", "retrieval_mrr", "citation_precision",
                "unknown_accuracy", "roadmap_treatment", "fit_accuracy")
LATENCY_METRICS = ("latency_p50_ms", "latency_p95_ms")
PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#4d7c0f",
           "#be185d")


def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
    return str(value)


def _md_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _short(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- Markdown --------------------------------------------------------------------------------


def to_markdown(run: EvalRun) -> str:
    lines = [f"## kbassist eval: {'PASSED' if run.passed else 'FAILED'} (suite {run.suite})", ""]
    lines += [_header(run), ""]
    lines += ["### Gates", "", "| gate | value | threshold | result |", "|---|---|---|---|"]
    for gate in run.gates:
        result = "pass" if gate.passed else "**FAIL**"
        result = "skipped (nothing to measure)" if gate.skipped else result
        lines.append(f"| {_md_cell(gate.name)} | {fmt(gate.value)} | {gate.op} "
                     f"{fmt(gate.threshold)} | {result} |")
    if not run.gates:
        lines.append("| (no gates file) | | | |")
    lines += ["", "### Metrics", "", "| metric | value | baseline | change |", "|---|---|---|---|"]
    for name, value in run.metrics.items():
        if isinstance(value, dict):
            continue
        delta = run.metric_deltas.get(name)
        spread = run.spread.get(name)
        shown = fmt(value) + (f" (min {fmt(spread['min'])}, max {fmt(spread['max'])})"
                              if spread and run.metrics.get("repeat", 1) > 1 else "")
        lines.append(f"| {name} | {shown} | {fmt(delta['baseline']) if delta else ''} | "
                     f"{_signed(delta['delta']) if delta else ''} |")
    lines += ["", "### Governance violations caught, by rule", ""]
    by_rule = run.metrics.get("violations_by_rule", {})
    lines += [", ".join(f"{rule}: {fmt(by_rule.get(rule, 0))}" for rule in RULES), ""]
    caught = [c for c in run.cases if (c.get("governance") or {}).get("caught")]
    if caught:
        lines += ["Cases where governance had to step in: " + ", ".join(
            f"{c['id']} ({', '.join(sorted(set(c['governance']['caught'])))})"
            for c in caught[:MAX_LISTED]), ""]
    table = by_tag(run)
    if table:
        lines += ["### By tag", "", "| tag | cases | passed | " + " | ".join(TAG_MEASURES.values())
                  + " |", "|---|---|---|" + "---|" * len(TAG_MEASURES)]
        lines += [f"| {row['tag']} | {row['cases']} | {row['passed']} | "
                  + " | ".join(fmt(row[m]) for m in TAG_MEASURES) + " |" for row in table]
        lines.append("")
    lines += _md_regressions(run) + _md_failures(run)
    if run.notes:
        lines += ["### Notes", ""] + [f"- {n}" for n in run.notes] + [""]
    return "\n".join(lines).rstrip() + "\n"


# Per-case measures summed per tag (the red-team suite tags cases by attack category).
TAG_MEASURES = {"leaks": "internal leaks", "overpromises": "overpromises",
                "unapproved_numbers": "unapproved numbers", "external_links": "external links"}


def by_tag(run: EvalRun) -> list[dict[str, Any]]:
    """One row per case tag: cases, cases passed, and the zero-gate measures summed."""
    rows: dict[str, dict[str, Any]] = {}
    for case in run.cases:
        for tag in case.get("tags") or []:
            row = rows.setdefault(tag, {"tag": tag, "cases": 0, "passed": 0}
                                  | dict.fromkeys(TAG_MEASURES, 0))
            row["cases"] += 1
            row["passed"] += bool(case["passed"])
            for measure in TAG_MEASURES:
                row[measure] += (case.get("measures") or {}).get(measure) or 0
    return sorted(rows.values(), key=lambda r: (-r["cases"], r["tag"]))


def _signed(value: float) -> str:
    return "0" if value == 0 else f"{value:+.4g}"


def _header(run: EvalRun) -> str:
    kinds = ", ".join(f"{k} {n}" for k, n in run.metrics.get("cases_by_kind", {}).items())
    prompts = ", ".join(f"{k}@{v}" for k, v in run.prompts.items())
    base = "none"
    if run.baseline_meta:
        meta = run.baseline_meta
        base = (f"`{meta['path']}` (kb `{meta.get('kb_version')}`, {meta.get('backend')}, "
                f"{meta.get('today')})")
    return (f"kb_version `{run.kb_version}` · backend {run.backend}/{run.model} · "
            f"prompts {prompts} · {len(run.cases)} cases ({kinds}) · {run.seconds:.1f}s · "
            f"today {run.today} · baseline {base}")


def _md_regressions(run: EvalRun) -> list[str]:
    lines = [f"### Regressions against the baseline ({len(run.regressions)})", ""]
    if not run.baseline_meta:
        return lines + ["No baseline to compare with (`kbassist eval --save-baseline`).", ""]
    if not run.regressions:
        lines.append("None.")
    for entry in run.regressions[:MAX_LISTED]:
        lines += _md_moved(entry)
    fixed = [c for c in run.changes if c["status"] == "fixed"]
    changed = [c for c in run.changes if c["status"] == "changed"]
    if fixed:
        lines += ["", f"Fixed since the baseline: {', '.join(c['id'] for c in fixed)}."]
    if changed:
        lines += ["", f"Output changed, verdict held ({len(changed)}): "
                  + ", ".join(f"{c['id']} ({c['explained']})" for c in changed[:MAX_LISTED])]
    return [*lines, ""]


def _md_moved(entry: dict[str, Any]) -> list[str]:
    lines = [f"- **{entry['id']}** ({entry['kind']}), explained by a knowledge change: "
             f"{entry['explained']}: {'; '.join(entry['explanations'])}"]
    for failed in entry["failed_checks"]:
        lines.append(f"  - failed {_short(failed, 200)}")
    cited = entry["citations"]
    if cited["added"] or cited["removed"]:
        lines.append("  - citations: " + " ".join([*(f"-{c}" for c in cited["removed"]),
                                                   *(f"+{c}" for c in cited["added"])]))
    if "answer" in entry:
        lines.append(f"  - before: {_short(entry['answer']['before'])}")
        lines.append(f"  - after: {_short(entry['answer']['after'])}")
    return lines


def _md_failures(run: EvalRun) -> list[str]:
    failing = [c for c in run.cases if not c["passed"]]
    lines = [f"### Failing cases ({len(failing)} of {len(run.cases)})", ""]
    if not failing:
        return [*lines, "None.", ""]
    lines += ["| case | kind | failed checks |", "|---|---|---|"]
    for case in failing[:MAX_LISTED]:
        failed = "; ".join(f"{c['name']}: {c['reason']}" for c in case["checks"]
                           if not c["passed"])
        lines.append(f"| {case['id']} | {case['kind']} | {_md_cell(_short(failed, 240))} |")
    if len(failing) > MAX_LISTED:
        lines.append(f"| … {len(failing) - MAX_LISTED} more | | |")
    return [*lines, ""]


# -- SVG charts ------------------------------------------------------------------------------


def line_chart(series: dict[str, list[float | None]], labels: Sequence[str], title: str,
               *, y_max: float | None = None, unit: str = "", width: int = 760,
               height: int = 300) -> str:
    """Lines over runs, one per series; points are drawn too, so one run still shows."""
    left, right, top, bottom = 72, 200, 36, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for vs in series.values() for v in vs if v is not None]
    top_value = y_max if y_max is not None else nice_ceiling(max([*values, 1.0]) * 1.1)
    count = max(len(labels), 1)

    def x(i: int) -> float:
        return left + (plot_w / 2 if count == 1 else plot_w * i / (count - 1))

    def y(v: float) -> float:
        return top + plot_h - plot_h * (v / top_value if top_value else 0)

    parts = [_svg_open(width, height, title), _axes(left, top, plot_w, plot_h, top_value, unit)]
    step = max(1, count // 8)
    for i, label in enumerate(labels):
        if i % step == 0 or i == count - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 18}" font-size="10" '
                         f'text-anchor="middle" fill="#475569">{escape(label)}</text>')
    for n, (name, points) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        coords = [(x(i), y(v)) for i, v in enumerate(points) if v is not None]
        if len(coords) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" '
                         f'stroke-width="2"/>')
        parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{color}"/>'
                  for a, b in coords]
        legend_y = top + 14 + 18 * n
        latest = next((v for v in reversed(points) if v is not None), None)
        parts.append(f'<rect x="{left + plot_w + 16}" y="{legend_y - 9}" width="12" height="12" '
                     f'fill="{color}"/><text x="{left + plot_w + 34}" y="{legend_y + 1}" '
                     f'font-size="11" fill="#0f172a">{escape(name)} {fmt(latest)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: Sequence[tuple[str, float]], title: str, *, width: int = 760,
              height: int = 280, color: str = "#dc2626") -> str:
    left, right, top, bottom = 72, 16, 36, 70
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_ceiling(max([v for _, v in bars] + [1.0]) * 1.15)
    slot = plot_w / max(len(bars), 1)
    parts = [_svg_open(width, height, title), _axes(left, top, plot_w, plot_h, top_value, "")]
    for i, (label, value) in enumerate(bars):
        bar_h = plot_h * value / top_value
        bx = left + i * slot + slot * 0.2
        parts.append(f'<rect x="{bx:.1f}" y="{top + plot_h - bar_h:.1f}" width="{slot * 0.6:.1f}" '
                     f'height="{bar_h:.1f}" fill="{color}"><title>{escape(label)}: '
                     f'{fmt(value)}</title></rect>')
        parts.append(f'<text x="{bx + slot * 0.3:.1f}" y="{top + plot_h - bar_h - 4:.1f}" '
                     f'font-size="11" text-anchor="middle" fill="#0f172a">{fmt(value)}</text>')
        parts.append(_wrapped_label(label, bx + slot * 0.3, top + plot_h + 16))
    parts.append("</svg>")
    return "".join(parts)


def stacked_bars(rows: Sequence[tuple[str, int, int]], title: str, *, width: int = 760,
                 height: int = 600) -> str:
    """(label, passed, failed) per row, as horizontal stacked bars."""
    left, top, row_h = 80, 40, 34
    plot_w = width - left - 120
    total = max([p + f for _, p, f in rows] + [1])
    parts = [_svg_open(width, min(height, top + row_h * len(rows) + 16), title)]
    for i, (label, passed, failed) in enumerate(rows):
        y = top + i * row_h
        pw, fw = plot_w * passed / total, plot_w * failed / total
        parts.append(f'<text x="{left - 8}" y="{y + 17}" font-size="12" text-anchor="end" '
                     f'fill="#0f172a">{escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 4}" width="{pw:.1f}" height="20" '
                     f'fill="#16a34a"/><rect x="{left + pw:.1f}" y="{y + 4}" width="{fw:.1f}" '
                     f'height="20" fill="#dc2626"/>')
        parts.append(f'<text x="{left + pw + fw + 8:.1f}" y="{y + 18}" font-size="11" '
                     f'fill="#475569">{passed} passed, {failed} failed</text>')
    parts.append("</svg>")
    return "".join(parts)


def nice_ceiling(value: float) -> float:
    """The next 1, 2, 2.5 or 5 times a power of ten: axis ticks people can read."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)


def _wrapped_label(label: str, x: float, y: float) -> str:
    """Rule ids wrap at their first hyphen, so neighbouring labels do not collide."""
    head, sep, tail = label.partition("-")
    lines = [head + sep, tail] if sep else [label]
    spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if i == 0 else 12}">{escape(part)}</tspan>'
                    for i, part in enumerate(lines))
    return (f'<text x="{x:.1f}" y="{y}" font-size="10" text-anchor="middle" '
            f'fill="#475569">{spans}</text>')


def _svg_open(width: int, height: int, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>'
            f'<text x="12" y="22" font-size="14" font-weight="600" fill="#0f172a">'
            f'{escape(title)}</text>')


def _axes(left: int, top: int, plot_w: int, plot_h: int, top_value: float, unit: str) -> str:
    parts = []
    for n in range(5):
        value = top_value * n / 4
        gy = top + plot_h - plot_h * n / 4
        parts.append(f'<line x1="{left}" y1="{gy:.1f}" x2="{left + plot_w}" y2="{gy:.1f}" '
                     f'stroke="#e2e8f0"/><text x="{left - 6}" y="{gy + 4:.1f}" font-size="10" '
                     f'text-anchor="end" fill="#475569">{fmt(round(value, 3))}{unit}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
                 f'y2="{top + plot_h}" stroke="#94a3b8"/>')
    return "".join(parts)


# -- HTML ------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#0f172a;
max-width:1100px}h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #e2e8f0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f8fafc}.pass{color:#15803d;font-weight:600}.fail{color:#b91c1c;font-weight:600}
.badge{display:inline-block;padding:4px 10px;border-radius:6px;color:#fff;font-weight:700}
.badge.pass{background:#16a34a;color:#fff}.badge.fail{background:#dc2626;color:#fff}
.skip{color:#64748b}.meta{color:#475569;font-size:13px}
.charts svg{display:block;margin:12px 0;border:1px solid #e2e8f0;border-radius:6px}
pre{white-space:pre-wrap;font-size:12px;background:#f8fafc;padding:6px;margin:0}
details{margin:6px 0}
"""


def history_series(history: Sequence[dict[str, Any]], names: Sequence[str]
                   ) -> tuple[list[str], dict[str, list[float | None]]]:
    runs = list(history)[-40:]
    labels = [f"{h.get('kb_version', '')[:6]} {str(h.get('time', ''))[5:10]}" for h in runs]
    series = {n: [h.get("metrics", {}).get(n) for h in runs] for n in names}
    return labels, series


def to_html(run: EvalRun, history: Sequence[dict[str, Any]]) -> str:
    runs = list(history) or [run.history_entry()]
    labels, rates = history_series(runs, RATE_METRICS)
    _, latency = history_series(runs, LATENCY_METRICS)
    by_rule = run.metrics.get("violations_by_rule", {})
    kinds = [(k, sum(1 for c in run.cases if c["kind"] == k and c["passed"]),
              sum(1 for c in run.cases if c["kind"] == k and not c["passed"]))
             for k in ("ask", "draft", "rfp", "fit")]
    charts = [
        line_chart(rates, labels, "Quality metrics over eval runs (0-1)", y_max=1.0),
        line_chart(latency, labels, "Latency over eval runs", unit=" ms"),
        bar_chart([(r, float(by_rule.get(r, 0))) for r in RULES],
                  "Governance violations caught in this run, by rule"),
        stacked_bars(kinds, "Cases passed and failed, by kind"),
    ]
    verdict = "pass" if run.passed else "fail"
    body = [
        f"<h1>kbassist eval <span class='badge {verdict}'>{verdict.upper()}</span></h1>",
        f"<p class='meta'>{escape(_header(run).replace('`', ''))}</p>",
        "<h2>Gates</h2>", _html_gates(run),
        "<h2>Charts</h2><div class='charts'>" + "".join(charts) + "</div>",
        "<h2>Metrics</h2>", _html_metrics(run),
        _html_by_tag(run),
        f"<h2>Regressions against the baseline ({len(run.regressions)})</h2>",
        _html_regressions(run),
        "<h2>Cases</h2>", _html_cases(run),
    ]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>kbassist eval: {verdict}</title><style>{_CSS}</style></head><body>"
            + "".join(body) + "</body></html>\n")


def _html_by_tag(run: EvalRun) -> str:
    table = by_tag(run)
    if not table:
        return ""
    head = "".join(f"<th>{escape(label)}</th>" for label in TAG_MEASURES.values())
    rows = [f"<h2>By tag</h2><table><tr><th>tag</th><th>cases</th><th>passed</th>{head}</tr>"]
    for row in table:
        cls = "pass" if row["passed"] == row["cases"] else "fail"
        rows.append(f"<tr><td>{escape(row['tag'])}</td><td>{row['cases']}</td>"
                    f"<td class='{cls}'>{row['passed']}</td>"
                    + "".join(f"<td>{fmt(row[m])}</td>" for m in TAG_MEASURES) + "</tr>")
    return "".join(rows) + "</table>"


def _html_gates(run: EvalRun) -> str:
    rows = ["<table><tr><th>gate</th><th>value</th><th>threshold</th><th>result</th>"
            "<th>why</th></tr>"]
    for gate in run.gates:
        cls = "skip" if gate.skipped else ("pass" if gate.passed else "fail")
        text = "skipped (nothing to measure)" if gate.skipped else cls
        rows.append(f"<tr><td>{escape(gate.name)}</td><td>{fmt(gate.value)}</td>"
                    f"<td>{escape(gate.op)} {fmt(gate.threshold)}</td>"
                    f"<td class='{cls}'>{text}</td><td>{escape(gate.why)}</td></tr>")
    return "".join(rows) + "</table>"


def _html_metrics(run: EvalRun) -> str:
    rows = ["<table><tr><th>metric</th><th>value</th><th>baseline</th><th>change</th>"
            "<th>meaning</th></tr>"]
    for name, value in run.metrics.items():
        if isinstance(value, dict):
            continue
        delta = run.metric_deltas.get(name)
        rows.append(f"<tr><td>{escape(name)}</td><td>{fmt(value)}</td>"
                    f"<td>{fmt(delta['baseline']) if delta else ''}</td>"
                    f"<td>{_signed(delta['delta']) if delta else ''}</td>"
                    f"<td>{escape(DESCRIPTIONS.get(name, ''))}</td></tr>")
    return "".join(rows) + "</table>"


def _html_regressions(run: EvalRun) -> str:
    if not run.baseline_meta:
        return "<p>No baseline to compare with.</p>"
    if not run.regressions:
        return "<p>None.</p>"
    items = []
    for entry in run.regressions:
        answer = entry.get("answer")
        items.append(
            f"<details open><summary><b>{escape(entry['id'])}</b> ({entry['kind']}): "
            f"explained: {escape(entry['explained'])}: "
            f"{escape('; '.join(entry['explanations']))}</summary>"
            f"<p>{escape('; '.join(entry['failed_checks']))}</p>"
            + (f"<pre>before: {escape(answer['before'])}\nafter:  {escape(answer['after'])}"
               "</pre>" if answer else "") + "</details>")
    return "".join(items)


def _html_cases(run: EvalRun) -> str:
    rows = ["<table><tr><th>case</th><th>kind</th><th>result</th><th>checks</th>"
            "<th>output</th></tr>"]
    for case in sorted(run.cases, key=lambda c: (c["passed"], c["kind"], c["id"])):
        cls = "pass" if case["passed"] else "fail"
        checks = "<br>".join(
            f"<span class='{'pass' if c['passed'] else 'fail'}'>{escape(c['name'])}</span>: "
            f"{escape(_short(c['reason'], 200))}" for c in case["checks"])
        rows.append(f"<tr><td>{escape(case['id'])}</td><td>{case['kind']}</td>"
                    f"<td class='{cls}'>{cls}</td><td>{checks}</td>"
                    f"<td>{escape(_short(case['output'], 300))}</td></tr>")
    return "".join(rows) + "</table>"
