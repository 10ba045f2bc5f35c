"""The offline composer answers only with approved wording. These are tests of our own
logic on hand-built hits; retrieval itself is exercised end to end in test_ask.py."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kbassist.adapters.package.loader import load_package
from kbassist.core.chunks import Chunk, Hit
from kbassist.core.composer import Composer, best_sentences
from kbassist.core.models import KnowledgePackage
from kbassist.core.text import prose_sentences as split_sentences
from kbfactory import make_package

TODAY = date(2026, 11, 22)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> KnowledgePackage:
    return load_package(make_package(tmp_path_factory.mktemp("kb")))


def claim_hit(package: KnowledgePackage, claim_id: str, score: float, rank: int = 1) -> Hit:
    claim = package.claim(claim_id)
    assert claim is not None
    chunk = Chunk(node_id=f"claim:{claim.id}", kind="claim", ref_id=claim.id,
                  source="claims.yaml", title=claim.id, text=claim.text, claim_kind=claim.kind)
    return Hit(chunk=chunk, score=1.0 / (60 + rank), dense_score=score, rank=rank)


def test_quotes_claims_verbatim_and_cites_them(package: KnowledgePackage) -> None:
    hits = [claim_hit(package, "per-robot-pricing", 0.62),
            claim_hit(package, "sso-support", 0.2, 2)]
    composed = Composer(package, TODAY).answer("How is it priced?", hits)
    assert composed.text.startswith(package.claims[0].text)
    assert [c.ref_id for c in composed.cited] == ["per-robot-pricing"]
    assert not composed.unknown


def test_unknown_question_gets_the_packages_unknown_answer(package: KnowledgePackage) -> None:
    hits = [claim_hit(package, "per-robot-pricing", 0.12)]
    composed = Composer(package, TODAY).answer("Who won the match?", hits)
    assert composed.unknown
    assert composed.text == package.config.policy.unknown_answer
    assert composed.cited == []


@pytest.mark.parametrize(("question", "item_id", "must", "must_not"), [
    ("Do you have a live fleet map?", "fleet-map", ["is available today"], []),
    ("When is battery prediction coming?", "battery-forecast",
     ["in development", "2031 Q3", "plans, not commitments"], []),
    ("Can you do inventory drones?", "drone-inventory", ["exploring", "no date"], ["Zephyrquill"]),
    ("Can we get it self-hosted?", "on-prem", ["don't offer an on-premises"], ["available today"]),
])
def test_roadmap_questions_use_approved_wording_by_status(
    package: KnowledgePackage, question: str, item_id: str, must: list[str], must_not: list[str]
) -> None:
    composed = Composer(package, TODAY).answer(question, [])
    assert [i.id for i in composed.roadmap] == [item_id]
    for text in must:
        assert text in composed.text
    for text in must_not:
        assert text not in composed.text


def test_never_item_points_to_what_is_available(package: KnowledgePackage) -> None:
    hits = [claim_hit(package, "harbor-logistics-story", 0.6),
            claim_hit(package, "sso-support", 0.5, 2)]
    composed = Composer(package, TODAY).answer("Is there a self-hosted version?", hits)
    assert "What we can offer today:" in composed.text
    sso = package.claim("sso-support")
    assert sso is not None and sso.text in composed.text
    # a customer story is proof, not something to offer instead
    assert {c.ref_id for c in composed.cited} == {"on-prem", "sso-support"}


def test_internal_notes_never_appear(package: KnowledgePackage) -> None:
    composed = Composer(package, TODAY).answer(
        "What is the internal note on drone inventory scanning?", [])
    assert "Zephyrquill" not in composed.text and "Obsidianmoor" not in composed.text


def test_sentence_helpers() -> None:
    assert split_sentences("Uptime is 99.9%. It runs in the EU.\n- Bullet point here.") == [
        "Uptime is 99.9%.", "It runs in the EU.", "Bullet point here."]
    passage = "Robots charge overnight. Pricing is per robot per month. Support is 24/7 by chat."
    assert best_sentences(passage, "how is pricing done", limit=1) == [
        "Pricing is per robot per month."]


def test_stale_document_is_flagged(tmp_path: Path) -> None:
    root = make_package(tmp_path, {"reference/old.md": "---\ntitle: Old\nowner: Sales Ops\n"
                                   "review_by: 2020-01-01\n---\n# Old guide\n\nRobots are "
                                   "configured by the onboarding team in the first week.\n"})
    package = load_package(root)
    doc = package.document("reference/old.md")
    assert doc is not None
    chunk = Chunk(node_id="doc:reference/old.md#old-guide", kind="reference",
                  ref_id="reference/old.md#old-guide", source="reference/old.md",
                  title="Old", text=doc.sections[0].text)
    composed = Composer(package, TODAY).answer(
        "Who configures the robots?", [Hit(chunk=chunk, score=0.1, dense_score=0.6)])
    assert "past its review date" in composed.text and "Sales Ops" in composed.text
