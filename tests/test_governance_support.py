"""unsupported-sentence with the real MiniLM embedder, and the committed calibration.

The labelled set lives in evals/governance/support_labelled.yaml; calibrate_support.py picks
the threshold on two thirds of it and reports on the held-out third. These tests recompute
that and hold the committed figures, and the engine's default, to it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import yaml

from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.core.governance import (
    DEFAULT_LEXICAL_THRESHOLD,
    DEFAULT_SUPPORT_THRESHOLD,
    GovernanceContext,
    check,
    govern,
)
from test_governance_policy import EVIDENCE, LATENCY, PACKAGE, PILOT, Model, offline
from test_governance_rules import DISCLAIMER, TODAY, UNKNOWN

EVALS = Path(__file__).resolve().parents[1] / "evals" / "governance"


def load_calibration_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calibrate_support",
                                                  EVALS / "calibrate_support.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def ctx(embedder: MiniLMEmbedder) -> GovernanceContext:
    return GovernanceContext.from_package(PACKAGE, TODAY, embed=embedder.embed_batch)


@pytest.fixture(scope="module")
def lexical_ctx() -> GovernanceContext:
    return GovernanceContext.from_package(PACKAGE, TODAY)


def unsupported(text: str, ctx: GovernanceContext, evidence: Sequence = EVIDENCE) -> list[str]:
    return [v.excerpt for v in check(text, ctx, evidence).violations
            if v.rule == "unsupported-sentence"]


SUPPORTED = [
    LATENCY,
    "Radio latency for connected cranes stays below 45 ms with HarborMesh.",
    "A pilot on a single berth goes live within 14 days.",
    "You pay $1.2M per year for a typical 50-crane terminal, and there's no upfront hardware "
    "to buy.",
    "After moving to HarborMesh, the Port of Valmora cut crane downtime from dropped "
    "connections by 38%.",
    "Satellite backhaul failover is committed and in development.",
    "Our pilot for one berth is live in 14 days.",
    "HarborMesh keeps latency under 45 ms, and a single-berth pilot goes live in 14 days.",
]
UNSUPPORTED = [
    "HarborMesh predicts which berths will be congested next week.",
    "HarborMesh supports single sign-on with Ping Identity.",
    "HarborMesh encrypts all radio traffic with AES-256.",
    "A typical 50-crane terminal pays $900,000 per year.",
    "The Port of Antwerp cut crane downtime from dropped connections by 38%.",
    "Our network automatically reroutes trucks around congested gates.",
    "We include a dedicated network engineer on site for every terminal.",
    "Kestrel Logistics runs HarborMesh in 40 warehouses across Germany.",
]
NOT_FACTUAL = [
    "Hi Sam,",
    "Would you like a demo next week?",
    "Best regards,\nDana",
    DISCLAIMER,
    UNKNOWN,
    "Let me check that with our product team.",
    "Thanks for your time today.",
    "What matters most to your operations team?",
]


@pytest.mark.parametrize("sentence", SUPPORTED)
def test_supported_sentence_passes(sentence: str, ctx: GovernanceContext) -> None:
    assert unsupported(sentence, ctx) == []


@pytest.mark.parametrize("sentence", UNSUPPORTED)
def test_unsupported_sentence_is_flagged(sentence: str, ctx: GovernanceContext) -> None:
    assert unsupported(sentence, ctx) == [sentence]


@pytest.mark.parametrize("sentence", NOT_FACTUAL)
def test_non_factual_sentences_need_no_evidence(sentence: str, ctx: GovernanceContext) -> None:
    assert unsupported(sentence, ctx, evidence=()) == []


def test_without_evidence_every_factual_sentence_is_unsupported(ctx: GovernanceContext) -> None:
    text = f"Hi Sam,\n\n{LATENCY} {PILOT}\n\nBest,\nDana"
    assert unsupported(text, ctx, evidence=()) == [LATENCY, PILOT]


def test_only_the_unsupported_sentence_is_flagged_in_a_draft(ctx: GovernanceContext) -> None:
    invention = "HarborMesh also predicts which berths will be congested next week."
    text = ("Hi Sam,\n\nThanks for the call. " + LATENCY + " " + invention + " " + PILOT
            + "\n\nWould Tuesday work?\n\nBest,\nDana")
    assert unsupported(text, ctx) == [invention]
    found = [v for v in check(text, ctx, EVIDENCE).violations]
    assert all(text[v.span[0]:v.span[1]] == v.excerpt for v in found)


@pytest.mark.parametrize(("sentence", "flagged"), [
    (LATENCY, False),
    ("A single-berth pilot goes live in 14 days.", False),
    ("HarborMesh supports single sign-on with Ping Identity.", True),
    ("HarborMesh predicts which berths will be congested next week.", True),
    ("A typical 50-crane terminal pays $900,000 per year.", True),
])
def test_lexical_fallback_without_an_embedder(
    sentence: str, flagged: bool, lexical_ctx: GovernanceContext
) -> None:
    assert bool(unsupported(sentence, lexical_ctx)) is flagged


def test_evidence_embeddings_are_cached(embedder: MiniLMEmbedder) -> None:
    batches: list[int] = []

    def counting(texts: Sequence[str]) -> np.ndarray:
        batches.append(len(texts))
        return embedder.embed_batch(texts)

    cached = GovernanceContext.from_package(PACKAGE, TODAY, embed=counting)
    check(LATENCY, cached, EVIDENCE)
    first = sum(batches)
    check(LATENCY, cached, EVIDENCE)
    assert first > 0 and sum(batches) == first


def test_govern_with_real_embeddings_removes_the_invention(ctx: GovernanceContext) -> None:
    candidate = f"{LATENCY} HarborMesh also predicts which berths will be congested. {PILOT}"
    result = govern(candidate, ctx, EVIDENCE, regenerate=Model(candidate),
                    fallback=offline(UNKNOWN))
    assert (result.status, result.text) == ("revised", f"{LATENCY} {PILOT}")
    assert {v.rule for v in result.caught} == {"unsupported-sentence"}
    assert result.remaining == ()


# -- labelled data and calibration -------------------------------------------------------------

def test_labelled_set_is_valid() -> None:
    data = yaml.safe_load((EVALS / "support_labelled.yaml").read_text(encoding="utf-8"))
    sentences = [i["sentence"] for g in data["groups"] for i in g["items"]]
    assert len(sentences) >= 120 and len(set(sentences)) == len(sentences)
    for group in data["groups"]:
        labels = {i["label"] for i in group["items"]}
        assert labels == {"supported", "unsupported"}, group["id"]
        assert group["evidence"] and all(isinstance(e, str) for e in group["evidence"])


@pytest.fixture(scope="module")
def recomputed(embedder: MiniLMEmbedder) -> dict:
    script = load_calibration_script()
    return script.calibrate(script.score_items(script.load_items(), embedder.embed_batch))


def test_committed_calibration_matches_a_fresh_run(recomputed: dict) -> None:
    committed = json.loads((EVALS / "support_calibration.json").read_text(encoding="utf-8"))
    for section in ("embedding", "lexical_fallback"):
        assert committed[section]["threshold"] == pytest.approx(recomputed[section]["threshold"])
        for split in ("calibration", "heldout"):
            for metric in ("precision", "recall", "f1"):
                assert committed[section][split][metric] == pytest.approx(
                    recomputed[section][split][metric], abs=0.02)


def test_engine_defaults_are_the_calibrated_thresholds(recomputed: dict) -> None:
    assert pytest.approx(recomputed["embedding"]["threshold"]) == DEFAULT_SUPPORT_THRESHOLD
    assert GovernanceContext.from_package(PACKAGE, TODAY).support.cosine == pytest.approx(
        DEFAULT_SUPPORT_THRESHOLD)
    assert pytest.approx(recomputed["lexical_fallback"]["threshold"]) == DEFAULT_LEXICAL_THRESHOLD


def test_heldout_quality_floor(recomputed: dict) -> None:
    heldout = recomputed["embedding"]["heldout"]
    assert heldout["n"] >= 40
    assert heldout["precision"] >= 0.85 and heldout["recall"] >= 0.7
    lexical = recomputed["lexical_fallback"]["heldout"]
    assert lexical["precision"] >= 0.75 and lexical["recall"] >= 0.75
