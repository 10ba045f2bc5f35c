"""unapproved-number: every figure must be stated by an approved, unexpired claim."""

from __future__ import annotations

import re

from kbassist.core.governance import numbers
from kbassist.core.governance.analysis import Analysis
from kbassist.core.governance.context import GovernanceContext
from kbassist.core.governance.numbers import Quantity
from kbassist.core.governance.types import Violation

RULE = "unapproved-number"
# "a 20-minute call next week" is a meeting ask, not a product claim.
_MEETING = re.compile(
    r"(?i)\b(?:call|chat|meeting|demo|conversation|catch[- ]?up|walk[- ]?through|slot|"
    r"calendar|session|intro)\b"
)
_DIMENSION_WORDS = {"count": "figure", "percent": "percentage", "multiple": "multiple",
                    "duration": "duration", "bytes": "size", "date": "date", "ratio": "ratio"}


def approved_keys(analysis: Analysis, ctx: GovernanceContext) -> frozenset[numbers.Key]:
    """Approved claims, ICP ranges, next windows, plus the say of each roadmap item discussed."""
    keys = set(ctx.approved_numbers)
    for entry in ctx.roadmap:
        if entry.id in analysis.discussed:
            keys |= entry.numbers
    return frozenset(keys)


def _describe(quantity: Quantity, ctx: GovernanceContext) -> str:
    kind = _DIMENSION_WORDS.get(quantity.dim, "money amount")
    expired = [c.id for c in ctx.expired if quantity.key in c.numbers]
    where = (f"it is stated only by the expired claim '{expired[0]}'" if expired
             else "no approved, unexpired claim states it")
    return f"{kind} '{quantity.text}' is not approved: {where}"


def _is_meeting_ask(quantity: Quantity, sentence: str) -> bool:
    return quantity.dim == "duration" and quantity.value <= 3600 and bool(_MEETING.search(sentence))


def check_numbers(analysis: Analysis, ctx: GovernanceContext) -> list[Violation]:
    approved = approved_keys(analysis, ctx)
    found: list[Violation] = []
    for index in range(len(analysis.sentences)):
        if analysis.approved[index]:
            continue
        sentence = analysis.sentence_text(index)
        for quantity in analysis.quantities_in(index):
            if numbers.is_approved(quantity, approved) or _is_meeting_ask(quantity, sentence):
                continue
            found.append(Violation(RULE, (quantity.start, quantity.end), quantity.text,
                                   _describe(quantity, ctx)))
    return found
