"""repair(): make a text clean without a model, by removing or replacing offending sentences.

- a roadmap overpromise is replaced by the item's approved ``say`` (plus the roadmap
  disclaimer for next items, once);
- a banned adjective ("our revolutionary app") is deleted when the sentence survives it;
- a wrong/unsupported/expired figure is replaced by the closest approved claim among the
  cited evidence, when one is close enough;
- anything else is removed. Every edit is described in ``changes``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kbassist.core.chunks import Chunk
from kbassist.core.governance.analysis import Analysis, analyse
from kbassist.core.governance.check import check
from kbassist.core.governance.context import GovernanceContext, RoadmapEntry
from kbassist.core.governance.support import is_factual
from kbassist.core.governance.types import RULES, WITHHELD, Verdict, Violation
from kbassist.core.text import Span, content_stems, excerpt, normalise_wording

MAX_PASSES = 3
# A wrong or outdated figure can be swapped for the approved claim it garbled; an invented
# statement (unsupported, with no figure problem) is removed instead.
_REPLACEABLE_BY_CLAIM = frozenset({"unapproved-number", "unsupported-sentence", "expired-claim"})
_FIGURE_RULES = frozenset({"unapproved-number", "expired-claim"})
_DETERMINER_BEFORE = re.compile(
    r"(?i)(?:^|\b(?:a|an|the|our|its|their|your|this|truly|genuinely|very|most|more))\s*$"
)
_WORD_AFTER = re.compile(r"[\s,]+[A-Za-z0-9]")


@dataclass(frozen=True)
class Repair:
    text: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class _Edit:
    span: Span
    replacement: str
    change: str


def _quote(text: str, span: Span, violations: Sequence[Violation] = ()) -> str:
    if any(v.excerpt == WITHHELD for v in violations):
        return "a sentence that repeated internal text"
    return f"“{excerpt(text, span, 90)}”"


def _within(verdict: Verdict, span: Span) -> list[Violation]:
    return [v for v in verdict.violations if v.span[0] < span[1] and span[0] < v.span[1]]


def _rules_text(violations: Sequence[Violation]) -> str:
    rules = sorted({v.rule for v in violations}, key=RULES.index)
    return ", ".join(rules)


def _fix_article(before: str, after: str) -> str:
    match = re.search(r"\b([Aa])n?\s*$", before)
    if not match:
        return before
    vowel = after.lstrip(" ,")[:1].lower() in "aeiou"
    article = match.group(1) + ("n" if vowel else "")
    return before[: match.start()] + article + " "


def _without_phrases(text: str, sentence: Span, spans: list[Span]) -> str | None:
    """The sentence with each banned adjective deleted, or None if that would break it."""
    result = text[sentence[0] : sentence[1]]
    for start, end in sorted(spans, reverse=True):
        a, b = start - sentence[0], end - sentence[0]
        before, after = result[:a], result[b:]
        if not _DETERMINER_BEFORE.search(before) or not _WORD_AFTER.match(after):
            return None
        head = _fix_article(before, after) if before.strip() else ""
        result = head.rstrip() + (" " if head.strip() else "") + after.lstrip(" ,")
    result = result.strip()
    return result[:1].upper() + result[1:] if result else None


def _entries_for(analysis: Analysis, index: int) -> list[RoadmapEntry]:
    for candidate in (index, index - 1):
        entries = [m.entry for m in analysis.mentions if m.sentence == candidate]
        if entries:
            return list(dict.fromkeys(entries))
    return []


def _roadmap_replacement(
    analysis: Analysis, index: int, ctx: GovernanceContext, added: set[str]
) -> str | None:
    parts = []
    present = normalise_wording(analysis.text)
    for entry in _entries_for(analysis, index):
        if entry.say and normalise_wording(entry.say) not in present and entry.id not in added:
            parts.append(entry.say.strip())
            added.add(entry.id)
        if entry.status == "next" and not analysis.has_disclaimer and "disclaimer" not in added:
            parts.append(ctx.disclaimer.strip())
            added.add("disclaimer")
    return " ".join(parts) if parts else None


def _similarities(
    sentence: str, claims: list[tuple[str, str]], ctx: GovernanceContext
) -> list[float]:
    if ctx.embed is not None:
        vectors = ctx.embed_texts([sentence, *(text for _, text in claims)])
        return [float(x) for x in vectors[1:] @ vectors[0]]
    words = content_stems(sentence)
    return [len(words & content_stems(t)) / max(1, len(words | content_stems(t)))
            for _, t in claims]


def _claim_replacement(
    sentence: str, ctx: GovernanceContext, evidence: Sequence[Chunk], present: str,
    added: set[str],
) -> tuple[str, str] | None:
    claims = [
        (c.ref_id, ctx.approved_claims[c.ref_id]) for c in evidence
        if c.kind == "claim" and c.ref_id in ctx.approved_claims and c.ref_id not in added
        and normalise_wording(ctx.approved_claims[c.ref_id]) not in present
    ]
    if not claims:
        return None
    scores = _similarities(sentence, claims, ctx)
    best = int(np.argmax(scores))
    floor = ctx.support.cosine if ctx.embed is not None else 0.35
    if scores[best] < floor:
        return None
    added.add(claims[best][0])
    return claims[best]


def _sentence_edit(
    analysis: Analysis, index: int, violations: list[Violation], ctx: GovernanceContext,
    evidence: Sequence[Chunk], added: set[str],
) -> _Edit:
    span = analysis.sentences[index]
    text = analysis.text
    rules = {v.rule for v in violations}

    def quote(span: Span) -> str:
        return _quote(text, span, violations)

    why = f"{_rules_text(violations)}: {violations[0].detail}"
    if rules == {"banned-phrase"}:
        kept = _without_phrases(text, span, [v.span for v in violations])
        if kept:
            phrases = ", ".join(sorted({f"'{v.excerpt}'" for v in violations}))
            return _Edit(span, kept, f"deleted banned phrase {phrases} from {quote(span)}")
    if "roadmap-overpromise" in rules:
        say = _roadmap_replacement(analysis, index, ctx, added)
        if say:
            return _Edit(span, say, f"replaced {quote(span)} with the approved roadmap "
                                    f"wording ({why})")
    if rules <= _REPLACEABLE_BY_CLAIM and rules & _FIGURE_RULES:
        claim = _claim_replacement(text[span[0]:span[1]], ctx, evidence, normalise_wording(text),
                                   added)
        if claim:
            return _Edit(span, claim[1], f"replaced {quote(span)} with the approved claim "
                                         f"'{claim[0]}' ({why})")
    return _Edit(span, "", f"removed sentence {quote(span)} ({why})")


def _plan(
    analysis: Analysis, verdict: Verdict, ctx: GovernanceContext, evidence: Sequence[Chunk]
) -> list[_Edit]:
    by_sentence: dict[int, list[Violation]] = {}
    loose: list[Violation] = []
    for violation in verdict.violations:
        index = analysis.sentence_of(violation.span[0])
        if index is None:
            loose.append(violation)
        else:
            by_sentence.setdefault(index, []).append(violation)
    added: set[str] = set()
    edits = [_sentence_edit(analysis, i, vs, ctx, evidence, added)
             for i, vs in sorted(by_sentence.items())]
    edits += [_Edit(v.span, "", f"removed “{v.excerpt}” ({v.rule}: {v.detail})") for v in loose]
    return edits


def tidy(text: str) -> str:
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)
    text = re.sub(r"(?m)^[ \t]*(?:[-*•·]|\d{1,2}[.)])[ \t]*$\n?", "", text)
    text = re.sub(r"(?m)[ \t]+$", "", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _apply(text: str, edits: list[_Edit]) -> str:
    for edit in sorted(edits, key=lambda e: e.span[0], reverse=True):
        start, end = edit.span
        if not edit.replacement:
            while end < len(text) and text[end] in " \t":
                end += 1
        text = text[:start] + edit.replacement + text[end:]
    return tidy(text)


def repair(
    text: str,
    verdict: Verdict,
    ctx: GovernanceContext,
    evidence: Sequence[Chunk] = (),
    *,
    check_support: bool = True,
) -> Repair:
    """Remove or replace what ``verdict`` found; re-check and repeat until clean."""
    changes: list[str] = []
    for attempt in range(MAX_PASSES + 1):
        if verdict.ok or not text:
            break
        analysis = analyse(text, ctx)
        edits = _plan(analysis, verdict, ctx, evidence)
        if attempt == MAX_PASSES:  # last resort: no more replacements, only removals
            edits = [_Edit(e.span, "", e.change if not e.replacement else
                           f"removed sentence {_quote(text, e.span, _within(verdict, e.span))} "
                           "(still failing checks)")
                     for e in edits]
        text = _apply(text, edits)
        changes.extend(e.change for e in edits)
        verdict = check(text, ctx, evidence, check_support=check_support)
    return Repair(text=text, changes=tuple(changes))


def content_sentence_count(text: str, ctx: GovernanceContext) -> int:
    """Sentences that say something: not greetings, sign-offs, questions or the disclaimer."""
    analysis = analyse(text, ctx)
    mine = frozenset(ctx.company.lower().split() + ctx.product.lower().split())
    return sum(
        1 for i in range(len(analysis.sentences))
        if normalise_wording(analysis.sentence_text(i)) != normalise_wording(ctx.disclaimer)
        and (analysis.approved[i] or is_factual(analysis.sentence_text(i), mine))
    )


def substantive(original: str, repaired: str, ctx: GovernanceContext) -> bool:
    """The repair kept something worth sending: at least one content sentence, and at least
    a third of the original's content sentences."""
    kept = content_sentence_count(repaired, ctx)
    before = content_sentence_count(original, ctx)
    return kept >= 1 and kept * 3 >= before
