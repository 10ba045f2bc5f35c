"""One pass over an output text that every rule reads: sentences, which of them are the
package's own approved wording, which roadmap items are mentioned where, and whether the
roadmap disclaimer is present."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kbassist.core.governance.context import GovernanceContext, RoadmapEntry
from kbassist.core.governance.numbers import Quantity, extract_quantities
from kbassist.core.governance.roadmap_names import find_names
from kbassist.core.text import Span, content_stems, normalise_wording, split_sentences

# A mention preceded by these is the prospect's own thing ("your payroll system").
_OWNED = re.compile(
    r"(?i)\b(?:your|their|its|existing|current|own|third[- ]party)\s+(?:\w+\s+){0,1}$"
)


@dataclass(frozen=True)
class Mention:
    entry: RoadmapEntry
    start: int
    end: int
    sentence: int  # index into Analysis.sentences


@dataclass(frozen=True)
class Analysis:
    text: str
    sentences: tuple[Span, ...]
    approved: tuple[bool, ...]  # the sentence is verbatim approved wording (say, disclaimer...)
    mentions: tuple[Mention, ...]
    has_disclaimer: bool
    discussed: frozenset[str]  # roadmap items named, or quoted by their approved wording
    quantities: tuple[tuple[Quantity, ...], ...]  # figures of each sentence

    def sentence_of(self, position: int) -> int | None:
        for index, (start, end) in enumerate(self.sentences):
            if start <= position < end:
                return index
        return None

    def sentence_text(self, index: int) -> str:
        start, end = self.sentences[index]
        return self.text[start:end]

    def quantities_in(self, index: int) -> tuple[Quantity, ...]:
        return self.quantities[index]

    def in_approved_wording(self, span: Span) -> bool:
        index = self.sentence_of(span[0])
        return index is not None and self.approved[index]


def _mentions(text: str, sentences: list[Span], ctx: GovernanceContext) -> list[Mention]:
    entries = {e.id: e for e in ctx.roadmap}
    found: list[Mention] = []
    for start, end, item_id in find_names(text, ctx.roadmap_names):
        entry = entries.get(item_id)
        if entry is None or _OWNED.search(text, max(0, start - 40), start):
            continue  # an available item, or the prospect's own system
        index = next((i for i, (a, b) in enumerate(sentences) if a <= start < b), None)
        if index is not None:
            found.append(Mention(entry, start, end, index))
    return found


def _has_disclaimer(text: str, sentences: list[Span], ctx: GovernanceContext) -> bool:
    if not ctx.disclaimer_stems:
        return True
    if normalise_wording(ctx.disclaimer) in normalise_wording(text):
        return True
    wanted = ctx.disclaimer_stems
    for i in range(len(sentences)):
        window = text[sentences[i][0] : sentences[min(i + 1, len(sentences) - 1)][1]]
        if len(wanted & content_stems(window)) >= 0.8 * len(wanted):
            return True
    return False


def _quantities(
    text: str, sentences: list[Span], ctx: GovernanceContext
) -> tuple[tuple[Quantity, ...], ...]:
    """Figures per sentence; digits inside names such as 'Dynamics 365' are not figures."""
    pattern = ctx.number_name_mask
    masks = [m.span() for m in pattern.finditer(text)] if pattern else []
    per_sentence: list[list[Quantity]] = [[] for _ in sentences]
    index = 0
    for quantity in extract_quantities(text, masked=masks):
        while index < len(sentences) and sentences[index][1] <= quantity.start:
            index += 1
        if index < len(sentences) and sentences[index][0] <= quantity.start:
            per_sentence[index].append(quantity)
    return tuple(tuple(q) for q in per_sentence)


def analyse(text: str, ctx: GovernanceContext) -> Analysis:
    sentences = split_sentences(text)
    wording = [normalise_wording(text[a:b]) for a, b in sentences]
    approved = tuple(w in ctx.approved_wording for w in wording)
    mentions = tuple(_mentions(text, sentences, ctx))
    quoted = set(wording)
    discussed = {m.entry.id for m in mentions}
    discussed.update(e.id for e in ctx.roadmap if e.say_wording & quoted)
    return Analysis(
        text=text,
        sentences=tuple(sentences),
        approved=approved,
        mentions=mentions,
        has_disclaimer=_has_disclaimer(text, sentences, ctx),
        discussed=frozenset(discussed),
        quantities=_quantities(text, sentences, ctx),
    )
