"""Rules about wording: banned-phrase, expired-claim and internal-leak."""

from __future__ import annotations

from kbassist.core.governance import numbers
from kbassist.core.governance.analysis import Analysis
from kbassist.core.governance.context import ExpiredClaim, GovernanceContext
from kbassist.core.governance.types import Violation
from kbassist.core.text import WORD_RE, content_stems, shingles, stems

# An expired claim is reused when a sentence carries this share of its content words.
EXPIRED_OVERLAP = 0.6
EXPIRED_MIN_WORDS = 4


def check_banned(analysis: Analysis, ctx: GovernanceContext) -> list[Violation]:
    found = []
    for phrase, pattern in ctx.banned:
        for match in pattern.finditer(analysis.text):
            if analysis.in_approved_wording(match.span()):
                continue
            found.append(Violation("banned-phrase", match.span(), match.group(),
                                   f"'{phrase}' is a banned phrase in the package's voice rules"))
    return found


def _expired_reason(
    claim: ExpiredClaim, sentence: str, words: set[str], keys: set[numbers.Key],
    approved_stems: tuple[frozenset[str], ...],
) -> str | None:
    if claim.customer_pattern is not None and claim.customer_pattern.search(sentence):
        return f"names '{claim.customer}', whose only claim '{claim.id}' has expired"
    if claim.numbers & keys:
        return f"states a figure of the expired claim '{claim.id}'"
    shared = len(claim.stems & words)
    overlap = shared / max(1, len(claim.stems))
    if shared < EXPIRED_MIN_WORDS or overlap < EXPIRED_OVERLAP:
        return None
    if any(len(s & words) / max(1, len(s)) >= overlap for s in approved_stems):
        return None  # an approved claim says this at least as closely (e.g. its renewal)
    return f"repeats the wording of the expired claim '{claim.id}' ({overlap:.0%} overlap)"


def check_expired(analysis: Analysis, ctx: GovernanceContext) -> list[Violation]:
    if not ctx.expired:
        return []
    found = []
    for index, (start, end) in enumerate(analysis.sentences):
        if analysis.approved[index]:
            continue
        sentence = analysis.text[start:end]
        words = content_stems(sentence)
        keys = {q.key for q in analysis.quantities_in(index)}
        for claim in ctx.expired:
            reason = _expired_reason(claim, sentence, words, keys, ctx.approved_claim_stems)
            if reason:
                found.append(Violation("expired-claim", (start, end), sentence,
                                       f"the sentence {reason}"))
                break
    return found


def _capitalised_words(sentence: str) -> tuple[set[str], set[str]]:
    """All words of a sentence, and those capitalised after its first word."""
    words = [w.removesuffix("'s").removesuffix("’s") for w in WORD_RE.findall(sentence)]
    return set(words), {w for w in words[1:] if w[:1].isupper()}


def check_internal(analysis: Analysis, ctx: GovernanceContext) -> list[Violation]:
    if not ctx.internal:
        return []
    found = []
    for start, end in analysis.sentences:
        sentence = analysis.text[start:end]
        grams = set(shingles(stems(sentence)))
        tokens, inner_capitals = _capitalised_words(sentence)
        for source in ctx.internal:
            shared = grams & source.shingles
            rare = (tokens & source.rare) | (inner_capitals & source.initial_rare)
            if len(shared) >= source.min_shingles or rare:
                what = (f"{len(rare)} distinctive word(s)" if rare  # never the words
                        else f"{len(shared)} phrases")
                found.append(Violation("internal-leak", (start, end), sentence,
                                       f"the sentence shares {what} with {source.label}"))
                break
    return found
