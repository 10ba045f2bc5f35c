"""The app's HTML: roadmap statuses as reps say them, escaped text, no internal notes, sources
that open to their passage and ``path:line``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from kbassist.adapters.package.loader import load_package
from kbassist.core.chunks import Chunk
from kbassist.core.governance import GovernedOutput, Violation
from kbassist.core.models import KnowledgePackage
from kbassist.ui.ask import reveal_steps
from kbassist.ui.render import (
    ClaimFilter,
    board_status,
    claims_table_html,
    findings_html,
    governance_details,
    governance_title,
    roadmap_board_html,
    sources_html,
)
from kbfactory import make_package

TODAY = date(2026, 1, 15)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> KnowledgePackage:
    return load_package(make_package(tmp_path_factory.mktemp("kb") / "kb"))


@pytest.mark.parametrize("status, column", [
    ("available", "now"), ("next", "next"), ("later", "later"), ("never", "never"),
])
def test_roadmap_status_maps_to_the_board(status: str, column: str) -> None:
    assert board_status(status) == column


def test_board_shows_approved_wording_and_never_internal_notes(package: KnowledgePackage) -> None:
    board = roadmap_board_html(package.roadmap)
    for column in ("now", "next", "later", "never"):
        assert f'data-column="{column}"' in board
    assert "it isn&#x27;t available today and has no date" in board  # `say`, escaped
    assert "2031 Q3" in board  # a next item's window
    assert "Zephyrquill" not in board and "Obsidianmoor" not in board  # `internal`


def test_sources_open_to_the_passage_and_path_line() -> None:
    chunks = [
        Chunk(node_id="claim:a", kind="claim", ref_id="sso-support", source="claims.yaml",
              title="Claim sso-support", text="Supports <SAML> SSO.", line=42),
        Chunk(node_id="roadmap:b", kind="roadmap", ref_id="battery", source="roadmap.yaml",
              title="Battery forecasting", text="In development.", line=7, status="next"),
        Chunk(node_id="doc:c", kind="messaging", ref_id="messaging/p.md#pricing",
              source="messaging/p.md", title="Positioning › Pricing", text="Per robot.",
              line=9),
    ]
    html = sources_html(chunks, [{"id": "fleet-map", "status": "available",
                                  "title": "Live fleet map"}])
    assert html.count('<details class="kb-cite">') == 4
    assert "sso-support" in html and "claims.yaml:42" in html
    assert "Supports &lt;SAML&gt; SSO." in html  # escaped, never markup
    assert 'class="kb-chip next"' in html and "messaging/p.md:9" in html
    assert 'class="kb-chip now"' in html  # asked about, not cited: still shown with status


def test_no_sources_renders_nothing() -> None:
    assert sources_html([]) == ""


def test_governance_badge_says_what_changed() -> None:
    caught = Violation(rule="unapproved-number", span=(0, 3), excerpt="45%",
                       detail="45% is in no approved claim")
    governed = GovernedOutput(text="x", status="revised", caught=(caught,),
                              changes=("removed the sentence with 45%",))
    assert "revised" in governance_title(governed)
    assert "(1 change)" in governance_title(governed)
    details = governance_details(governed)
    assert "removed the sentence with 45%" in details and "unapproved-number" in details
    passed = GovernedOutput(text="x", status="pass")
    assert "No changes needed" in governance_details(passed)
    assert "Not in the approved material" in governance_title(passed, unknown=True)


@pytest.mark.parametrize("keep, expected", [
    (ClaimFilter(), {"per-robot-pricing", "uptime-stat", "picking-speed", "old-award"}),
    (ClaimFilter(kind="stat"), {"uptime-stat", "picking-speed"}),
    (ClaimFilter(persona="ops-director"), {"picking-speed", "per-robot-pricing"}),
    (ClaimFilter(text="harbor"), {"harbor-logistics-story"}),
])
def test_claim_filters(package: KnowledgePackage, keep: ClaimFilter,
                       expected: set[str]) -> None:
    html = claims_table_html(package.claims, TODAY, keep)
    shown = {c.id for c in package.claims if f'<td class="kb-id">{c.id}</td>' in html}
    assert expected <= shown
    if keep.kind:
        assert all(c.kind == keep.kind for c in package.claims if c.id in shown)


def test_claims_show_expiry(package: KnowledgePackage) -> None:
    html = claims_table_html(package.claims, TODAY, ClaimFilter())
    assert "expired 2020-01-01" in html and "until 2030-01-01" in html


def test_lint_findings_show_package_relative_paths(tmp_path: Path) -> None:
    finding = SimpleNamespace(path=str(tmp_path / "claims.yaml"), line=12, rule="expired-claim",
                              message="claim 'x' expired", severity="warning")
    html = findings_html([], [finding], root=tmp_path)
    assert "claims.yaml:12" in html and str(tmp_path) not in html
    assert "No errors or warnings" in findings_html([], [], root=tmp_path)


@pytest.mark.parametrize("answer", [
    "One sentence.", "First. Second! Third?", " ".join(f"S{i}." for i in range(40)),
])
def test_reveal_ends_with_the_whole_governed_answer(answer: str) -> None:
    steps = reveal_steps(answer)
    assert steps[-1] == answer
    assert len(steps) <= 13
    assert all(answer.startswith(step) for step in steps)
