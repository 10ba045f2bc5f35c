"""The week's usage, from the audit log: questions per day, top topics, governance
interventions by rule, the most cited claims and the claims nobody cited.

Claims never cited in the window are candidates for removal, not verdicts: a quiet week or
a narrow team can leave a good claim uncited, so the report prints how many outputs the
window holds next to the list. The chart is hand-written SVG (one bar per day), so the
report needs nothing beyond the standard library and numpy.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from kbassist.adapters.audit import (
    QUESTION_WORKFLOWS,
    REDACTED,
    AuditLog,
    as_utc,
    iso,
    parse_ts,
    utc_now,
)
from kbassist.app.gaps import Embed, cluster, package_names, topic_vectors
from kbassist.core.errors import UsageError
from kbassist.core.models import KnowledgePackage

TOP = 10
CHART_WIDTH, CHART_HEIGHT = 640, 320
_MARGIN = {"left": 48, "right": 16, "top": 40, "bottom": 48}


@dataclass(frozen=True)
class UsageReport:
    generated_at: str
    start: str  # first day of the window (UTC)
    end: str  # last day of the window (UTC), inclusive
    outputs: int
    by_workflow: dict[str, int]
    by_channel: dict[str, int]
    questions_per_day: list[dict[str, Any]]  # {"day": "YYYY-MM-DD", "questions": n}
    top_topics: list[dict[str, Any]]  # {"topic", "outputs"}: what the cited sources cover
    question_themes: list[dict[str, Any]]  # {"theme", "questions"}: only with an embedder
    statuses: dict[str, int]  # governance status: pass | revised | blocked
    interventions: dict[str, int]  # violations caught, by rule
    most_cited_claims: list[dict[str, Any]]
    never_cited_claims: list[dict[str, Any]]
    unknown: int
    feedback: dict[str, int]
    latency_ms: dict[str, dict[str, float]]  # workflow -> p50, p95

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    def to_markdown(self, chart: str | None = None) -> str:
        """The report; ``chart`` is the path of the SVG from ``to_svg`` to embed, if saved."""
        return "\n".join(_markdown(self, chart)) + "\n"

    def to_svg(self) -> str:
        return bar_chart(
            [(d["day"][5:], int(d["questions"])) for d in self.questions_per_day],
            title=f"Questions per day, {self.start} to {self.end} (UTC)",
        )


def usage_report(
    log: AuditLog,
    package: KnowledgePackage,
    *,
    days: int = 7,
    now: datetime | None = None,
    embed: Embed | None = None,
) -> UsageReport:
    """Usage over the last ``days`` calendar days (UTC), today included. With ``embed``, the
    questions are also clustered into themes (as the gaps report does)."""
    if days < 1:
        raise UsageError(f"the report window must be at least 1 day, not {days}")
    moment = (as_utc(now) or utc_now()).astimezone(UTC)
    first = moment.date() - timedelta(days=days - 1)
    rows = [r for r in log.outputs(since=first) if parse_ts(r["ts"]) <= moment]
    cited = Counter(c for r in rows for c in dict.fromkeys(r["citations"]))
    outputs_by_id = {r["id"] for r in rows}
    feedback = Counter(f["rating"] for f in log.feedback(since=first)
                       if f["output_id"] in outputs_by_id)
    questions = [r for r in rows if r["workflow"] in QUESTION_WORKFLOWS and r["question"]]
    return UsageReport(
        generated_at=iso(moment),
        start=first.isoformat(),
        end=moment.date().isoformat(),
        outputs=len(rows),
        by_workflow=dict(Counter(r["workflow"] for r in rows).most_common()),
        by_channel=dict(Counter(r["channel"] for r in rows).most_common()),
        questions_per_day=_per_day(questions, first, days),
        top_topics=_topics(rows, package),
        question_themes=_themes(questions, package, embed) if embed else [],
        statuses=dict(Counter(r["status"] or "unchecked" for r in rows).most_common()),
        interventions=dict(
            Counter(v["rule"] for r in rows for v in r["violations"]).most_common()),
        most_cited_claims=[
            {"id": c, "citations": n, "text": claim.text}
            for c, n in cited.most_common() if (claim := package.claim(c))][:TOP],
        never_cited_claims=[
            {"id": c.id, "kind": c.kind, "pillar": c.pillar, "text": c.text}
            for c in package.approved_claims(moment.date()) if not cited[c.id]],
        unknown=sum(r["unknown"] for r in rows),
        feedback={"up": feedback["up"], "down": feedback["down"]},
        latency_ms=_latency(rows),
    )


def _per_day(rows: Iterable[dict[str, Any]], first: date, days: int) -> list[dict[str, Any]]:
    counts = Counter(r["ts"][:10] for r in rows)
    window = [(first + timedelta(days=n)).isoformat() for n in range(days)]
    return [{"day": day, "questions": counts[day]} for day in window]


def _topics(rows: Iterable[dict[str, Any]], package: KnowledgePackage) -> list[dict[str, Any]]:
    """What answers drew on: claim pillars (or kinds), roadmap items, ICP and documents."""
    counts: Counter[str] = Counter()
    for row in rows:
        counts.update({t for c in row["citations"] if (t := _topic(c, package))})
    return [{"topic": t, "outputs": n} for t, n in counts.most_common(TOP)]


def _topic(source: str, package: KnowledgePackage) -> str | None:
    claim = package.claim(source)
    if claim is not None:
        return f"pillar: {claim.pillar}" if claim.pillar else f"{claim.kind} claims"
    item = package.roadmap_item(source)
    if item is not None:
        return f"roadmap: {item.title}"
    icp = package.segment(source) or package.persona(source)
    if icp is not None:
        return f"ICP: {icp.name}"
    document = package.document(source.split("#", 1)[0])
    return f"document: {document.title}" if document else None


def _themes(
    rows: Sequence[dict[str, Any]], package: KnowledgePackage, embed: Embed
) -> list[dict[str, Any]]:
    by_text = Counter(r["question"] for r in rows if r["question"] != REDACTED)
    texts = list(by_text)
    if not texts:
        return []
    vectors = topic_vectors(texts, embed, package_names(package))
    labels = cluster(vectors)
    themes = []
    for label in set(labels):
        index = [i for i, lab in enumerate(labels) if lab == label]
        weights = np.array([by_text[texts[i]] for i in index], dtype=np.float64)
        medoid = index[int(np.argmax((vectors[index] @ vectors[index].T) @ weights))]
        themes.append({"theme": texts[medoid], "questions": int(weights.sum())})
    return sorted(themes, key=lambda t: (-t["questions"], t["theme"]))[:TOP]


def _latency(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    by_workflow: dict[str, list[float]] = {}
    for row in rows:
        by_workflow.setdefault(row["workflow"], []).append(float(row["latency_ms"]))
    return {
        workflow: {"p50": round(float(np.percentile(values, 50)), 1),
                   "p95": round(float(np.percentile(values, 95)), 1)}
        for workflow, values in sorted(by_workflow.items())
    }


# -- SVG ---------------------------------------------------------------------------------------


def _nice_step(top: int, ticks: int = 5) -> int:
    """1, 2 or 5 times a power of ten, giving at most ``ticks`` gridlines above zero."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            if top <= step * ticks:
                return step
        magnitude *= 10


def bar_chart(bars: Sequence[tuple[str, int]], *, title: str) -> str:
    """A labelled bar chart as standalone SVG 1.1 (valid XML, no scripts, no external refs)."""
    left, right, top_margin, bottom = (_MARGIN[k] for k in ("left", "right", "top", "bottom"))
    plot_w = CHART_WIDTH - left - right
    plot_h = CHART_HEIGHT - top_margin - bottom
    highest = max((v for _, v in bars), default=0)
    step = _nice_step(max(highest, 1))
    axis_top = step * -(-max(highest, 1) // step)
    base_y = top_margin + plot_h
    slot = plot_w / max(len(bars), 1)
    summary = ", ".join(f"{label}: {value}" for label, value in bars)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" '
        f'height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" '
        f'aria-labelledby="chart-title chart-desc" font-family="sans-serif" font-size="12">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(summary)}</desc>',
        f'<rect width="{CHART_WIDTH}" height="{CHART_HEIGHT}" fill="#ffffff"/>',
        f'<text x="{left}" y="24" font-size="14" font-weight="bold" fill="#222222">'
        f'{escape(title)}</text>',
    ]
    for tick in range(0, axis_top + 1, step):
        y = base_y - plot_h * tick / axis_top
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{CHART_WIDTH - right}" '
                     f'y2="{y:.1f}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'fill="#555555">{tick}</text>')
    for n, (label, value) in enumerate(bars):
        height = plot_h * value / axis_top
        x = left + n * slot + slot * 0.15
        width = slot * 0.7
        centre = x + width / 2
        parts.append(f'<rect x="{x:.1f}" y="{base_y - height:.1f}" width="{width:.1f}" '
                     f'height="{height:.1f}" fill="#2f6db5"><title>{escape(label)}: {value}'
                     f'</title></rect>')
        parts.append(f'<text x="{centre:.1f}" y="{base_y - height - 4:.1f}" '
                     f'text-anchor="middle" fill="#222222">{value}</text>')
        parts.append(f'<text x="{centre:.1f}" y="{base_y + 16}" text-anchor="middle" '
                     f'fill="#555555">{escape(label)}</text>')
    parts.append(f'<line x1="{left}" y1="{base_y}" x2="{CHART_WIDTH - right}" y2="{base_y}" '
                 'stroke="#888888"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# -- markdown ----------------------------------------------------------------------------------


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(report: UsageReport, chart: str | None) -> list[str]:
    total_questions = sum(d["questions"] for d in report.questions_per_day)
    workflows = ", ".join(f"{w} {n}" for w, n in report.by_workflow.items()) or "none"
    lines = [
        f"# Usage report, {report.start} to {report.end}", "",
        f"{report.outputs} outputs ({workflows}); {total_questions} questions, "
        f"{report.unknown} answered as unknown; feedback: {report.feedback['up']} up, "
        f"{report.feedback['down']} down.", "",
        "## Questions per day", "",
    ]
    if chart:
        lines += [f"![Questions per day]({chart})", ""]
    lines += ["| Day | Questions |", "|---|---|"]
    lines += [f"| {d['day']} | {d['questions']} |" for d in report.questions_per_day]
    lines += ["", "## Top topics", ""]
    lines += _bullets([f"{t['topic']}: {t['outputs']} output(s)" for t in report.top_topics])
    if report.question_themes:
        lines += ["### Question themes", ""]
        lines += _bullets([f"{t['theme']} ({t['questions']})" for t in report.question_themes])
    lines += _governance(report)
    lines += ["## Most cited claims", ""]
    if report.most_cited_claims:
        lines += ["| Claim | Citations |", "|---|---|"]
        lines += [f"| `{c['id']}` | {c['citations']} |" for c in report.most_cited_claims]
        lines.append("")
    else:
        lines += ["No claims cited in this window.", ""]
    lines += [
        "## Claims never cited (candidates for removal)", "",
        f"Approved claims no output cited in these {report.outputs} outputs; check before "
        "removing: a quiet week can leave a good claim uncited.", "",
    ]
    lines += _bullets([f"`{c['id']}` ({c['kind']}): {c['text']}"
                       for c in report.never_cited_claims])
    return lines


def _governance(report: UsageReport) -> list[str]:
    statuses = ", ".join(f"{s} {n}" for s, n in report.statuses.items()) or "none"
    lines = ["## Governance interventions", "", f"Outputs by verdict: {statuses}.", ""]
    if report.interventions:
        lines += ["| Rule | Violations caught |", "|---|---|"]
        lines += [f"| {_cell(rule)} | {n} |" for rule, n in report.interventions.items()]
        lines.append("")
    else:
        lines += ["No violations caught in this window.", ""]
    if report.latency_ms:
        lines += ["| Workflow | p50 latency (ms) | p95 latency (ms) |", "|---|---|---|"]
        lines += [f"| {w} | {v['p50']} | {v['p95']} |" for w, v in report.latency_ms.items()]
        lines.append("")
    return lines


def _bullets(items: Sequence[str]) -> list[str]:
    return [*(f"- {_cell(i)}" for i in items), ""] if items else ["None.", ""]

