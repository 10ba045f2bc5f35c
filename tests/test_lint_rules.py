"""Knowledge lint: one table row per rule, each asserting path:line, rule id and severity; the
sample package lints with warnings only."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.app.lint import Finding, LintReport, lint_package
from kbassist.cli import main
from kbfactory import CLAIMS_YAML, ICP_YAML, ROADMAP_YAML, make_package

REPO = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 22)


def _found(report: LintReport, root: Path) -> set[tuple[str, int, str, str]]:
    def row(f: Finding) -> tuple[str, int, str, str]:
        return Path(f.path).relative_to(root).as_posix(), f.line, f.rule, f.severity
    return {row(f) for f in [*report.errors, *report.warnings]}


def _lint(tmp_path: Path, overrides: dict[str, str | None]) -> tuple[LintReport, Path]:
    root = make_package(tmp_path / "kb", overrides)
    return lint_package(root, TODAY), root


@pytest.fixture(scope="module")
def baseline_findings(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, int, str, str]]:
    """What the unmodified factory package reports (its expired 'old-award' claim)."""
    root = make_package(tmp_path_factory.mktemp("base") / "kb")
    return _found(lint_package(root, TODAY), root)


DOC_CASES = [
    # (file, sentence on line 3, rule, severity)
    ("messaging/extra.md", "Battery health forecasting is available today.",
     "roadmap-overpromise", "error"),
    ("reference/extra.md", "Battery health forecasting is available today.",
     "roadmap-overpromise", "warning"),
    ("messaging/extra.md", "On-premises deployment is included for every customer.",
     "roadmap-overpromise", "error"),
    ("messaging/extra.md", "Robots pick orders 45% faster with Nordlicht Fleet.",
     "unapproved-number", "error"),
    ("reference/extra.md", "Robots pick orders 45% faster with Nordlicht Fleet.",
     "unapproved-number", "warning"),
    ("messaging/extra.md", "Nordlicht Fleet is the best-in-class robot manager.",
     "banned-phrase", "error"),
    ("reference/extra.md", "Nordlicht Fleet is the best-in-class robot manager.",
     "banned-phrase", "warning"),
    ("messaging/extra.md", "Nordlicht Fleet won the Warehouse Innovation Award.",
     "expired-claim-wording", "error"),
    ("reference/notes.md", "The drone work waits on the Obsidianmoor partnership.",
     "internal-leak", "error"),
    ("messaging/extra.md", "The live fleet map isn't available yet.",
     "roadmap-status-conflict", "error"),
    ("reference/extra.md", "The live fleet map is in development.",
     "roadmap-status-conflict", "warning"),
]


@pytest.mark.parametrize(("rel", "sentence", "rule", "severity"), DOC_CASES,
                         ids=[f"{r}-{p.split('/')[0]}" for p, _, r, _ in DOC_CASES])
def test_document_rules(tmp_path: Path, baseline_findings: set[tuple[str, int, str, str]],
                        rel: str, sentence: str, rule: str, severity: str) -> None:
    report, root = _lint(tmp_path, {rel: f"# Notes\n\n{sentence}\n"})
    assert _found(report, root) - baseline_findings == {(rel, 3, rule, severity)}


def test_the_line_is_the_sentence_line_after_front_matter(tmp_path: Path) -> None:
    text = ("---\ntitle: T\nreview_by: 2030-01-01\n---\n# T\n\nA **bold** line.\n\n## Later\n\n"
            "Robots pick orders\n45% faster with Nordlicht Fleet.\n")
    report, root = _lint(tmp_path, {"messaging/t.md": text})
    [finding] = report.errors
    assert (Path(finding.path).name, finding.line, finding.rule) == ("t.md", 12,
                                                                     "unapproved-number")


def test_approved_figures_and_declines_are_not_findings(tmp_path: Path,
                                                        baseline_findings: set[tuple]) -> None:
    text = ("# Fine\n\nFleet controllers ran at 99.9% availability across customers last year.\n"
            "We don't offer an on-premises deployment.\n"
            "Battery health forecasting is in development; it isn't available today.\n"
            "The live fleet map is available today.\n")
    report, root = _lint(tmp_path, {"messaging/fine.md": text})
    assert _found(report, root) == baseline_findings


ROADMAP_CASES = [
    ("  - id: fleet-map\n    title: Live fleet map\n    status: available\n",
     "  - id: fleet-map\n    title: Live fleet map\n    status: available\n"
     "    say: The live fleet map is in development.\n",
     (2, "roadmap-status-conflict", "error")),
    ("    status: later\n", "    status: later\n    window: 2032 H1\n",
     (11, "roadmap-stale-window", "warning")),
    ("We're exploring drone inventory scanning; it isn't available today and has no date.",
     "Drone inventory scanning is committed and in development.",
     (11, "roadmap-status-conflict", "error")),
]


@pytest.mark.parametrize(("old", "new", "expected"), ROADMAP_CASES,
                         ids=["available-with-old-say", "later-with-window",
                              "later-with-committed-say"])
def test_roadmap_rules(tmp_path: Path, baseline_findings: set[tuple[str, int, str, str]],
                       old: str, new: str, expected: tuple[int, str, str]) -> None:
    assert old in ROADMAP_YAML
    report, root = _lint(tmp_path, {"roadmap.yaml": ROADMAP_YAML.replace(old, new, 1)})
    assert _found(report, root) - baseline_findings == {("roadmap.yaml", *expected)}


DUPLICATE = """
  - id: uptime-stat-2
    text: "Fleet controllers ran at 99.5% availability across customers last year."
    kind: stat
"""


def test_near_duplicate_claims_with_different_figures(tmp_path: Path) -> None:
    report, root = _lint(tmp_path, {"claims.yaml": CLAIMS_YAML + DUPLICATE})
    [finding] = [f for f in report.warnings if f.rule == "conflicting-claims"]
    assert finding.line == CLAIMS_YAML.count("\n") + 2
    assert "'uptime-stat'" in finding.message and "'uptime-stat-2'" in finding.message


def test_near_duplicates_with_embeddings_are_errors(tmp_path: Path) -> None:
    paraphrase = DUPLICATE.replace(
        "Fleet controllers ran at 99.5% availability across customers last year.",
        "Across customers, fleet controllers ran at 99.5% availability last year.")
    root = make_package(tmp_path / "kb", {"claims.yaml": CLAIMS_YAML + paraphrase})
    report = lint_package(root, TODAY, embed=MiniLMEmbedder().embed_batch)
    assert [f.rule for f in report.errors] == ["conflicting-claims"]


def test_same_figures_or_other_customers_are_not_conflicts(tmp_path: Path) -> None:
    same = DUPLICATE.replace("99.5%", "99.9%")
    other = ('\n  - id: other-story\n    text: "Dockside Freight cut robot downtime in half after '
             'moving to Nordlicht Fleet."\n    kind: customer\n    customer: Dockside Freight\n')
    report, _ = _lint(tmp_path, {"claims.yaml": CLAIMS_YAML + same + other})
    assert not [f for f in [*report.errors, *report.warnings] if f.rule == "conflicting-claims"]


def test_coverage_warnings(tmp_path: Path) -> None:
    icp = ICP_YAML + (
        "  - id: cfo\n    name: Finance\n    objections:\n"
        "      - objection: \"Any awards?\"\n        answer_claims: [old-award]\n")
    icp = icp.replace("personas:\n", "  - id: ports\n    name: Ports\n    industries: [ports]\n"
                      "personas:\n", 1)
    report, root = _lint(tmp_path, {"icp.yaml": icp})
    rules = {(r, s) for _, _, r, s in _found(report, root)}
    assert {("persona-without-claims", "warning"), ("segment-without-proof", "warning"),
            ("objection-expired-claims", "warning")} <= rules
    assert not report.errors


def test_validator_errors_stay_errors(tmp_path: Path) -> None:
    claims = CLAIMS_YAML.replace("personas: [ops-director]", "personas: [nobody]")
    report, root = _lint(tmp_path, {"claims.yaml": claims})
    assert [(f.rule, f.severity) for f in report.errors] == [("unknown-persona", "error")]


def test_the_sample_package_has_warnings_only() -> None:
    root = REPO / "knowledge"
    report = lint_package(root, TODAY, embed=MiniLMEmbedder().embed_batch)
    assert report.errors == []
    assert _found(report, root) == {
        ("claims.yaml", 190, "expiring-claim", "warning"),
        ("claims.yaml", 197, "expired-claim", "warning"),
        ("reference/discovery-call-guide.md", 1, "stale-document", "warning"),
        # the stale guide still quotes the expired app-store rating: reference, so a warning
        ("reference/discovery-call-guide.md", 37, "unapproved-number", "warning"),
    }


def test_cli_lint(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    kb = make_package(tmp_path / "kb", {
        "messaging/extra.md": "# X\n\nRobots pick orders 45% faster with Nordlicht Fleet.\n"})
    code = main(["lint", "--kb", str(kb), "--no-embeddings"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{(kb / 'messaging/extra.md').as_posix()}:3: error: " in out
    assert out.strip().endswith("1 error(s), 1 warning(s) (expired-claim 1, unapproved-number 1)")
    (kb / "messaging" / "extra.md").unlink()
    assert main(["lint", "--kb", str(kb), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["errors"] == [] and payload["warnings"][0]["rule"] == "expired-claim"
