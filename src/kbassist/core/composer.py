"""The offline backend: a deterministic composer that answers only with approved wording.

It quotes claims verbatim, describes roadmap items only with their approved wording and
status, and says the package's ``unknown_answer`` when retrieval finds nothing relevant.
It never writes a number, customer name or status of its own. Pure: no IO.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from kbassist.core.chunking import roadmap_chunk
from kbassist.core.chunks import Chunk, Hit
from kbassist.core.models import KnowledgePackage, RoadmapItem
from kbassist.core.roadmap_policy import approved_wording, find_mentions
from kbassist.core.text import STOPWORDS, prose_sentences, topic_stem

# Cosine similarity (MiniLM) below which the best passage is not about the question.
UNKNOWN_THRESHOLD = 0.30
# Passages scoring below this fraction of the best dense score are left out of the answer.
RELATIVE_CUTOFF = 0.60
MAX_SOURCES = 4
# What a rep can offer instead of a declined roadmap item: capabilities, not proof points.
CAPABILITY_KINDS = frozenset({"value", "differentiator", "security", "compliance"})
# A roadmap hit this close to the question, ranked first or second, is what it asks about.
ROADMAP_IMPLIED = 0.35
AUTHORITY = {"claim": 0, "roadmap": 1, "icp": 2, "messaging": 3, "reference": 4}

_WORD = re.compile(r"[a-z0-9]+")
# Words that say what kind of question it is, not what it is about.
_GENERIC = frozenset(
    [
        "describe", "provide", "explain", "state", "list", "detail", "details", "please", "tell",
        "give", "show", "share", "confirm", "support", "supports", "supported", "offer", "offers",
        "available", "availability", "service", "services", "product", "products", "company",
        "customer", "customers", "client", "clients", "data", "use", "used", "using", "able", "way",
        "ways", "have", "has", "there", "also", "any", "all", "each", "every", "other", "own",
        "more", "most", "much", "many", "well", "work", "works", "need", "needs", "want", "wants",
        "like", "get", "make", "done", "yes", "not", "no", "one", "new", "current", "currently",
        # how a rep relays a question: "our prospect asked ...", "they want to know ..."
        "know", "ask", "asked", "asking", "wonder", "wondering", "question", "prospect",
        # "does it integrate with X": the question is about X
        "integrate", "integrates", "integration", "integrations",
    ]
)
# Below this share of the question's specific words found in the retrieved text, a middling
# dense score is topical drift, not an answer.
MIN_COVERAGE = 0.5
CONFIDENT_DENSE = 0.55


@dataclass(frozen=True)
class Composed:
    text: str
    cited: list[Chunk] = field(default_factory=list)
    roadmap: list[RoadmapItem] = field(default_factory=list)
    unknown: bool = False
    notes: list[str] = field(default_factory=list)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_NOISE = re.compile(r"(\*\*|__|`|^\s*(?:[-*+]|\d+[.)])\s+)", re.M)


def plain_text(markdown: str) -> str:
    """Passage text without headings, emphasis, links or list markers."""
    lines = [line for line in markdown.splitlines() if not line.lstrip().startswith("#")]
    return _MD_NOISE.sub("", _MD_LINK.sub(r"\1", "\n".join(lines)))


def specific_words(text: str) -> set[str]:
    """Stemmed content words that carry the topic of a question."""
    return {topic_stem(w) for w in content_words(text) if w not in _GENERIC}


def coverage(question: str, texts: Sequence[str]) -> float:
    """Share of the question's specific words that occur somewhere in ``texts``."""
    wanted = specific_words(question)
    if not wanted:
        return 1.0
    found: set[str] = set()
    for text in texts:
        found |= wanted & {topic_stem(w) for w in content_words(text)}
    return len(found) / len(wanted)


def best_sentences(passage: str, question: str, limit: int = 2) -> list[str]:
    """The passage sentences that share the most content words with the question."""
    wanted = content_words(question)
    sentences = [
        s for s in prose_sentences(plain_text(passage))
        if len(s) > 20 and "|" not in s and s[-1] in ".!?"
    ]
    if not sentences:
        return []
    ranked = sorted(
        enumerate(sentences), key=lambda pair: (-len(content_words(pair[1]) & wanted), pair[0])
    )
    keep = sorted(index for index, _ in ranked[:limit])
    return [sentences[i] for i in keep]


def topic_of(question: str, package: KnowledgePackage) -> str:
    """The question without the company's and product's names: every passage shares them, so
    they say nothing about whether the package covers what is asked ("Does <product>
    integrate with HubSpot?" is about HubSpot)."""
    for name in sorted({package.config.company, package.config.product}, key=len, reverse=True):
        if name and name.strip():
            question = re.sub(re.escape(name.strip()), " ", question, flags=re.IGNORECASE)
    return question


def implied_roadmap(
    hits: Sequence[Hit], package: KnowledgePackage, question: str
) -> list[RoadmapItem]:
    """A roadmap item at the top of retrieval is what the text is about, even when the rep
    didn't use its exact name ("install it on our own servers" -> a self-hosted item), as
    long as it shares a specific word with the question."""
    topic = topic_of(question, package)
    for hit in hits[:2]:
        chunk = hit.chunk
        close = (hit.dense_score or 0.0) >= ROADMAP_IMPLIED
        if chunk.kind == "roadmap" and close and coverage(topic, [chunk.text]) > 0:
            item = package.roadmap_item(chunk.ref_id)
            return [item] if item else []
    return []


_NAME = re.compile(r"(?<=[\s(/])([A-Z][\w.&+-]*[A-Za-z0-9])")


def missing_names(question: str, texts: Sequence[str]) -> set[str]:
    """Names in the question (capitalised after its first word: a vendor, a competitor, a
    standard) that nothing retrieved mentions."""
    seen = " ".join(texts).lower()
    return {m for m in _NAME.findall(question)
            if len(m) > 2 and m.lower() not in STOPWORDS and m.lower() not in seen}


def is_unknown(question: str, hits: Sequence[Hit], mentioned: Sequence[RoadmapItem]) -> bool:
    """Nothing retrieved is close enough, or it is only topically close: the question's
    specific words are mostly absent from everything retrieved. A question naming something
    the evidence never mentions ("... integrate with HubSpot?") is judged by its other words,
    however close the passages look."""
    if mentioned:
        return False
    best = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
    if best < UNKNOWN_THRESHOLD:
        return True
    texts = [h.chunk.text for h in hits]
    names = missing_names(question, texts)
    if names:
        rest = question
        for name in names:
            rest = rest.replace(name, " ")
        # nothing else specific ("does it integrate with HubSpot?"): the name is the topic
        return not specific_words(rest) or coverage(rest, texts) < MIN_COVERAGE
    return best < CONFIDENT_DENSE and coverage(question, texts) < MIN_COVERAGE


def _covering(question: str, hits: list[Hit], limit: int) -> list[Hit]:
    """The first hit, then only hits that cover question words the chosen ones don't."""
    chosen: list[Hit] = []
    covered: set[str] = set()
    wanted = specific_words(question)
    for hit in hits:
        words = wanted & {topic_stem(w) for w in content_words(hit.chunk.text)}
        if not chosen or words - covered:
            chosen.append(hit)
            covered |= words
        if len(chosen) == limit:
            break
    return chosen


def _relevant(question: str, hits: Sequence[Hit]) -> list[Hit]:
    """Hits worth answering from, highest authority first: claims, roadmap, prose, ICP.

    Claims lead whenever any is relevant; prose fills in only when no claim covers the
    question, and ICP descriptions only when nothing else does.
    """
    best = max((h.dense_score or 0.0 for h in hits), default=0.0)
    floor = max(UNKNOWN_THRESHOLD - 0.05, best * RELATIVE_CUTOFF)
    relevant = [h for h in hits if (h.dense_score or 0.0) >= floor or h.rank == 1]
    by_kind: dict[str, list[Hit]] = {}
    for hit in sorted(relevant, key=lambda h: h.rank):
        by_kind.setdefault(hit.chunk.kind, []).append(hit)
    chosen = _covering(question, by_kind.get("claim", []), 3) + by_kind.get("roadmap", [])[:1]
    if not by_kind.get("claim"):
        prose = sorted(by_kind.get("messaging", []) + by_kind.get("reference", []),
                       key=lambda h: (AUTHORITY[h.chunk.kind], h.rank))
        chosen += prose[:2]
    if not chosen:
        chosen = by_kind.get("icp", [])[:1]
    return chosen[:MAX_SOURCES]


class Composer:
    """Builds answers from retrieved, approved material for one package and one date."""

    def __init__(self, package: KnowledgePackage, today: date):
        self.package = package
        self.today = today
        self.disclaimer = package.config.policy.roadmap_disclaimer
        self.unknown_answer = package.config.policy.unknown_answer

    def answer(self, question: str, hits: Sequence[Hit]) -> Composed:
        mentioned = (find_mentions(question, self.package.roadmap)
                     or implied_roadmap(hits, self.package, question))
        topic = topic_of(question, self.package)
        if is_unknown(topic, hits, mentioned):
            return Composed(text=self.unknown_answer, unknown=True)
        if mentioned:
            return self._roadmap_answer(question, mentioned, hits)
        return self._passages_answer(question, _relevant(topic, hits))

    def _roadmap_answer(
        self, question: str, items: Sequence[RoadmapItem], hits: Sequence[Hit]
    ) -> Composed:
        sentences: list[str] = []
        cited: list[Chunk] = []
        for item in items:
            sentences.append(approved_wording(item, self.disclaimer))
            cited.append(roadmap_chunk(item))
        if any(item.status in {"never", "later"} for item in items):
            alternatives = self._available_alternatives(hits, exclude={i.id for i in items})
            if alternatives:
                sentences.append("What we can offer today:")
                sentences.extend(self._chunk_sentences(c, question) for c in alternatives)
                cited.extend(alternatives)
        return Composed(text=" ".join(s for s in sentences if s), cited=cited, roadmap=list(items))

    def _available_alternatives(self, hits: Sequence[Hit], exclude: set[str]) -> list[Chunk]:
        """Claims and available roadmap items among the hits: what a rep can sell today."""
        chosen: list[Chunk] = []
        for hit in hits:
            chunk = hit.chunk
            if chunk.ref_id in exclude:
                continue
            usable = (chunk.kind == "claim" and chunk.claim_kind in CAPABILITY_KINDS) or (
                chunk.kind == "roadmap" and chunk.status == "available"
            )
            if usable and (hit.dense_score or 0.0) >= UNKNOWN_THRESHOLD:
                chosen.append(chunk)
            if len(chosen) == 2:
                break
        return chosen

    def _chunk_sentences(self, chunk: Chunk, question: str) -> str:
        if chunk.kind == "claim":
            return chunk.text.strip()
        if chunk.kind == "roadmap":
            item = self.package.roadmap_item(chunk.ref_id)
            return approved_wording(item, self.disclaimer) if item else ""
        return " ".join(best_sentences(chunk.text, question))

    def _passages_answer(self, question: str, hits: Sequence[Hit]) -> Composed:
        sentences: list[str] = []
        cited: list[Chunk] = []
        roadmap: list[RoadmapItem] = []
        notes: list[str] = []
        for hit in hits:
            text = self._chunk_sentences(hit.chunk, question)
            if not text or text in sentences:
                continue
            sentences.append(text)
            cited.append(hit.chunk)
            item = self.package.roadmap_item(hit.chunk.ref_id)
            if hit.chunk.kind == "roadmap" and item:
                roadmap.append(item)
            notes.extend(self._stale_note(hit.chunk))
        if not sentences:
            return Composed(text=self.unknown_answer, unknown=True)
        has_disclaimer = any(self.disclaimer in s for s in sentences)
        if any(i.status == "next" for i in roadmap) and not has_disclaimer:
            sentences.append(self.disclaimer)
        return Composed(text=" ".join(sentences + notes), cited=cited, roadmap=roadmap, notes=notes)

    def _stale_note(self, chunk: Chunk) -> list[str]:
        document = self.package.document(chunk.source) if chunk.kind in AUTHORITY else None
        if document is None or not document.is_stale(self.today):
            return []
        owner = f" with {document.owner}" if document.owner else ""
        return [
            f"(Note: {document.path} is past its review date; check it{owner} before sending.)"
        ]
