"""ICP fit: labelled prospects on the sample package with real embeddings, a package from a
different industry built in tmp_path (nothing may depend on the sample), and the parsers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.adapters.package.loader import load_package
from kbassist.core.fit import (
    assess_fit,
    industry_phrase,
    is_negated,
    parse_count,
    parse_employees,
    parse_number,
    parse_places,
    parse_quantity_rule,
    region_members,
)
from kbassist.core.models import KnowledgePackage
from kbassist.core.ports import Embed as EmbedFn
from kbassist.core.ports import memoize_embed
from kbfactory import make_package

REPO = Path(__file__).resolve().parents[1]
PROSPECTS: list[dict[str, Any]] = yaml.safe_load(
    (REPO / "evals" / "fit" / "prospects.yaml").read_text(encoding="utf-8"))["cases"]


@pytest.fixture(scope="module")
def embed() -> EmbedFn:
    return memoize_embed(MiniLMEmbedder().embed_batch)


@pytest.fixture(scope="module")
def sample() -> KnowledgePackage:
    return load_package(REPO / "knowledge")


# --- labelled prospects on the sample package ----------------------------------------------

def test_prospects_file_is_valid(sample: KnowledgePackage) -> None:
    ids = [c["id"] for c in PROSPECTS]
    assert len(ids) >= 16 and len(set(ids)) == len(ids)
    segment_ids = {s.id for s in sample.segments}
    for case in PROSPECTS:
        assert set(case) >= {"id", "description", "expect"}
        assert case["expect"]["verdict"] in {"fit", "partial", "no-fit"}
        assert case["expect"]["segment"] is None or case["expect"]["segment"] in segment_ids
    assert {c["expect"]["verdict"] for c in PROSPECTS} == {"fit", "partial", "no-fit"}


@pytest.mark.parametrize("case", PROSPECTS, ids=[c["id"] for c in PROSPECTS])
def test_labelled_prospect(case: dict[str, Any], sample: KnowledgePackage,
                           embed: EmbedFn) -> None:
    result = assess_fit(case["description"], sample, embed=embed)
    expected = (case["expect"]["verdict"], case["expect"]["segment"])
    assert (result.verdict, result.segment) == expected, result.reasons


LEXICAL = [c for c in PROSPECTS if not c.get("meaning_only")]


@pytest.mark.parametrize("case", LEXICAL, ids=[c["id"] for c in LEXICAL])
def test_labelled_prospect_without_embedder(case: dict[str, Any],
                                            sample: KnowledgePackage) -> None:
    """No embedder: word overlap only; every case with shared wording still comes out right."""
    result = assess_fit(case["description"], sample)
    expected = (case["expect"]["verdict"], case["expect"]["segment"])
    assert (result.verdict, result.segment) == expected, result.reasons


def test_json_contract(sample: KnowledgePackage, embed: EmbedFn) -> None:
    result = assess_fit(PROSPECTS[0]["description"], sample, embed=embed).to_json()
    assert {"verdict", "segment", "reasons", "disqualifiers", "citations"} <= set(result)
    assert {"segment_name", "missing", "facts", "scores"} <= set(result)
    json.dumps(result)
    cite = result["citations"][0]
    assert (cite["source"], cite["kind"], cite["id"]) == ("icp.yaml", "icp", result["segment"])


def test_reasons_quote_icp_values(sample: KnowledgePackage, embed: EmbedFn) -> None:
    text = "HVAC contractor in Ireland with 40 employees."
    result = assess_fit(text, sample, embed=embed)
    seg = sample.segment("hvac-service")
    assert seg is not None and seg.employees is not None
    bounds = f"{seg.employees.min}-{seg.employees.max}"
    assert any("employees 40" in r and bounds in r and seg.name in r for r in result.reasons)
    assert result.facts["employees"] == 40 and result.facts["region"] == "Ireland"


def test_disqualifier_is_reported_with_its_icp_text(sample: KnowledgePackage,
                                                   embed: EmbedFn) -> None:
    case = next(c for c in PROSPECTS if c["id"] == "nofit-disq-on-prem")
    result = assess_fit(case["description"], sample, embed=embed)
    seg = sample.segment("hvac-service")
    assert seg is not None
    assert result.disqualifiers == ["Requires an on-premises or self-hosted deployment"]
    assert set(result.disqualifiers) <= set(seg.disqualifiers)
    assert any(c["text"] == result.disqualifiers[0] for c in result.citations)


def test_missing_facts_are_named(sample: KnowledgePackage, embed: EmbedFn) -> None:
    case = next(c for c in PROSPECTS if c["id"] == "partial-fire-no-size-no-region")
    result = assess_fit(case["description"], sample, embed=embed)
    assert {"company size", "region"} <= set(result.missing)
    assert "industry" not in result.missing
    vague = assess_fit("A company with big plans.", sample, embed=embed)
    assert vague.verdict == "partial" and vague.segment is None
    assert {"industry", "company size", "region"} <= set(vague.missing)


# --- a package from another industry: nothing may depend on the sample ------------------

ROBOTICS_ICP = """\
segments:
  - id: third-party-logistics
    name: Third-party logistics providers
    industries: [logistics, warehousing, fulfilment]
    employees: {min: 200, max: 20000}
    regions: [EU, Faroe Islands]
    pains: ["robots idle during peak season", "pick rates falling behind order volume"]
    triggers: ["opening a new fulfilment centre"]
    disqualifiers: ["fewer than ten robots", "wants to buy and own the robot fleet outright"]
  - id: grocery-retail
    name: Grocery retailers with their own distribution centres
    industries: [grocery, supermarkets]
    employees: {min: 1000}
    regions: [UK, Quebec]
    pains: ["fresh food spoiling because picking is slow"]
    triggers: ["automating a distribution centre"]
    disqualifiers: ["stores only, with no distribution centre of their own"]
personas:
  - id: ops-director
    name: Operations Director
    titles: [Director of Operations]
    cares_about: ["throughput"]
"""

ROBOTICS_CASES = [
    ("fit", "A Dutch third-party logistics company with 800 employees and 40 robots.",
     "fit", "third-party-logistics"),
    ("size", "A Polish logistics provider with 150 employees.", "no-fit",
     "third-party-logistics"),
    ("region", "A logistics company in Brazil with 5,000 employees.", "no-fit",
     "third-party-logistics"),
    ("literal region", "A warehousing firm in the Faroe Islands with 600 staff.", "fit",
     "third-party-logistics"),
    ("quantity disqualifier", "A Dutch logistics provider with 900 employees running eight "
     "robots.", "no-fit", "third-party-logistics"),
    ("quantity ok", "A Dutch logistics provider with 900 employees running 30 robots.", "fit",
     "third-party-logistics"),
    ("stated disqualifier", "A German fulfilment company with 3,000 staff that wants to buy "
     "and own its robots outright.", "no-fit", "third-party-logistics"),
    ("negated disqualifier", "A German fulfilment company with 3,000 staff. They do not want "
     "to own the robots; they prefer a subscription.", "fit", "third-party-logistics"),
    ("industry", "A Danish dental clinic chain with 900 staff.", "no-fit", None),
    ("open range, state", "A supermarket chain in Quebec with 30,000 employees that is "
     "automating a distribution centre.", "fit", "grocery-retail"),
    ("other state", "A supermarket chain in Ontario with 30,000 employees.", "no-fit",
     "grocery-retail"),
    ("negative disqualifier", "A UK grocery retailer with 5,000 staff; stores only, no "
     "distribution centre of its own.", "no-fit", "grocery-retail"),
    ("missing size and region", "A grocery retailer opening its first automated distribution "
     "centre.", "partial", "grocery-retail"),
]


@pytest.fixture(scope="module")
def robotics(tmp_path_factory: pytest.TempPathFactory) -> KnowledgePackage:
    root = make_package(tmp_path_factory.mktemp("robotics"), {"icp.yaml": ROBOTICS_ICP})
    return load_package(root)


@pytest.mark.parametrize(("description", "verdict", "segment"),
                         [c[1:] for c in ROBOTICS_CASES], ids=[c[0] for c in ROBOTICS_CASES])
def test_other_industry_package(description: str, verdict: str, segment: str | None,
                                robotics: KnowledgePackage, embed: EmbedFn) -> None:
    result = assess_fit(description, robotics, embed=embed)
    assert (result.verdict, result.segment) == (verdict, segment), result.reasons


@pytest.mark.parametrize(("description", "verdict", "segment"),
                         [c[1:] for c in ROBOTICS_CASES if c[0] != "negated disqualifier"],
                         ids=[c[0] for c in ROBOTICS_CASES if c[0] != "negated disqualifier"])
def test_other_industry_package_lexical(description: str, verdict: str, segment: str | None,
                                        robotics: KnowledgePackage) -> None:
    result = assess_fit(description, robotics)
    assert (result.verdict, result.segment) == (verdict, segment), result.reasons


def test_default_factory_package(tmp_path: Path, embed: EmbedFn) -> None:
    package = load_package(make_package(tmp_path))
    result = assess_fit("A logistics provider in Sweden with 400 employees.", package, embed=embed)
    assert (result.verdict, result.segment) == ("fit", "third-party-logistics")
    assert "number of robots" in result.missing


# --- parsers ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "low", "high"), [
    ("450 employees", 450, 450),
    ("about 3,000 staff", 3000, 3000),
    ("2k people", 2000, 2000),
    ("a 12-person team", 12, 12),
    ("between 200 and 500 employees", 200, 500),
    ("150-300 employees", 150, 300),
    ("headcount of 1.2k", 1200, 1200),
    ("a 1,200-strong workforce", 1200, 1200),
    ("a workforce of 800 across Europe", 800, 800),
    ("employs 450 people", 450, 450),
    ("200+ employees", 200, None),
    ("over 500 staff", 501, None),
    ("at least 500 staff", 500, None),
    ("fewer than 50 employees", None, 49),
    ("twenty-five employees", 25, 25),
    ("3 thousand staff", 3000, 3000),
])
def test_parse_employees(text: str, low: int | None, high: int | None) -> None:
    headcount = parse_employees(f"A contractor with {text}, growing fast.")
    assert headcount is not None and (headcount.low, headcount.high) == (low, high)


@pytest.mark.parametrize("text", [
    "a team of 15 technicians", "founded in 1998", "runs 40 robots", "operates 3 depots", "",
])
def test_parse_employees_needs_a_headcount(text: str) -> None:
    assert parse_employees(text) is None


def test_headcount_value_is_the_midpoint_of_a_range() -> None:
    headcount = parse_employees("between 200 and 500 employees")
    assert headcount is not None and headcount.value == 350


@pytest.mark.parametrize(("raw", "value"), [
    ("3,000", 3000), ("2k", 2000), ("1.2k", 1200), ("ten", 10), ("a dozen", 12),
    ("twenty-five", 25), ("4 thousand", 4000),
])
def test_parse_number(raw: str, value: int) -> None:
    assert parse_number(raw) == value


@pytest.mark.parametrize(("text", "labels"), [
    ("based in the UK", ["GB"]),
    ("a British contractor", ["GB"]),
    ("the United Kingdom", ["GB"]),
    ("offices in Northern Ireland", ["GB"]),
    ("a Dutch firm", ["NL"]),
    ("across the Nordics", ["Nordics"]),
    ("in the USA and Canada", ["US", "CA"]),
    ("let us know", []),
    ("North American operations", ["North America"]),
    ("Vancouver, British Columbia", ["British Columbia"]),
    ("an APAC distributor", ["APAC"]),
    ("an Australian company", ["AU"]),
])
def test_parse_places(text: str, labels: list[str]) -> None:
    assert [p.label for p in parse_places(text)] == labels


def test_places_named_literally_by_a_segment() -> None:
    places = parse_places("a depot on the Faroe Islands", ["Faroe Islands"])
    assert [p.label for p in places] == ["Faroe Islands"]
    assert places[0].members & region_members("Faroe Islands")


@pytest.mark.parametrize(("label", "inside", "outside"), [
    ("EU", "DE", "GB"),
    ("Europe", "GB", "US"),
    ("Nordics", "NO", "DE"),
    ("North America", "CA", "MX"),
    ("UK", "GB", "IE"),
])
def test_region_members(label: str, inside: str, outside: str) -> None:
    members = region_members(label)
    assert inside in members and outside not in members


def test_a_state_region_matches_only_that_state() -> None:
    quebec = region_members("Quebec")
    assert not parse_places("Toronto, Ontario")[0].members & quebec
    assert parse_places("Montreal, Quebec")[0].members & quebec


@pytest.mark.parametrize(("phrase", "text", "negated"), [
    ("on-premises deployment", "They do not require an on-premises deployment.", True),
    ("on-premises deployment", "They require an on-premises deployment and don't use cloud.",
     False),
    ("residential work", "No residential work, all commercial buildings.", True),
    ("residential", "Non-residential buildings only.", True),
    ("own the hardware", "They want to lease rather than own the hardware.", True),
    ("own the hardware", "They don't want to own the hardware.", True),
    ("own the hardware", "They want to own the hardware.", False),
    ("on-premises", "It is not cheap, but it must run on-premises.", False),
    ("self-hosted", "They can't use anything self-hosted.", True),
])
def test_negation(phrase: str, text: str, negated: bool) -> None:
    assert is_negated(phrase, text) is negated


@pytest.mark.parametrize(("text", "below", "limit", "noun"), [
    ("Fewer than 25 field technicians", True, 25, "field technicians"),
    ("fewer than ten robots", True, 10, "robots"),
    ("More than 5,000 sites in scope", False, 5000, "sites"),
])
def test_parse_quantity_rule(text: str, below: bool, limit: int, noun: str) -> None:
    rule = parse_quantity_rule(text)
    assert rule is not None and (rule.below, rule.limit, rule.noun) == (below, limit, noun)


def test_statement_disqualifiers_have_no_quantity_rule() -> None:
    assert parse_quantity_rule("Wants payroll and HR run inside the scheduling system") is None


@pytest.mark.parametrize(("text", "noun", "count"), [
    ("only 15 field technicians", "technicians", 15),
    ("a fleet of eight robots", "robots", 8),
    ("120 employees but only 15 field technicians", "technicians", 15),
    ("120 employees", "technicians", None),
])
def test_parse_count(text: str, noun: str, count: int | None) -> None:
    assert parse_count(text, noun) == count


@pytest.mark.parametrize(("text", "phrase"), [
    ("A UK bakery chain with 2,000 staff.", "bakery chain"),
    ("A 900-person company in the UK.", ""),
    ("Acme Ltd, a 300-person UK company.", ""),
    ("Brennan Mechanical is a commercial HVAC contractor in Leeds.", "hvac"),
    ("A provider of payroll software.", "payroll software"),
])
def test_industry_phrase(text: str, phrase: str) -> None:
    assert industry_phrase(text, parse_places(text)) == phrase


def test_memoize_embed_embeds_each_text_once() -> None:
    calls: list[list[str]] = []

    def fake(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.eye(len(texts), 4, dtype=np.float32)

    cached = memoize_embed(fake)
    first = cached(["a", "b"])
    second = cached(["b", "c", "a"])
    assert calls == [["a", "b"], ["c"]]
    assert np.array_equal(second[0], first[1]) and np.array_equal(second[2], first[0])
