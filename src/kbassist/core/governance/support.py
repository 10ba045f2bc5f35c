"""unsupported-sentence: a factual sentence must be backed by the cited evidence.

A sentence is supported when (1) its figures, names and identifiers all appear in the
evidence and (2) its best cosine similarity to an evidence sentence reaches the calibrated
threshold. Without an embedder, (2) becomes lexical: the share of its content words found in
the evidence. Thresholds come from evals/governance/calibrate_support.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kbassist.core.governance import numbers
from kbassist.core.governance.names import COMMON_CAPITALISED
from kbassist.core.ports import Embed
from kbassist.core.text import WORD_RE, content_stems, split_sentences, stem

# Calibrated by evals/governance/calibrate_support.py; see support_calibration.json.
DEFAULT_SUPPORT_THRESHOLD = 0.61  # best cosine to an evidence unit, with an embedder
DEFAULT_LEXICAL_THRESHOLD = 0.6  # share of content words found in the evidence, without one

_NOT_FACTUAL_START = re.compile(
    r"(?i)^(?:hi|hello|hey|dear|good\s+(?:morning|afternoon|evening)|greetings"
    r"|best|regards|kind\s+regards|warm\s+regards|many\s+thanks|thanks|thank\s+you|cheers"
    r"|sincerely|talk\s+soon|looking\s+forward|all\s+the\s+best"
    r"|i['’]ll|i\s+will|i['’]d|i\s+would|i\s+can|i['’]m\s+happy|i['’]m\s+glad|happy\s+to|glad\s+to"
    r"|let\s+me|let['’]s|would\s+you|could\s+we|can\s+we|shall\s+we|if\s+(?:you|it|that|useful|"
    r"helpful|helps)|feel\s+free|please|do\s+you|are\s+you|is\s+there|when\s+would|p\.?s\.?\b"
    r"|\(?note:|subject:|re:)"
)
_FACT_MARKER = re.compile(
    r"(?i)\b(?:we|we['’](?:re|ve)|our|us|it|it['’]s|its|they|their|the\s+(?:product|platform|"
    r"service|app|software|system|tool|solution))\b"
)
_HAS_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class SupportPolicy:
    """When a factual sentence counts as supported (thresholds from calibration)."""

    cosine: float = DEFAULT_SUPPORT_THRESHOLD
    lexical: float = DEFAULT_LEXICAL_THRESHOLD


@dataclass(frozen=True)
class Evidence:
    """The cited chunks, prepared once per check: sentences, vectors, words and figures."""

    sentences: tuple[str, ...]
    vectors: np.ndarray | None
    words: frozenset[str]
    content: frozenset[str]
    keys: frozenset[numbers.Key]
    initials: str  # first letters of consecutive evidence words, to resolve acronyms (SLA)


@dataclass(frozen=True)
class Assessment:
    similarity: float | None  # best cosine to an evidence sentence; None without an embedder
    coverage: float  # share of the sentence's content words found in the evidence
    missing: tuple[str, ...]  # figures, names and identifiers the evidence does not state


def evidence_units(texts: Sequence[str]) -> list[str]:
    """Evidence sentences, plus each whole passage of up to three sentences."""
    units: list[str] = []
    for text in texts:
        spans = split_sentences(text)
        pieces = [" ".join(text[a:b].split()) for a, b in spans]
        units.extend(p for p in pieces if len(p) > 3)
        if 1 < len(pieces) <= 3:
            units.append(" ".join(pieces))
    return list(dict.fromkeys(units))


def _initials(tokens: list[str]) -> str:
    return "".join(t[0] for t in tokens if t[0].isalpha())


def _stated(entity: str, evidence: Evidence) -> bool:
    lowered = entity.lower()
    if lowered in evidence.words or stem(entity) in evidence.words:
        return True
    letters = entity.rstrip("s")
    return 2 <= len(letters) <= 6 and letters.isupper() and letters.lower() in evidence.initials


def build_evidence(texts: Sequence[str], embed: Embed | None) -> Evidence:
    units = evidence_units(texts)
    vectors = np.asarray(embed(units), dtype=np.float32) if embed and units else None
    joined = "\n".join(texts)
    tokens_in_order = [w.lower().replace("’", "'") for w in WORD_RE.findall(joined)]
    tokens = set(tokens_in_order)
    return Evidence(
        sentences=tuple(units),
        vectors=vectors,
        words=frozenset(tokens | {stem(t) for t in tokens}),
        content=frozenset(content_stems(joined)),
        keys=numbers.quantity_keys(texts),
        initials=_initials(tokens_in_order),
    )


def _is_name(word: str, index: int, common: frozenset[str]) -> bool:
    capitalised = word[:1].isupper() and (index > 0 or any(c.isupper() for c in word[1:]))
    lowered = word.lower()
    return capitalised and lowered not in COMMON_CAPITALISED and lowered not in common


def _entities(sentence: str, own_words: frozenset[str], common: frozenset[str]) -> list[str]:
    """Names and identifiers: capitalised words after the first, and tokens with digits."""
    quantities = numbers.extract_quantities(sentence)
    inside = [(q.start, q.end) for q in quantities]
    found: list[str] = []
    for index, match in enumerate(WORD_RE.finditer(sentence)):
        word = match.group().removesuffix("'s").removesuffix("’s")
        lowered = word.lower()
        if lowered in own_words or any(a <= match.start() < b for a, b in inside):
            continue
        if _HAS_DIGIT.search(word) or _is_name(word, index, common):
            found.append(word)
    return found


def assess(
    sentence: str, evidence: Evidence, vector: np.ndarray | None, *,
    own_words: frozenset[str] = frozenset(), common: frozenset[str] = frozenset(),
) -> Assessment:
    missing = [
        q.text for q in numbers.extract_quantities(sentence)
        if not numbers.is_approved(q, evidence.keys)
    ]
    missing += [e for e in _entities(sentence, own_words, common) if not _stated(e, evidence)]
    words = content_stems(sentence) - own_words
    coverage = len(words & evidence.content) / len(words) if words else 1.0
    similarity = None
    if vector is not None and evidence.vectors is not None and len(evidence.vectors):
        similarity = float(np.max(evidence.vectors @ vector))
    elif vector is not None:
        similarity = 0.0
    return Assessment(similarity, coverage, tuple(dict.fromkeys(missing)))


def supported(a: Assessment, policy: SupportPolicy) -> bool:
    """Every figure/name stated by the evidence, and close enough to it: by cosine, or by
    shared content words when there is no embedder."""
    if a.missing:
        return False
    if a.similarity is not None:
        return a.similarity >= policy.cosine
    return a.coverage >= policy.lexical


def is_factual(sentence: str, own_words: frozenset[str]) -> bool:
    """Declarative and about the product/company, or carrying a figure or a name."""
    stripped = sentence.strip()
    tokens = WORD_RE.findall(stripped)
    if len(tokens) < 4 or stripped.endswith(("?", ":")) or _NOT_FACTUAL_START.match(stripped):
        return False
    if _FACT_MARKER.search(stripped) or _HAS_DIGIT.search(stripped):
        return True
    if any(t.lower() in own_words for t in tokens):
        return True
    return any(t[:1].isupper() and t.lower() not in COMMON_CAPITALISED for t in tokens[1:])


def reason(a: Assessment, policy: SupportPolicy) -> str:
    if a.missing:
        listed = ", ".join(f"'{m}'" for m in a.missing[:4])
        return f"the cited evidence does not state {listed}"
    if a.similarity is not None:
        return (f"no cited evidence supports it (best similarity {a.similarity:.2f} < "
                f"{policy.cosine:.2f})")
    return (f"no cited evidence supports it (only {a.coverage:.0%} of its content words are "
            f"in the evidence, below {policy.lexical:.0%})")
