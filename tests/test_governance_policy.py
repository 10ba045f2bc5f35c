"""govern() and repair(): pass, revise, repair, fall back; what is returned is always clean.

The model is replaced by plain callables here: these tests are about our own policy logic.
Support checking runs for real, in its lexical mode (no embedder), against claim chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from kbassist.core.chunks import Chunk
from kbassist.core.governance import (
    GovernanceContext,
    GovernedOutput,
    Violation,
    check,
    govern,
    repair,
)
from kbassist.core.models import KnowledgePackage
from test_governance_rules import DISCLAIMER, SATELLITE_SAY, TODAY, UNKNOWN, build_package

PACKAGE = build_package()
LATENCY = "HarborMesh keeps radio latency under 45 ms for connected cranes."
PILOT = "A single-berth pilot goes live in 14 days."
CLEAN = f"{LATENCY} {PILOT}"
FABRICATION = "Customers like Globex Shipping cut costs by 60%."
DIRTY_ONE = f"{CLEAN} {FABRICATION}"
HOPELESS = f"{FABRICATION} We guarantee 100% uptime for every berth."


def claim_chunk(package: KnowledgePackage, claim_id: str) -> Chunk:
    claim = package.claim(claim_id)
    assert claim is not None
    return Chunk(node_id=f"claim:{claim.id}", kind="claim", ref_id=claim.id,
                 source="claims.yaml", title=claim.id, text=claim.text, claim_kind=claim.kind)


def roadmap_chunk(package: KnowledgePackage, item_id: str) -> Chunk:
    item = package.roadmap_item(item_id)
    assert item is not None
    return Chunk(node_id=f"roadmap:{item.id}", kind="roadmap", ref_id=item.id,
                 source="roadmap.yaml", title=item.title, text=item.public_text(),
                 status=item.status)


EVIDENCE = [claim_chunk(PACKAGE, i) for i in ("latency", "pilot", "price", "valmora")]
EVIDENCE += [roadmap_chunk(PACKAGE, "satellite")]


@pytest.fixture(scope="module")
def ctx() -> GovernanceContext:
    return GovernanceContext.from_package(PACKAGE, TODAY)


class Model:
    """A scripted stand-in for the LLM: returns its replies in order and records calls."""

    def __init__(self, *replies: str | Exception):
        self.replies = list(replies)
        self.calls: list[tuple[Violation, ...]] = []

    def __call__(self, violations: Sequence[Violation]) -> str:
        self.calls.append(tuple(violations))
        reply = self.replies[min(len(self.calls), len(self.replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return reply


def offline(text: str) -> Callable[[], str]:
    return lambda: text


def assert_clean(result: GovernedOutput, ctx: GovernanceContext) -> None:
    assert result.remaining == ()
    assert check(result.text, ctx, EVIDENCE).ok
    if result.status != "pass":
        assert result.changes  # whatever happened is said


def test_clean_candidate_passes_untouched(ctx: GovernanceContext) -> None:
    model = Model(CLEAN)
    result = govern(CLEAN, ctx, EVIDENCE, regenerate=model, fallback=offline(UNKNOWN))
    assert (result.status, result.text, result.attempts) == ("pass", CLEAN, 1)
    assert result.caught == result.remaining == result.changes == ()
    assert model.calls == []


def test_a_clean_model_revision_is_revised(ctx: GovernanceContext) -> None:
    model = Model(CLEAN)
    result = govern(DIRTY_ONE, ctx, EVIDENCE, regenerate=model, fallback=offline(UNKNOWN))
    assert (result.status, result.text, result.attempts) == ("revised", CLEAN, 2)
    assert result.changes[0].startswith("revised by the model after: unapproved-number")
    assert {v.rule for v in model.calls[0]} >= {"unapproved-number", "unapproved-customer"}
    assert {v.rule for v in result.caught} >= {"unapproved-number", "unapproved-customer"}
    assert_clean(result, ctx)


def test_failed_revisions_are_repaired(ctx: GovernanceContext) -> None:
    model = Model(DIRTY_ONE, DIRTY_ONE)
    result = govern(DIRTY_ONE, ctx, EVIDENCE, regenerate=model, fallback=offline(UNKNOWN))
    assert (result.status, result.text, result.attempts) == ("revised", CLEAN, 3)
    assert len(model.calls) == 2
    assert result.changes[0].startswith("model revision 1 still had: unapproved-number")
    assert any(c.startswith("removed sentence “Customers like Globex") for c in result.changes)
    assert_clean(result, ctx)


def test_a_raising_model_counts_as_a_failed_revision(ctx: GovernanceContext) -> None:
    model = Model(RuntimeError("backend down"))
    result = govern(DIRTY_ONE, ctx, EVIDENCE, regenerate=model, fallback=offline(UNKNOWN))
    assert len(model.calls) == 1
    assert result.changes[0] == "model revision 1 failed: RuntimeError: backend down"
    assert (result.status, result.text, result.attempts) == ("revised", CLEAN, 1)
    assert_clean(result, ctx)


def test_an_empty_model_revision_is_a_failed_revision(ctx: GovernanceContext) -> None:
    result = govern(DIRTY_ONE, ctx, EVIDENCE, regenerate=Model("  ", CLEAN),
                    fallback=offline(UNKNOWN))
    assert (result.status, result.text, result.attempts) == ("revised", CLEAN, 3)
    assert result.changes[:2] == ("model revision 1 was empty",
                                  "revised by the model after: unapproved-number, "
                                  "unapproved-customer, unsupported-sentence")


def test_no_regenerate_goes_straight_to_repair(ctx: GovernanceContext) -> None:
    result = govern(DIRTY_ONE, ctx, EVIDENCE, fallback=offline(UNKNOWN))
    assert (result.status, result.text, result.attempts) == ("revised", CLEAN, 1)
    assert_clean(result, ctx)


def test_too_little_left_after_repair_falls_back(ctx: GovernanceContext) -> None:
    result = govern(HOPELESS, ctx, EVIDENCE, regenerate=Model(HOPELESS),
                    fallback=offline(CLEAN))
    assert (result.status, result.text) == ("blocked", CLEAN)
    assert "blocked: fell back to the offline answer" in result.changes
    assert any(c.startswith("repair was not enough") for c in result.changes)
    assert_clean(result, ctx)


def test_a_dirty_offline_answer_is_repaired(ctx: GovernanceContext) -> None:
    result = govern(HOPELESS, ctx, EVIDENCE, fallback=offline(DIRTY_ONE))
    assert (result.status, result.text) == ("blocked", CLEAN)
    assert_clean(result, ctx)


@pytest.mark.parametrize("fallback", [
    offline(HOPELESS), offline(""), lambda: (_ for _ in ()).throw(ValueError("no index")),
])
def test_a_hopeless_fallback_becomes_the_unknown_answer(
    ctx: GovernanceContext, fallback: Callable[[], str]
) -> None:
    result = govern(HOPELESS, ctx, EVIDENCE, fallback=fallback)
    assert (result.status, result.text) == ("blocked", UNKNOWN)
    assert result.changes[-1] == "blocked: answered with the package's unknown_answer"
    assert_clean(result, ctx)


def test_allow_repair_false_skips_repair(ctx: GovernanceContext) -> None:
    result = govern(DIRTY_ONE, ctx, EVIDENCE, fallback=offline(CLEAN), allow_repair=False)
    assert (result.status, result.text) == ("blocked", CLEAN)
    assert not any(c.startswith("removed") for c in result.changes)
    assert_clean(result, ctx)


def test_max_revisions_zero_never_calls_the_model(ctx: GovernanceContext) -> None:
    model = Model(CLEAN)
    result = govern(DIRTY_ONE, ctx, EVIDENCE, regenerate=model, fallback=offline(UNKNOWN),
                    max_revisions=0)
    assert model.calls == [] and result.status == "revised"


CANDIDATES = [
    CLEAN, DIRTY_ONE, HOPELESS, "", UNKNOWN,
    f"{LATENCY} Satellite failover is available today.",
    f"{LATENCY} The Quillmoor pilot stalled after the insurer pulled out.",
    f"{LATENCY} Brightline Terminals reduced truck turn times by 27% with HarborMesh.",
    "Hi Sam,\n\n- HarborMesh supports 5G slicing.\n- We offer an on-prem controller.\n\n"
    "Best,\nDana",
    f"{LATENCY} HarborMesh also detects crane faults with machine learning.",
]
MODELS = [None, Model(CLEAN), Model(HOPELESS), Model(RuntimeError("timeout"))]
FALLBACKS = [CLEAN, DIRTY_ONE, HOPELESS]


@pytest.mark.parametrize("candidate", CANDIDATES)
@pytest.mark.parametrize("model_index", range(len(MODELS)))
@pytest.mark.parametrize("fallback", FALLBACKS)
def test_remaining_is_empty_on_every_path(
    ctx: GovernanceContext, candidate: str, model_index: int, fallback: str
) -> None:
    result = govern(candidate, ctx, EVIDENCE, regenerate=MODELS[model_index],
                    fallback=offline(fallback))
    assert result.status in {"pass", "revised", "blocked"}
    assert_clean(result, ctx)
    assert result.text.strip()
    if result.status == "pass":
        assert result.caught == () and result.text == candidate
    elif candidate.strip():
        assert result.caught


def test_checks_json_shape(ctx: GovernanceContext) -> None:
    result = govern(DIRTY_ONE, ctx, EVIDENCE, fallback=offline(UNKNOWN))
    payload = result.checks_json()
    assert set(payload) == {"status", "violations", "changes", "remaining"}
    assert payload["status"] == "revised" and payload["remaining"] == []
    assert all({"rule", "detail", "span", "excerpt"} <= set(v) for v in payload["violations"])
    assert payload["changes"] == list(result.changes)


# -- repair() on its own -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected", "change"), [
    (DIRTY_ONE, CLEAN, "removed sentence"),
    (f"{LATENCY} Satellite failover is available today.",
     f"{LATENCY} {SATELLITE_SAY} {DISCLAIMER}", "approved roadmap wording"),
    ("HarborMesh is a revolutionary network that keeps radio latency under 45 ms for connected "
     "cranes.",
     "HarborMesh is a network that keeps radio latency under 45 ms for connected cranes.",
     "deleted banned phrase 'revolutionary'"),
    ("HarborMesh keeps radio latency under 20 ms for connected cranes.", LATENCY,
     "approved claim 'latency'"),
    (f"- {LATENCY}\n- Customers like Globex Shipping love it.\n- {PILOT}",
     f"- {LATENCY}\n- {PILOT}", "removed sentence"),
    (f"{LATENCY} We offer an on-prem controller.",
     f"{LATENCY} We don't plan an on-premises controller; HarborMesh is run as a managed service.",
     "approved roadmap wording"),
])
def test_repair(ctx: GovernanceContext, text: str, expected: str, change: str) -> None:
    fixed = repair(text, check(text, ctx, EVIDENCE), ctx, EVIDENCE)
    assert fixed.text == expected
    assert any(change in c for c in fixed.changes)
    assert check(fixed.text, ctx, EVIDENCE).ok


def test_repair_of_a_clean_text_changes_nothing(ctx: GovernanceContext) -> None:
    fixed = repair(CLEAN, check(CLEAN, ctx, EVIDENCE), ctx, EVIDENCE)
    assert (fixed.text, fixed.changes) == (CLEAN, ())
