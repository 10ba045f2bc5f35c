"""Words, stems, negation and phrase matching for reading a prospect description."""

from __future__ import annotations

import re
from collections.abc import Sequence

from kbassist.core.text import STOPWORDS
from kbassist.core.text import topic_stem as stem

INDUSTRY_THRESHOLD = 0.48  # industry phrase vs an industry term or segment name
CONTEXT_THRESHOLD = 0.5  # a clause vs a pain or trigger
DISQUALIFIER_THRESHOLD = 0.5  # a clause vs a disqualifier (plus a lexical anchor)
INDUSTRY_MARGIN = 0.08  # ...and that much closer than to any other segment's industries
LEXICAL_CONTEXT_THRESHOLD = 0.6  # share of a pain's content words present, without embedder
NAME_WORD_STRENGTH = 0.6  # a distinctive segment-name word is weaker than an industry term

# ---------------------------------------------------------------------------------------------
# Words


def _split(text: str) -> list[str]:
    return text.split()


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_GENERIC = _words(
    "company companies business businesses firm firms provider providers contractor contractors "
    "operator operators group organisation organization enterprise outfit specialist "
    "specialists vendor supplier ltd limited inc llc plc gmbh corp corporation co family owned "
    "privately held private public listed independent small mid midsize midsized sized medium "
    "large big growing fast leading established national regional global international local "
    "multi site based headquartered hq market service services solutions commercial new own "
    "employee employees staff people person team workforce headcount strong"
)
_NEGATION_CUES = frozenset({"not", "no", "never", "without", "nor", "neither", "none", "cannot"})
_NEGATION_PAIRS = (("rather", "than"), ("instead", "of"), ("other", "than"))
_SCOPE_BREAKERS = frozenset({"but", "however", "although", "though", "while", "whereas", "yet"})
# The toolkit's stop words, less what carries a prospect's meaning: negations, clause breaks,
# and words a disqualifier turns on ("wants to own the hardware", "fewer than").
_STOPWORDS = (STOPWORDS | _words("mostly mainly largely primarily whose")) - _NEGATION_CUES \
    - _SCOPE_BREAKERS - _words("own out off over under above below few more most only")
_NEGATION_SCOPE = 6
_TOKEN = re.compile(r"[a-z0-9]+|[,;:.!?()\u2014]")


def _normalise(text: str) -> str:
    return re.sub(r"n['\u2019]t\b", " not", text.lower())


def _tokens(text: str) -> list[str]:
    """Lowercase words and clause punctuation; "don't" becomes "do not"."""
    return _TOKEN.findall(_normalise(text))


def _stems_match(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 4 and long_.startswith(short)


def _content_stems(text: str) -> list[str]:
    return [stem(t) for t in _tokens(text) if t.isalnum() and t not in _STOPWORDS]


def _negated_positions(tokens: Sequence[str]) -> set[int]:
    """Positions of words inside a negation's scope (up to the next clause break)."""
    negated: set[int] = set()
    for i, tok in enumerate(tokens):
        pair = any(tok == a and i + 1 < len(tokens) and tokens[i + 1] == b
                   for a, b in _NEGATION_PAIRS)
        if tok not in _NEGATION_CUES and tok != "non" and not pair:
            continue
        width = 1 if tok == "non" else _NEGATION_SCOPE
        start = i + (2 if pair else 1)
        for j in range(start, min(len(tokens), start + width)):
            if not tokens[j].isalnum() or tokens[j] in _SCOPE_BREAKERS:
                break
            negated.add(j)
    return negated


def polarity(text: str) -> dict[str, bool]:
    """Content stem -> True when the text negates it ("no residential work": residential)."""
    tokens = _tokens(text)
    negated = _negated_positions(tokens)
    out: dict[str, bool] = {}
    for i, tok in enumerate(tokens):
        if tok.isalnum() and tok not in _STOPWORDS and tok not in _NEGATION_CUES:
            key = stem(tok)
            out[key] = out.get(key, False) or i in negated
    return out


def is_negated(phrase: str, text: str) -> bool:
    """Whether every content word of ``phrase`` that occurs in ``text`` is negated there."""
    pol = polarity(text)
    hits = [v for s in _content_stems(phrase) for k, v in pol.items() if _stems_match(s, k)]
    return bool(hits) and all(hits)


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in re.split(r"[\s\-_/]+", phrase.strip()) if w]
    return re.compile(r"(?<![\w-])" + r"[\s\-_/]+".join(words) + r"(?![\w-])", re.IGNORECASE)


def _contains_phrase(stems: Sequence[str], phrase: str) -> bool:
    """Whether the stemmed words of ``phrase`` occur contiguously in ``stems``."""
    target = [stem(t) for t in _tokens(phrase) if t.isalnum()]
    if not target:
        return False
    n = len(target)
    return any(
        all(_stems_match(stems[i + k], target[k]) if len(target[k]) >= 4 else
            stems[i + k] == target[k] for k in range(n))
        for i in range(len(stems) - n + 1)
    )
