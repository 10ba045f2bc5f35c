"""check(): run every rule over one output text and return a Verdict."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from kbassist.core.chunks import Chunk
from kbassist.core.governance import support
from kbassist.core.governance.analysis import Analysis, analyse
from kbassist.core.governance.context import GovernanceContext
from kbassist.core.governance.rule_customers import check_customers
from kbassist.core.governance.rule_injection import check_injection
from kbassist.core.governance.rule_links import check_links
from kbassist.core.governance.rule_numbers import check_numbers
from kbassist.core.governance.rule_roadmap import check_roadmap
from kbassist.core.governance.rule_wording import check_banned, check_expired, check_internal
from kbassist.core.governance.types import RULES, WITHHELD, Verdict, Violation
from kbassist.core.text import WORD_RE

Rule = Callable[[Analysis, GovernanceContext], list[Violation]]
_RULES: tuple[Rule, ...] = (
    check_numbers, check_customers, check_roadmap, check_banned, check_expired, check_internal,
    check_links, check_injection,
)


def own_words(ctx: GovernanceContext) -> frozenset[str]:
    return frozenset(w.lower() for w in WORD_RE.findall(f"{ctx.company} {ctx.product}"))


def factual_sentences(analysis: Analysis, ctx: GovernanceContext) -> list[int]:
    """Indexes of sentences that state something about the product (see support.is_factual)."""
    mine = own_words(ctx)
    return [
        i for i in range(len(analysis.sentences))
        if not analysis.approved[i] and support.is_factual(analysis.sentence_text(i), mine)
    ]


def unsupported_sentences(
    analysis: Analysis, ctx: GovernanceContext, evidence: Sequence[Chunk]
) -> list[Violation]:
    indexes = factual_sentences(analysis, ctx)
    if not indexes:
        return []
    embed = ctx.embed_texts if ctx.embed is not None else None
    prepared = support.build_evidence([c.text for c in evidence], embed)
    texts = [" ".join(analysis.sentence_text(i).split()) for i in indexes]
    vectors = ctx.embed_texts(texts) if embed else None
    mine = own_words(ctx)
    found = []
    for n, index in enumerate(indexes):
        vector = vectors[n] if vectors is not None else None
        result = support.assess(texts[n], prepared, vector, own_words=mine,
                                common=ctx.common_words)
        if support.supported(result, ctx.support):
            continue
        span = analysis.sentences[index]
        found.append(Violation(
            "unsupported-sentence", span, analysis.sentence_text(index),
            "factual sentence not supported by the cited evidence: "
            + support.reason(result, ctx.support),
        ))
    return found


def _order(violation: Violation) -> tuple[int, int, int]:
    return (violation.span[0], RULES.index(violation.rule), violation.span[1])


def check(
    text: str,
    ctx: GovernanceContext,
    evidence: Sequence[Chunk] = (),
    *,
    check_support: bool = True,
) -> Verdict:
    """Every violation in ``text``. With ``check_support``, factual sentences must be backed
    by ``evidence`` (no evidence means nothing factual is supported)."""
    analysis = analyse(text, ctx)
    found: list[Violation] = []
    for rule in _RULES:
        found.extend(rule(analysis, ctx))
    if check_support:
        found.extend(unsupported_sentences(analysis, ctx, evidence))
    unique = list(dict.fromkeys(withhold_internal(found)))
    return Verdict(tuple(sorted(unique, key=_order)))


def withhold_internal(violations: list[Violation]) -> list[Violation]:
    """A violation is shown to reps (the checks panel, ``--json``) and kept in the audit: where
    it overlaps an internal leak its excerpt would repeat the leak, so it is withheld."""
    leaks = [v.span for v in violations if v.rule == "internal-leak"]

    def overlaps(v: Violation) -> bool:
        return any(v.span[0] < end and start < v.span[1] for start, end in leaks)

    return [v if not overlaps(v) else replace(v, excerpt=WITHHELD) if v.rule == "internal-leak"
            else replace(v, excerpt=WITHHELD, detail=f"{v.rule} in a sentence that repeated "
                                                     "internal text")
            for v in violations]
