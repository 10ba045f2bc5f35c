"""The industry phrase, the description's clauses, similarity, and disqualifier checks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from kbassist.core.fit.firmographics import (
    _EMP_NOUNS,
    _WORD_NUMBERS,
    NUMBER,
    Headcount,
    Place,
    parse_count,
    parse_number,
)
from kbassist.core.fit.text import (
    _GENERIC,
    _STOPWORDS,
    DISQUALIFIER_THRESHOLD,
    INDUSTRY_THRESHOLD,
    _content_stems,
    _stems_match,
    _tokens,
    _words,
    polarity,
    stem,
)
from kbassist.core.ports import Embed

# ---------------------------------------------------------------------------------------------
# Industry phrase: what the description says the company is ("a UK bakery chain" -> "bakery").

_PHRASE_BREAKS = _words(
    "with in based headquartered that which who whose operating operates serving serves across "
    "from employing employs has have having is are was were looking wants want needs need "
    "running runs covering where whom currently recently just for"
)
_COPULA = re.compile(r"(?:\b(?:is|are|was|runs|operates|owns)|['\u2019]re)\s+(?:a|an|the)\s+",
                     re.IGNORECASE)
_RAW_TOKEN = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*|[,;:.!?()\u2014]")


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?;])\s+", text.strip(), maxsplit=1)[0]


def _is_name_word(tokens: Sequence[str], i: int) -> bool:
    """A Title-case word that looks like part of a company name ("Acme Ltd", "Brennan Co")."""
    tok = tokens[i]
    if not (tok[:1].isupper() and tok[1:].islower()):
        return False
    neighbours = [tokens[j] for j in (i - 1, i + 1) if 0 <= j < len(tokens)]
    return i > 0 or any(n[:1].isupper() for n in neighbours)


def _is_filler(word: str, place_words: set[str]) -> bool:
    """Words that say nothing about the industry: size, place, numbers, 'company', 'we're'."""
    if "'" in word or "\u2019" in word or word in _STOPWORDS or word in place_words:
        return True
    return all(p in _GENERIC or p.isdigit() or p in _WORD_NUMBERS for p in word.split("-"))


def _phrase_words(tokens: Sequence[str], place_words: set[str]) -> tuple[list[str], str]:
    """Content words of the leading noun phrase and the word that ended it."""
    words: list[str] = []
    for i, tok in enumerate(tokens):
        low = tok.lower()
        if not tok[0].isalnum() or low in _PHRASE_BREAKS or low == "of":
            return words, low
        if not (_is_filler(low, place_words) or _is_name_word(tokens, i)):
            words.append(low)
    return words, ""


def industry_phrase(text: str, places: Sequence[Place]) -> str:
    """The words that say what the company does, minus size, place and filler; '' if none."""
    sentence = _first_sentence(text)
    if m := _COPULA.search(sentence):
        sentence = sentence[m.end():]
    place_words = {w.lower() for p in places for w in re.split(r"[\s.]+", p.name) if w}
    tokens = _RAW_TOKEN.findall(sentence)
    for _ in range(3):
        words, ended = _phrase_words(tokens, place_words)
        if words or not ended or ended not in {"of", ","}:
            return " ".join(words)
        idx = next(i for i, t in enumerate(tokens) if t.lower() == ended)
        tokens = tokens[idx + 1:]
    return ""


# ---------------------------------------------------------------------------------------------
# Description units: sentences and clauses, the grain at which statements are compared.

def split_units(text: str) -> list[str]:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?;])\s+|\n+", text) if s.strip()]
    units: list[str] = []
    for sentence in sentences:
        clauses = re.split(r",\s+|\s*\u2014\s*|\s+(?:but|while|whereas|although|though|"
                           r"however)\s+", sentence)  # the breaks that end a negation's scope
        for unit in [sentence, *clauses]:
            unit = unit.strip(" .;")
            if len(unit.split()) >= 2 and unit not in units:
                units.append(unit)
    if len(sentences) > 1 and text.strip() not in units:
        units.append(text.strip())
    return units or ([text.strip()] if text.strip() else [])


class _Similarity:
    """Cosine similarities between texts; embeds each text once, in as few calls as possible.
    Without an embedder every similarity is 0 and ``enabled`` is False."""

    def __init__(self, embed: Embed | None, texts: Sequence[str]):
        self._embed = embed
        self.enabled = embed is not None
        self._vectors: dict[str, np.ndarray] = {}
        self.add(texts)

    def add(self, texts: Iterable[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t and t not in self._vectors))
        if self._embed is not None and todo:
            vectors = np.asarray(self._embed(todo), dtype=np.float32)
            self._vectors.update(zip(todo, vectors, strict=True))

    def get(self, a: str, b: str) -> float:
        va, vb = self._vectors.get(a), self._vectors.get(b)
        return 0.0 if va is None or vb is None else float(va @ vb)

    def best(self, queries: Iterable[str], targets: Iterable[str]) -> tuple[float, str, str]:
        """Highest similarity and the (query, target) pair that reached it."""
        pairs = [(self.get(q, t), q, t) for q in queries for t in targets]
        return max(pairs, default=(0.0, "", ""))

    def industry(self, phrase: str, terms: Sequence[str]) -> tuple[float, str]:
        """Best similarity of the industry phrase to a term, discounting a shared word:
        'security guarding' is close to 'security systems' only through 'security', so such
        a pair must also match on what remains ('guarding' vs 'systems')."""
        score, term = max(((self.get(phrase, t), t) for t in terms), default=(0.0, ""))
        rest_a, rest_b = _unshared(phrase, term), _unshared(term, phrase)
        if score < INDUSTRY_THRESHOLD or not rest_a or not rest_b or rest_a == phrase:
            return score, term
        self.add([rest_a, rest_b])
        return min(score, self.get(rest_a, rest_b)), term


def _unshared(text: str, other: str) -> str:
    """The words of ``text`` whose stems ``other`` doesn't contain."""
    theirs = _content_stems(other)
    words = [t for t in _tokens(text) if t.isalnum() and t not in _STOPWORDS]
    return " ".join(w for w in words if not any(_stems_match(stem(w), o) for o in theirs))


# ---------------------------------------------------------------------------------------------
# Disqualifiers

_QUANTITY = re.compile(
    rf"\b(?P<cmp>fewer\s+than|less\s+than|under|below|at\s+most|more\s+than|over|above|"
    rf"greater\s+than|at\s+least)\s+(?P<n>{NUMBER})\s+(?P<noun>[a-z][a-z\s-]*)", re.IGNORECASE)
_SMALL_CUES = frozenset({"few", "handful", "small", "only", "just", "couple", "tiny"})
_LARGE_CUES = frozenset({"many", "large", "hundreds", "thousands", "big"})


@dataclass(frozen=True)
class QuantityRule:
    """'Fewer than 25 field technicians' -> below, 25, 'field technicians'."""

    below: bool  # True: disqualified when the count is under the limit
    limit: int
    inclusive: bool
    noun: str

    @property
    def head(self) -> str:
        return self.noun.split()[-1]

    def violated(self, count: int) -> bool:
        if self.below:
            return count < self.limit or (self.inclusive and count == self.limit)
        return count > self.limit or (self.inclusive and count == self.limit)


def parse_quantity_rule(disqualifier: str) -> QuantityRule | None:
    m = _QUANTITY.search(disqualifier)
    if not m or (limit := parse_number(m.group("n"))) is None:
        return None
    noun_words: list[str] = []
    for word in m.group("noun").lower().split()[:3]:
        if word in _STOPWORDS:
            break
        noun_words.append(word)
    if not noun_words:
        return None
    cmp = " ".join(m.group("cmp").lower().split())
    below = cmp in {"fewer than", "less than", "under", "below", "at most"}
    return QuantityRule(below, limit, cmp in {"at most", "at least"}, " ".join(noun_words))


@dataclass(frozen=True)
class DisqualifierCheck:
    text: str
    triggered: bool
    reason: str | None = None
    missing: str | None = None


def _check_quantity(rule: QuantityRule, text: str, dq: str,
                    headcount: Headcount | None) -> DisqualifierCheck:
    is_headcount = rule.head in _EMP_NOUNS
    count = headcount.value if is_headcount and headcount else parse_count(text, rule.head)
    if count is not None:
        hit = rule.violated(count)
        verb = "meets" if hit else "does not meet"
        return DisqualifierCheck(dq, hit, f"{rule.noun} {count} {verb} disqualifier '{dq}'")
    if rule.below and headcount and headcount.high is not None and headcount.high < rule.limit:
        return DisqualifierCheck(dq, True, f"{headcount.high} employees in total means "
                                 f"fewer than {rule.limit} {rule.noun}: disqualifier '{dq}'")
    cues = _SMALL_CUES if rule.below else _LARGE_CUES
    words = set(_tokens(text))
    if words & cues and any(_stems_match(stem(w), stem(rule.head)) for w in words):
        return DisqualifierCheck(dq, True, f"the description describes few {rule.noun}: "
                                 f"disqualifier '{dq}'")
    return DisqualifierCheck(dq, False, missing=f"number of {rule.noun}")


def _anchors(dq: str, unit: str) -> tuple[list[str], list[str]]:
    """Shared content words whose polarity agrees / disagrees between disqualifier and unit."""
    dq_pol, unit_pol = polarity(dq), polarity(unit)
    agree: list[str] = []
    disagree: list[str] = []
    for d_stem, d_neg in dq_pol.items():
        matches = [neg for u_stem, neg in unit_pol.items() if _stems_match(d_stem, u_stem)]
        if matches:
            (agree if d_neg in matches else disagree).append(d_stem)
    return agree, disagree


def _lexically_states(dq: str, unit: str) -> bool:
    """Without embeddings: half or more of the disqualifier's content words appear in the unit."""
    dq_stems = set(_content_stems(dq))
    unit_stems = _content_stems(unit)
    shared = [s for s in dq_stems if any(_stems_match(s, u) for u in unit_stems)]
    return len(shared) >= min(2, len(dq_stems)) and len(shared) * 2 >= len(dq_stems)


def _key_words(dq: str, domain: frozenset[str]) -> set[str]:
    """The disqualifier's own words: not the segment's everyday vocabulary ('robots' in a
    robotics ICP), which every prospect shares and so proves nothing."""
    words = set(_content_stems(dq))
    own = {w for w in words if not any(_stems_match(w, d) for d in domain)}
    return own or words


def _check_statement(dq: str, units: Sequence[str], sim: _Similarity,
                     domain: frozenset[str]) -> DisqualifierCheck:
    contradicted_in: str | None = None
    keys = _key_words(dq, domain)
    for unit in units:
        score = sim.get(unit, dq)
        close = score >= DISQUALIFIER_THRESHOLD if sim.enabled else _lexically_states(dq, unit)
        if not close:
            continue
        agree, disagree = _anchors(dq, unit)
        if disagree:
            contradicted_in = contradicted_in or unit
        elif keys & set(agree):
            how = f"similarity {score:.2f}" if sim.enabled else "shared wording"
            return DisqualifierCheck(dq, True, f"disqualifier '{dq}' is stated: '{unit}' ({how})")
    if contradicted_in:
        return DisqualifierCheck(dq, False, f"disqualifier '{dq}' does not apply: the "
                                 f"description says the opposite ('{contradicted_in}')")
    return DisqualifierCheck(dq, False)


def check_disqualifier(dq: str, text: str, units: Sequence[str], sim: _Similarity,
                       headcount: Headcount | None, domain: frozenset[str] = frozenset()
                       ) -> DisqualifierCheck:
    """Whether the description states ``dq``; ``domain`` is the segment's vocabulary."""
    rule = parse_quantity_rule(dq)
    if rule is not None:
        return _check_quantity(rule, text, dq, headcount)
    return _check_statement(dq, units, sim, domain)
