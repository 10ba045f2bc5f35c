"""The weekly usage report: window, counts, interventions, citations, themes and the SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kbassist.adapters.audit import AuditLog
from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.adapters.package.loader import load_package
from kbassist.app.usage_report import bar_chart, usage_report
from kbassist.core.errors import UsageError
from kbassist.core.models import KnowledgePackage
from kbassist.core.results import OutputRecord

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 10, 11, 18, 0, tzinfo=UTC)  # a Sunday evening
SVG = "{http://www.w3.org/2000/svg}"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def package() -> KnowledgePackage:
    return load_package(ROOT / "knowledge")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(tmp_path: Path, clock: Clock) -> AuditLog:
    return AuditLog(tmp_path / "audit.sqlite3", clock=clock)


def output(workflow: str = "ask", question: str | None = "How is it priced?",
           **overrides: Any) -> OutputRecord:
    fields: dict[str, Any] = {
        "workflow": workflow, "inputs": {"question": question} if question else {},
        "output": "answer", "citations": [],
        "checks": {"status": "pass", "violations": [], "changes": []},
        "backend": "offline", "model": "composer",
        "prompt": {"id": "offline-composer", "version": 1}, "kb_version": "kb-1",
        "latency_ms": 100.0, **overrides,
    }
    return OutputRecord(**fields)


def at(clock: Clock, days_ago: int, hour: int = 10) -> None:
    clock.now = (NOW - timedelta(days=days_ago)).replace(hour=hour)


def violation(rule: str) -> dict[str, Any]:
    return {"rule": rule, "detail": "", "span": [0, 1], "excerpt": ""}


def test_questions_per_day_cover_the_window_with_zeros(
    log: AuditLog, clock: Clock, package: KnowledgePackage
) -> None:
    for days_ago, count in ((8, 5), (6, 2), (3, 1), (0, 4)):
        at(clock, days_ago)
        for _ in range(count):
            log.record(output())
    at(clock, 0)
    log.record(output("draft", question=None))  # not a question
    clock.now = NOW + timedelta(hours=3)
    log.record(output())  # after the report's "now": excluded
    report = usage_report(log, package, now=NOW)
    assert (report.start, report.end) == ("2026-10-05", "2026-10-11")
    assert [(d["day"], d["questions"]) for d in report.questions_per_day] == [
        ("2026-10-05", 2), ("2026-10-06", 0), ("2026-10-07", 0), ("2026-10-08", 1),
        ("2026-10-09", 0), ("2026-10-10", 0), ("2026-10-11", 4)]
    assert report.outputs == 8 and report.by_workflow == {"ask": 7, "draft": 1}


def test_interventions_statuses_unknowns_feedback_and_latency(
    log: AuditLog, package: KnowledgePackage
) -> None:
    revised = {"status": "revised", "changes": ["rewrote"],
               "violations": [violation("banned-phrase"), violation("unapproved-number")]}
    blocked = {"status": "blocked", "changes": ["blocked"],
               "violations": [violation("roadmap-overpromise"), violation("banned-phrase")]}
    log.record(output(checks=revised, latency_ms=200.0))
    first = log.record(output(checks=blocked, latency_ms=400.0, unknown=True))
    log.record(output("draft", question=None, latency_ms=900.0))
    log.record_feedback(first, "down", "blocked for no reason")
    log.record_feedback(first, "up")
    report = usage_report(log, package, now=NOW)
    assert report.interventions == {"banned-phrase": 2, "unapproved-number": 1,
                                    "roadmap-overpromise": 1}
    assert report.statuses == {"revised": 1, "blocked": 1, "pass": 1}
    assert report.unknown == 1 and report.feedback == {"up": 1, "down": 1}
    assert report.latency_ms == {"ask": {"p50": 300.0, "p95": 390.0},
                                 "draft": {"p50": 900.0, "p95": 900.0}}


def test_most_cited_and_never_cited_claims(log: AuditLog, package: KnowledgePackage) -> None:
    log.record(output(citations=["list-prices", "per-technician-pricing", "list-prices"]))
    log.record(output(citations=["list-prices", "payroll"]))
    log.record(output("draft", question=None, citations=["customer-corbel"]))
    report = usage_report(log, package, now=NOW)
    assert [(c["id"], c["citations"]) for c in report.most_cited_claims] == [
        ("list-prices", 2), ("per-technician-pricing", 1), ("customer-corbel", 1)]
    never = {c["id"] for c in report.never_cited_claims}
    approved = {c.id for c in package.approved_claims(NOW.date())}
    assert never == approved - {"list-prices", "per-technician-pricing", "customer-corbel"}
    assert "app-store-rating" not in never  # expired claims aren't candidates: already out


def test_top_topics_come_from_what_answers_cited(log: AuditLog, package: KnowledgePackage) -> None:
    log.record(output(citations=["skills-based-dispatch", "corbel-first-time-fix"]))
    log.record(output(citations=["first-year-return", "list-prices"]))
    log.record(output(citations=["payroll", "hvac-service",
                                 "reference/implementation-guide.md#integrations"]))
    topics = {t["topic"]: t["outputs"] for t in usage_report(log, package, now=NOW).top_topics}
    assert topics == {
        "pillar: first-time-fix": 2,  # counted once per output
        "pricing claims": 1,
        "roadmap: Built-in payroll processing": 1,
        "ICP: Commercial HVAC and mechanical service contractors": 1,
        "document: Implementation guide": 1,
    }


def test_question_themes_with_the_local_embedder(
    log: AuditLog, package: KnowledgePackage
) -> None:
    for question in ("Can the customer pay monthly?", "Is there a monthly payment plan?",
                     "Can customers pay monthly instead of annually?",
                     "Do you integrate with HubSpot?"):
        log.record(output(question=question))
    report = usage_report(log, package, now=NOW, embed=MiniLMEmbedder().embed_batch)
    assert [t["questions"] for t in report.question_themes] == [3, 1]
    assert report.question_themes[1]["theme"] == "Do you integrate with HubSpot?"


def test_svg_is_valid_xml_with_one_bar_per_day(log: AuditLog, clock: Clock,
                                               package: KnowledgePackage) -> None:
    for days_ago in (0, 0, 0, 2):
        at(clock, days_ago)
        log.record(output())
    svg = usage_report(log, package, now=NOW).to_svg()
    root = ET.fromstring(svg.split("?>", 1)[1])
    assert root.tag == f"{SVG}svg"
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars) == 7
    assert [float(b.attrib["height"]) > 0 for b in bars] == [
        False, False, False, False, True, False, True]
    assert root.findtext(f"{SVG}title") == "Questions per day, 2026-10-05 to 2026-10-11 (UTC)"


@pytest.mark.parametrize("values", [[0, 0, 0], [1], [3, 17, 250]])
def test_bar_chart_escapes_labels_and_scales(values: list[int]) -> None:
    bars = [(f"<d{n}&>", v) for n, v in enumerate(values)]
    root = ET.fromstring(bar_chart(bars, title="A & B").split("?>", 1)[1])
    heights = [float(r.attrib["height"]) for r in root.iter(f"{SVG}rect")
               if r.find(f"{SVG}title") is not None]
    assert len(heights) == len(values)
    assert max(heights) <= 320 - 40 - 48
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "<d0&>" in labels


def test_markdown_has_every_section(log: AuditLog, package: KnowledgePackage) -> None:
    log.record(output(citations=["list-prices"], checks={
        "status": "revised", "changes": [], "violations": [violation("banned-phrase")]}))
    markdown = usage_report(log, package, now=NOW).to_markdown(chart="usage.svg")
    for heading in ("# Usage report, 2026-10-05 to 2026-10-11", "## Questions per day",
                    "![Questions per day](usage.svg)", "## Top topics",
                    "## Governance interventions", "| banned-phrase | 1 |",
                    "## Most cited claims", "| `list-prices` | 1 |",
                    "## Claims never cited (candidates for removal)"):
        assert heading in markdown


def test_an_empty_window_still_reports(log: AuditLog, package: KnowledgePackage) -> None:
    report = usage_report(log, package, days=1, now=NOW)
    assert report.outputs == 0 and report.questions_per_day == [
        {"day": "2026-10-11", "questions": 0}]
    assert "No violations caught" in report.to_markdown()
    ET.fromstring(report.to_svg().split("?>", 1)[1])


def test_the_window_must_be_at_least_a_day(log: AuditLog, package: KnowledgePackage) -> None:
    with pytest.raises(UsageError, match="at least 1 day"):
        usage_report(log, package, days=0, now=NOW)
