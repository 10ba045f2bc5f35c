"""Governed outreach drafts: channels, persona-specific selection, roadmap handling by status."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.adapters.package.loader import load_package
from kbassist.app.assistant import Assistant
from kbassist.app.settings import Settings
from kbassist.app.wiring import build_assistant
from kbassist.core.draft import (
    CALL_OPENER_MAX_WORDS,
    LINKEDIN_MAX_CHARS,
    DraftRequest,
    lexical_ranker,
    plan_draft,
)
from kbassist.core.errors import UsageError
from kbfactory import CLAIMS_YAML, ROADMAP_YAML, make_package

TODAY = date(2026, 11, 22)

EXTRA_CLAIMS = CLAIMS_YAML + """\
  - id: finance-payback
    text: "Most fleets pay back the subscription within the first year of use."
    kind: value
    pillar: payback
    personas: [finance-lead]
  - id: grocery-proof
    text: "FreshCart Grocers cut pick errors by 40% after moving to Nordlicht Fleet."
    kind: proof
    customer: FreshCart Grocers
    segments: [grocery]
"""

ICP = """\
segments:
  - id: third-party-logistics
    name: Third-party logistics providers
    industries: [logistics]
    pains: ["robots idle during peaks"]
  - id: grocery
    name: Grocery distribution
    industries: [grocery]
    pains: ["pick errors on fresh goods"]
personas:
  - id: ops-director
    name: Operations Director
    cares_about: ["throughput", "picking speed"]
    objections:
      - objection: "Is it expensive?"
        answer_claims: [per-robot-pricing]
  - id: finance-lead
    name: Finance Lead
    cares_about: ["payback", "predictable costs"]
    objections:
      - objection: "Will it pay back?"
        answer_claims: [finance-payback]
"""


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    root = tmp_path_factory.mktemp("draft")
    kb = make_package(root / "kb", {"claims.yaml": EXTRA_CLAIMS, "icp.yaml": ICP})
    return build_assistant(Settings(kb=kb, data_dir=root / "data"), embedder=MiniLMEmbedder(),
                           today=TODAY)


def draft(assistant: Assistant, channel: str, **fields: str) -> dict:
    request = DraftRequest(channel=channel, **fields)  # type: ignore[arg-type]
    return assistant.draft(request).to_json()


def test_email_has_subject_greeting_and_sign_off(assistant: Assistant) -> None:
    result = draft(assistant, "email", persona="ops-director", account="Kestrel Freight",
                   contact="Mia Lang", rep_name="Jo Park")
    assert result["subject"] and "Kestrel Freight" in result["subject"]
    assert result["body"].startswith("Hi Mia,")
    assert result["body"].rstrip().endswith("Jo Park")
    assert result["checks"]["status"] in {"pass", "revised"}
    assert result["checks"]["remaining"] == []
    assert result["citations"], "a draft cites the claims it uses"


def test_linkedin_note_fits_300_characters(assistant: Assistant) -> None:
    result = draft(assistant, "linkedin", persona="finance-lead", contact="Ola Berg")
    assert result["subject"] == ""
    assert len(result["body"]) <= LINKEDIN_MAX_CHARS
    assert result["body"].startswith("Hi Ola,")


def test_call_opener_can_be_said_in_30_seconds(assistant: Assistant) -> None:
    result = draft(assistant, "call-opener", persona="ops-director", contact="Ravi Shah",
                   rep_name="Jo Park")
    assert len(result["body"].split()) <= CALL_OPENER_MAX_WORDS
    assert "Jo Park" in result["body"] and "Nordlicht Robotics" in result["body"]


def test_persona_specific_claims_lead(tmp_path: Path) -> None:
    package = load_package(make_package(tmp_path, {"claims.yaml": EXTRA_CLAIMS, "icp.yaml": ICP}))
    finance = plan_draft(package, DraftRequest("email", "finance-lead"), TODAY, lexical_ranker)
    ops = plan_draft(package, DraftRequest("email", "ops-director"), TODAY, lexical_ranker)
    assert finance.lead[0].id == "finance-payback" and "payback" in finance.pillars
    assert "finance-payback" not in [c.id for c in ops.claims()]
    assert "picking-speed" in [c.id for c in ops.claims()]
    assert [answer.id for _, answer in finance.objections] == ["finance-payback"]


def test_proof_points_respect_the_segment(tmp_path: Path) -> None:
    package = load_package(make_package(tmp_path, {"claims.yaml": EXTRA_CLAIMS, "icp.yaml": ICP}))
    grocery = plan_draft(package, DraftRequest("email", "ops-director", segment="grocery"),
                         TODAY, lexical_ranker)
    logistics = plan_draft(
        package, DraftRequest("email", "ops-director", segment="third-party-logistics"),
        TODAY, lexical_ranker)
    assert "grocery-proof" not in [c.id for c in logistics.claims()]
    assert "harbor-logistics-story" not in [c.id for c in grocery.claims()]
    assert all(not c.is_expired(TODAY) for c in grocery.claims() + logistics.claims())


@pytest.mark.parametrize(("context", "status", "must", "must_not"), [
    ("They asked whether the live fleet map is included", "available", ["available today"], []),
    ("They asked about battery prediction", "next", ["in development", "not commitments"], []),
    ("They want inventory drones next year", "later", ["exploring"], ["Zephyrquill"]),
    ("They insist on a self-hosted install", "never", ["don't offer an on-premises"], []),
])
def test_context_roadmap_items_are_handled_by_status(
    assistant: Assistant, context: str, status: str, must: list[str], must_not: list[str]
) -> None:
    for channel in ("email", "linkedin"):
        result = draft(assistant, channel, persona="ops-director", contact="Mia Lang",
                       context=context)
        assert [r["status"] for r in result["roadmap"]] == [status]
        for text in must:
            assert text in result["body"], (channel, result["body"])
        for text in must_not:
            assert text not in result["body"]
        assert result["checks"]["remaining"] == []


def test_unknown_persona_or_segment_is_a_usage_error(assistant: Assistant) -> None:
    with pytest.raises(UsageError, match="unknown persona"):
        assistant.draft(DraftRequest("email", "ghost"))
    with pytest.raises(UsageError, match="unknown segment"):
        assistant.draft(DraftRequest("email", "ops-director", segment="mars"))


def test_linkedin_never_cuts_approved_roadmap_wording(tmp_path: Path) -> None:
    long_say = ("Battery health forecasting is committed and in development; it isn't available "
                "today, and until it ships every fleet report already shows charge cycles per "
                "robot so site leads can plan battery swaps by hand during the quieter shifts.")
    kb = make_package(tmp_path / "kb", {"roadmap.yaml": ROADMAP_YAML.replace(
        '"Battery health forecasting is in development; it isn\'t available today."',
        f'"{long_say}"')})
    assistant = build_assistant(Settings(kb=kb, data_dir=tmp_path / "data"),
                                embedder=MiniLMEmbedder(), today=TODAY)
    result = draft(assistant, "linkedin", persona="ops-director",
                   context="They asked about battery prediction")
    assert len(result["body"]) <= LINKEDIN_MAX_CHARS
    assert "…" not in result["body"]
    assert "stands on a quick call" in result["body"]
    assert result["checks"]["remaining"] == []
