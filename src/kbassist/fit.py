"""ICP fit: match a prospect description to the best icp.yaml segment and say why. Pure.

Nothing here depends on a particular package: every name, range and phrase comes from the
``KnowledgePackage`` passed in. The only built-in vocabulary is a small, generic place table
(``COUNTRIES``, ``STATES``, ``REGIONS``) and English stop, filler and negation words.

What is read from the description (only what it states; the rest is reported as missing):

* Company size: "450 employees", "about 3,000 staff", "2k people", "a 12-person team",
  "between 200 and 500 employees", "headcount of 1.2k", "200+ employees", "over 500 staff".
* Places: countries and demonyms ("UK", "British", "Germany", "Dutch", "USA"), US states and
  Canadian provinces, regions ("EU", "Europe", "Nordics", "North America", "APAC"...), and any
  region a segment names literally. A place is inside a segment when the countries it stands
  for overlap the segment's regions ("Europe" overlaps "EU"); a segment region the table
  doesn't know matches only when the description names it.
* Industry: a segment's ``industries`` and distinctive name words (used by no other segment),
  matched as stemmed phrases. With an embedder, also the similarity of the description's
  industry phrase ("a UK bakery chain" -> "bakery chain") to them; such a meaning-only match
  must reach ``INDUSTRY_THRESHOLD``, hold when a shared word is set aside ("security guarding"
  vs "security systems"), and beat every other segment by ``INDUSTRY_MARGIN``.
* Pains and triggers: similarity of each clause to a segment's pains and triggers (word
  overlap without an embedder). They pick the segment and stand in for a missing industry.

Disqualifiers (of the chosen segment) are triggered when a clause of the description states
one: similarity at least ``DISQUALIFIER_THRESHOLD`` AND a shared content word that is the
disqualifier's own (not the segment's everyday vocabulary), with no shared word of opposite
polarity, so "they do not want to own hardware" never triggers "wants to own the hardware".
Quantity disqualifiers ("Fewer than 25 field technicians") are decided by the number the
description gives for that noun; without one, "a 12-person team" (< 25 in total) or "a handful
of technicians" still decide it, else the count is reported as missing.

Verdict rules, first match wins:

1. no-fit: a disqualifier of the chosen segment is triggered.
2. no-fit: the description states an industry that matches no segment.
3. no-fit: a stated headcount is outside the segment's employee range, or no stated place is
   inside its regions. One contradicted firmographic is enough: icp.yaml ranges are
   qualification bounds, and a rep is better served by a clear no than a hedge.
4. fit: the industry matches, nothing stated contradicts, and at most one of company size
   and region is missing.
5. partial: nothing stated contradicts, but the evidence is incomplete: the industry is only
   inferred from pains/triggers, or is not stated at all (then the segment is reported only
   when the size/region single one out), or both size and region are missing.

Calibration (evals/fit/prospects.yaml, 38 labelled prospects, real MiniLM): every case is
right for DISQUALIFIER_THRESHOLD 0.45-0.55, INDUSTRY_THRESHOLD 0.35-0.55, CONTEXT_THRESHOLD
0.35-0.75 and INDUSTRY_MARGIN 0.05-0.10; the constants sit inside those ranges.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np

from kbassist.knowledge.models import KnowledgePackage, Segment

Verdict = Literal["fit", "partial", "no-fit"]
EmbedFn = Callable[[list[str]], np.ndarray]

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


_STOPWORDS = _words(
    "a an the and or of for to in on at by with from as is are be been being it its their they "
    "them this that these those which who whose has have had do does did into than then there "
    "our we you your i my he she his her all any some so such only just also very more most "
    "mostly mainly largely primarily about per via other"
)
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
_NEGATION_SCOPE = 6
_TOKEN = re.compile(r"[a-z0-9]+|[,;:.!?()\u2014]")


def _normalise(text: str) -> str:
    return re.sub(r"n['\u2019]t\b", " not", text.lower())


def _tokens(text: str) -> list[str]:
    """Lowercase words and clause punctuation; "don't" becomes "do not"."""
    return _TOKEN.findall(_normalise(text))


def stem(word: str) -> str:
    """A deliberately small stemmer: plurals, -ing/-ed, trailing e ("servicing" ~ "service")."""
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith(("sses", "shes", "ches", "xes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            w = w[: -len(suffix)]
            break
    return w[:-1] if len(w) > 4 and w.endswith("e") else w


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


# ---------------------------------------------------------------------------------------------
# Numbers and headcount

_WORD_NUMBERS = {
    w: i for i, w in enumerate(_split(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty"))
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
     "ninety": 90, "dozen": 12, "hundred": 100}
_WORDNUM = "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True))
NUMBER = (rf"(?:\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)(?:\s?(?:k|thousand|million)\b)?"
          rf"|(?:a\s+)?(?:{_WORDNUM})(?:-(?:{_WORDNUM}))?\b")
_APPROX = r"(?:about|around|approximately|approx\.?|roughly|nearly|almost|some|circa|c\.|~)"
_LOWER = r"(?:over|more\s+than|above|upwards\s+of|at\s+least|in\s+excess\s+of)"
_UPPER = r"(?:under|fewer\s+than|less\s+than|below|up\s+to|at\s+most)"
_QUAL = rf"(?:(?:just\s+)?(?P<approx>{_APPROX})|(?P<lower>{_LOWER})|(?P<upper>{_UPPER}))"
_EMP_NOUN = (r"(?:employees?|staff(?:ers)?|people|persons?|workers?|personnel|ftes?|"
             r"colleagues|team\s+members|strong)")
_EMP_NOUNS = frozenset({"employee", "employees", "staff", "people", "person", "persons",
                        "worker", "workers", "personnel", "fte", "ftes", "headcount"})
_DIGITS = r"(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s?(?:k|thousand)\b)?"
_RANGE = re.compile(
    rf"(?:between\s+(?P<a>{NUMBER})\s+and\s+(?P<b>{NUMBER})|(?P<c>{_DIGITS})\s*(?:-|\u2013|to)\s*"
    rf"(?P<d>{_DIGITS}))\s*(?:-\s*|\s+)(?:full[- ]time\s+)?{_EMP_NOUN}\b", re.IGNORECASE)
_COUNT_BEFORE = re.compile(
    rf"(?:{_QUAL}\s+)?(?P<n>{NUMBER})\s*(?P<plus>\+)?\s*(?:-\s*|\s+)?"
    rf"(?:(?:full[- ]time|permanent|total)\s+)?{_EMP_NOUN}\b", re.IGNORECASE)
_COUNT_AFTER = re.compile(
    rf"\b(?:head\s*count|workforce|employee\s+count|staff\s+count|staff\s+of|team\s+of|"
    rf"employs|employing|employ)\s+(?:of\s+|is\s+|at\s+|totals?\s+|stands\s+at\s+|:\s*)?"
    rf"(?:{_QUAL}\s+)?(?P<n>{NUMBER})(?P<plus>\+)?(?P<rest>\s*[A-Za-z]*)", re.IGNORECASE)
_AFTER_OK = frozenset({"", "and", "across", "in", "at", "with", "of", "who", "based", "spread",
                       "worldwide", "globally", "today", "now", "or", "but", "people",
                       "employees", "staff", "ftes", "workers", "total", "overall"})


def parse_number(raw: str) -> int | None:
    """'3,000' -> 3000, '2k' -> 2000, '1.2k' -> 1200, 'twenty-five' -> 25, 'a dozen' -> 12."""
    text = raw.strip().lower().removeprefix("a ").strip()
    scale = 1
    for suffix, factor in (("thousand", 1000), ("million", 1_000_000), ("k", 1000)):
        if text.endswith(suffix):
            text, scale = text[: -len(suffix)].strip(), factor
            break
    if text in _WORD_NUMBERS:
        return _WORD_NUMBERS[text] * scale
    if "-" in text:
        parts = text.split("-")
        if all(p in _WORD_NUMBERS for p in parts):
            return sum(_WORD_NUMBERS[p] for p in parts)
    try:
        return round(float(text.replace(",", "")) * scale)
    except ValueError:
        return None


@dataclass(frozen=True)
class Headcount:
    """A stated company size: low/high bound (None = open), as written."""

    low: int | None
    high: int | None
    text: str

    @property
    def value(self) -> int:
        """One number for reports: the midpoint of a range, else the stated bound."""
        if self.low is not None and self.high is not None:
            return (self.low + self.high) // 2
        return self.low if self.low is not None else (self.high or 0)

    def overlaps(self, low: int | None, high: int | None) -> bool:
        below = high is not None and self.low is not None and self.low > high
        above = low is not None and self.high is not None and self.high < low
        return not (below or above)


_INCLUSIVE = frozenset({"at least", "upwards of", "up to", "at most"})


def _bounded(n: int, match: re.Match[str]) -> Headcount:
    """'over 500' -> (501, open), '200+' -> (200, open), 'under 50' -> (open, 49)."""
    end = match.end("plus") if match.group("plus") else match.end()
    if "rest" in match.groupdict():
        end = match.end("plus") if match.group("plus") else match.end("n")
    text = match.string[match.start():end].strip()
    qualifier = " ".join((match.group("lower") or match.group("upper") or "").lower().split())
    step = 0 if qualifier in _INCLUSIVE else 1
    if match.group("lower") or match.group("plus"):
        return Headcount(n if match.group("plus") else n + step, None, text)
    if match.group("upper"):
        return Headcount(None, n - step, text)
    return Headcount(n, n, text)


def parse_employees(text: str) -> Headcount | None:
    """The first company size the text states, or None."""
    found: list[tuple[int, Headcount]] = []
    if m := _RANGE.search(text):
        a = parse_number(m.group("a") or m.group("c"))
        b = parse_number(m.group("b") or m.group("d"))
        if a is not None and b is not None:
            found.append((m.start(), Headcount(min(a, b), max(a, b), m.group(0).strip())))
    for m in _COUNT_BEFORE.finditer(text):
        if (n := parse_number(m.group("n"))) is not None:
            found.append((m.start(), _bounded(n, m)))
            break
    for m in _COUNT_AFTER.finditer(text):
        rest = m.group("rest").strip().lower()
        if rest not in _AFTER_OK or (n := parse_number(m.group("n"))) is None:
            continue
        found.append((m.start(), _bounded(n, m)))
        break
    return min(found, key=lambda pair: pair[0])[1] if found else None


_NUMBER_RE = re.compile(rf"(?<![\w.,])(?P<n>{NUMBER})", re.IGNORECASE)


def parse_count(text: str, noun: str) -> int | None:
    """The number the text gives for ``noun`` ("15 field technicians", "eight robots")."""
    target = stem(noun)
    for m in _NUMBER_RE.finditer(text):
        following = _tokens(text[m.end():])[:3]
        for tok in following:
            if not tok.isalnum():
                break
            if _stems_match(stem(tok), target):
                return parse_number(m.group("n"))
    return None


# ---------------------------------------------------------------------------------------------
# Places. Countries are ISO codes; a region is a set of them. Kept small on purpose: unknown
# places are matched only when a segment names them literally.

_EU = _words("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE")
COUNTRIES: dict[str, tuple[str, ...]] = {
    "GB": ("United Kingdom", "UK", "U.K.", "Great Britain", "Britain", "British", "England",
           "Scotland", "Scottish", "Wales", "Welsh", "Northern Ireland"),
    "IE": ("Republic of Ireland", "Ireland", "Irish"),
    "US": ("United States", "USA", "U.S.A.", "US", "U.S.", "America", "American"),
    "CA": ("Canada", "Canadian"), "MX": ("Mexico", "Mexican"),
    "AT": ("Austria", "Austrian"), "BE": ("Belgium", "Belgian"), "BG": ("Bulgaria", "Bulgarian"),
    "HR": ("Croatia", "Croatian"), "CY": ("Cyprus", "Cypriot"),
    "CZ": ("Czech Republic", "Czechia", "Czech"), "DK": ("Denmark", "Danish"),
    "EE": ("Estonia", "Estonian"), "FI": ("Finland", "Finnish"), "FR": ("France", "French"),
    "DE": ("Germany", "German"), "GR": ("Greece", "Greek"), "HU": ("Hungary", "Hungarian"),
    "IT": ("Italy", "Italian"), "LV": ("Latvia", "Latvian"), "LT": ("Lithuania", "Lithuanian"),
    "LU": ("Luxembourg",), "MT": ("Malta", "Maltese"),
    "NL": ("Netherlands", "Holland", "Dutch"), "PL": ("Poland", "Polish"),
    "PT": ("Portugal", "Portuguese"), "RO": ("Romania", "Romanian"),
    "SK": ("Slovakia", "Slovak"), "SI": ("Slovenia", "Slovenian"), "ES": ("Spain", "Spanish"),
    "SE": ("Sweden", "Swedish"), "NO": ("Norway", "Norwegian"), "IS": ("Iceland", "Icelandic"),
    "CH": ("Switzerland", "Swiss"),
    "AU": ("Australia", "Australian"), "NZ": ("New Zealand",), "JP": ("Japan", "Japanese"),
    "SG": ("Singapore",), "IN": ("India", "Indian"), "CN": ("China", "Chinese"),
    "HK": ("Hong Kong",), "KR": ("South Korea", "Korea", "Korean"),
    "BR": ("Brazil", "Brazilian"), "AR": ("Argentina",), "CL": ("Chile",),
    "CO": ("Colombia",), "AE": ("United Arab Emirates", "UAE", "Dubai"),
    "SA": ("Saudi Arabia", "Saudi"), "QA": ("Qatar",), "ZA": ("South Africa",),
    "NG": ("Nigeria",), "KE": ("Kenya",),
}
# Sub-national names people give instead of the country (US states, Canadian provinces). A
# state is inside its country's regions; a segment that names a state matches only that state.
STATES = {
    "US": "Alabama, Alaska, Arizona, Arkansas, California, Colorado, Connecticut, Delaware, "
          "Florida, Georgia, Hawaii, Idaho, Illinois, Indiana, Iowa, Kansas, Kentucky, "
          "Louisiana, Maine, Maryland, Massachusetts, Michigan, Minnesota, Mississippi, "
          "Missouri, Montana, Nebraska, Nevada, New Hampshire, New Jersey, New Mexico, "
          "New York, North Carolina, North Dakota, Ohio, Oklahoma, Oregon, Pennsylvania, "
          "Rhode Island, South Carolina, South Dakota, Tennessee, Texas, Utah, Vermont, "
          "Virginia, Washington, West Virginia, Wisconsin, Wyoming",
    "CA": "Alberta, British Columbia, Manitoba, New Brunswick, Newfoundland, Nova Scotia, "
          "Ontario, Quebec, Saskatchewan",
}
_EUROPE = _EU | {"GB", "NO", "IS", "CH"}
_APAC = _words("AU NZ JP SG IN CN HK KR")
_LATAM = _words("MX BR AR CL CO")
_MIDDLE_EAST = frozenset({"AE", "SA", "QA"})
_AFRICA = frozenset({"ZA", "NG", "KE"})
REGIONS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "EU": (("European Union", "EU"), _EU),
    "Europe": (("Europe", "European"), _EUROPE),
    "Nordics": (("Nordic countries", "Nordics", "Nordic", "Scandinavia", "Scandinavian"),
                _words("SE NO DK FI IS")),
    "DACH": (("DACH",), frozenset({"DE", "AT", "CH"})),
    "Benelux": (("Benelux",), frozenset({"BE", "NL", "LU"})),
    "North America": (("North America", "North American"), frozenset({"US", "CA"})),
    "LATAM": (("Latin America", "Latin American", "South America", "LATAM"), _LATAM),
    "Americas": (("the Americas", "Americas"), _LATAM | {"US", "CA"}),
    "APAC": (("Asia-Pacific", "Asia Pacific", "APAC", "Asia"), _APAC),
    "ANZ": (("ANZ", "Australasia"), frozenset({"AU", "NZ"})),
    "Middle East": (("Middle East", "MENA", "GCC"), _MIDDLE_EAST),
    "Africa": (("Africa", "African"), _AFRICA),
    "EMEA": (("EMEA",), _EUROPE | _MIDDLE_EAST | _AFRICA),
}
_CASE_SENSITIVE = frozenset({"US", "U.S.", "Polish", "Chile", "Korea"})


@dataclass(frozen=True)
class Place:
    name: str  # as written in the description
    label: str  # canonical: an ISO code, a REGIONS key or a segment's literal region
    members: frozenset[str]


def _literal(label: str) -> str:
    return "literal:" + " ".join(label.lower().split())


@lru_cache(maxsize=64)
def _alias_table(extra: tuple[str, ...]) -> list[tuple[re.Pattern[str], str, frozenset[str]]]:
    """(pattern, label, members) for every known place name, longest name first."""
    rows = [(alias, code, frozenset({code})) for code, aliases in COUNTRIES.items()
            for alias in aliases]
    rows += [(name.strip(), name.strip(), frozenset({code, _literal(name)}))
             for code, names in STATES.items() for name in names.split(",")]
    rows += [(alias, key, members) for key, (aliases, members) in REGIONS.items()
             for alias in aliases]
    known = {alias.lower() for alias, _, _ in rows}
    rows += [(label.strip(), label.strip(), frozenset({_literal(label)}))
             for label in extra if label.strip() and label.strip().lower() not in known]
    rows.sort(key=lambda row: len(row[0]), reverse=True)
    return [(re.compile(r"(?<![\w.])" + re.escape(alias) + r"(?!\w)",
                        0 if alias in _CASE_SENSITIVE else re.IGNORECASE), label, members)
            for alias, label, members in rows]


def parse_places(text: str, extra: Iterable[str] = ()) -> list[Place]:
    """Places named in ``text``, longest alias first ("Northern Ireland" before "Ireland")."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, Place]] = []
    for pattern, label, members in _alias_table(tuple(dict.fromkeys(extra))):
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append((m.start(), Place(m.group(0), label, members)))
    return [place for _, place in sorted(found, key=lambda pair: pair[0])]


def region_members(label: str) -> frozenset[str]:
    """What a segment's region label covers: a region's or country's ISO codes; a state, or
    a name the table doesn't know, only itself."""
    for pattern, _, members in _alias_table(()):
        if pattern.fullmatch(label.strip()):
            return frozenset(m for m in members if m.startswith("literal:")) or members
    return frozenset({_literal(label)})


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


def memoize_embed(embed: EmbedFn, maxsize: int = 4096) -> EmbedFn:
    """Wrap an embedder so repeated texts (a package's pains, triggers, disqualifiers) are
    embedded once; for callers that assess many prospects against one package."""
    cache: dict[str, np.ndarray] = {}

    def cached(texts: list[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in cache))
        if todo:
            if len(cache) + len(todo) > maxsize:
                cache.clear()
            cache.update(zip(todo, np.asarray(embed(todo), dtype=np.float32), strict=True))
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 0), np.float32)

    return cached


class _Similarity:
    """Cosine similarities between texts; embeds each text once, in as few calls as possible.
    Without an embedder every similarity is 0 and ``enabled`` is False."""

    def __init__(self, embed: EmbedFn | None, texts: Sequence[str]):
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


# ---------------------------------------------------------------------------------------------
# Segment evidence

@dataclass
class _Evidence:
    segment: Segment
    industry_terms: list[str] = field(default_factory=list)
    name_words: list[str] = field(default_factory=list)
    industry_sim: float = 0.0
    industry_sim_term: str = ""
    context_score: float = 0.0
    context_text: str = ""
    size: str = "missing"  # within | outside | missing | any
    region: str = "missing"
    score: float = 0.0

    @property
    def lexical(self) -> float:
        if self.industry_terms:
            return 1.0 + 0.05 * (len(self.industry_terms) + len(self.name_words) - 1)
        return NAME_WORD_STRENGTH + 0.05 * (len(self.name_words) - 1) if self.name_words else 0.0

    ambiguous: bool = False  # similar to several segments' industries alike

    @property
    def industry_matched(self) -> bool:
        return bool(self.industry_terms or self.name_words) or (
            self.industry_sim >= INDUSTRY_THRESHOLD and not self.ambiguous)


def _distinctive_name_words(segment: Segment, segments: Sequence[Segment]) -> list[str]:
    """Name words no other segment uses anywhere: 'hvac', 'escalator', not 'maintenance'."""
    others: set[str] = set()
    for other in segments:
        if other.id != segment.id:
            texts = [other.name, *other.industries, *other.pains, *other.triggers]
            others.update(s for t in texts for s in _content_stems(t))
    words = [w for w in re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", segment.name.lower())
             if w not in _STOPWORDS and w not in _GENERIC and not w.isdigit()]
    return [w for w in dict.fromkeys(words)
            if not any(_stems_match(stem(part), o) for part in w.split("-") for o in others)]


def _domain(segment: Segment) -> frozenset[str]:
    texts = [segment.name, *segment.industries, *segment.pains, *segment.triggers]
    return frozenset(s for t in texts for s in _content_stems(t))


def _lexical_context(stems: Sequence[str], segment: Segment) -> tuple[float, str]:
    best = (0.0, "")
    for text in [*segment.pains, *segment.triggers]:
        target = set(_content_stems(text))
        if target:
            share = sum(any(_stems_match(t, s) for s in stems) for t in target) / len(target)
            best = max(best, (share, text))
    return best


def _size_status(segment: Segment, headcount: Headcount | None) -> str:
    rng = segment.employees
    if headcount is None:
        return "missing"
    if rng is None or (rng.min is None and rng.max is None):
        return "any"
    return "within" if headcount.overlaps(rng.min, rng.max) else "outside"


def _region_status(segment: Segment, places: Sequence[Place]) -> str:
    if not places:
        return "missing"
    if not segment.regions:
        return "any"
    allowed = frozenset().union(*(region_members(r) for r in segment.regions))
    return "within" if any(p.members & allowed for p in places) else "outside"


@dataclass(frozen=True)
class _Reading:
    """Everything parsed from the description once."""

    text: str
    units: list[str]
    stems: list[str]
    headcount: Headcount | None
    places: list[Place]
    phrase: str


def _evidence(segment: Segment, reading: _Reading, sim: _Similarity,
              segments: Sequence[Segment]) -> _Evidence:
    ev = _Evidence(segment)
    ev.industry_terms = [t for t in segment.industries if _contains_phrase(reading.stems, t)]
    covered = {stem(t) for term in ev.industry_terms for t in _tokens(term)}
    ev.name_words = [w for w in _distinctive_name_words(segment, segments)
                     if _contains_phrase(reading.stems, w)
                     and not all(stem(part) in covered for part in w.split("-"))]
    if reading.phrase and sim.enabled:
        ev.industry_sim, ev.industry_sim_term = sim.industry(
            reading.phrase, [*segment.industries, segment.name])
    if sim.enabled:
        ev.context_score, _, ev.context_text = sim.best(reading.units,
                                                        [*segment.pains, *segment.triggers])
    else:
        ev.context_score, ev.context_text = _lexical_context(reading.stems, segment)
    ev.size = _size_status(segment, reading.headcount)
    ev.region = _region_status(segment, reading.places)
    firmo = sum({"within": 1, "outside": -1}.get(s, 0) for s in (ev.size, ev.region))
    ev.score = ev.lexical + 0.6 * ev.industry_sim + 0.4 * ev.context_score + 0.05 * firmo
    return ev


def _mark_ambiguous(evidence: Sequence[_Evidence]) -> None:
    """A meaning-only industry match must stand out: 'construction' is about as close to
    building services as to building maintenance, so it singles out neither."""
    for ev in evidence:
        others = [o.industry_sim for o in evidence if o is not ev]
        ev.ambiguous = bool(others) and ev.industry_sim - max(others) < INDUSTRY_MARGIN


def _context_ok(ev: _Evidence, embedded: bool) -> bool:
    limit = CONTEXT_THRESHOLD if embedded else LEXICAL_CONTEXT_THRESHOLD
    return bool(ev.context_text) and ev.context_score >= limit


def _firmographic_fits(evidence: Sequence[_Evidence]) -> list[_Evidence]:
    return [e for e in evidence
            if "within" in (e.size, e.region) and "outside" not in (e.size, e.region)]


def _choose(evidence: Sequence[_Evidence], embedded: bool, industry_stated: bool
            ) -> _Evidence | None:
    """Industry first; then pains/triggers; then, with no industry stated, the one segment
    whose firmographics fit (several fitting equally single out none)."""
    for pool in ([e for e in evidence if e.industry_matched],
                 [e for e in evidence if _context_ok(e, embedded)]):
        if pool:
            return max(pool, key=lambda e: e.score)
    fits = _firmographic_fits(evidence)
    return fits[0] if len(fits) == 1 and not industry_stated else None


# ---------------------------------------------------------------------------------------------
# Result

@dataclass(frozen=True)
class FitResult:
    verdict: Verdict
    segment: str | None
    segment_name: str | None
    reasons: list[str]
    disqualifiers: list[str]
    missing: list[str]
    facts: dict[str, object]
    scores: dict[str, float]
    citations: list[dict[str, object]]

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "segment": self.segment,
            "segment_name": self.segment_name,
            "reasons": list(self.reasons),
            "disqualifiers": list(self.disqualifiers),
            "missing": list(self.missing),
            "facts": dict(self.facts),
            "scores": dict(self.scores),
            "citations": [dict(c) for c in self.citations],
        }


def _range_text(segment: Segment) -> str:
    rng = segment.employees
    low, high = (rng.min, rng.max) if rng else (None, None)
    if low is not None and high is not None:
        return f"{low}-{high}"
    return f"{low} or more" if low is not None else f"up to {high}"


def _industry_reasons(ev: _Evidence, reading: _Reading) -> list[str]:
    seg = ev.segment
    if ev.industry_terms or ev.name_words:
        said = ", ".join([*ev.industry_terms, *ev.name_words])
        return [f"industry: the description names {said}, which matches {seg.name} "
                f"(industries: {', '.join(seg.industries) or 'none listed'})"]
    if ev.industry_matched:
        return [f"industry: '{reading.phrase}' is close to '{ev.industry_sim_term}' for "
                f"{seg.name} (similarity {ev.industry_sim:.2f})"]
    return []


def _firmographic_reasons(ev: _Evidence, reading: _Reading) -> list[str]:
    seg, reasons = ev.segment, []
    if reading.headcount is not None:
        value = reading.headcount.value
        if ev.size == "any":
            reasons.append(f"employees {value}: {seg.name} sets no size range")
        else:
            where = "within" if ev.size == "within" else "outside"
            reasons.append(f"employees {value} ('{reading.headcount.text}') is {where} "
                           f"{_range_text(seg)} for {seg.name}")
    if reading.places:
        names = ", ".join(dict.fromkeys(p.name for p in reading.places))
        regions = ", ".join(seg.regions) or "any region"
        where = {"within": "is within", "outside": "is outside", "any": "is fine for"}[ev.region]
        reasons.append(f"region {names} {where} the regions of {seg.name} ({regions})")
    return reasons


def _verdict(ev: _Evidence | None, industry_stated: bool, triggered: bool,
             reading: _Reading, evidence: Sequence[_Evidence]) -> tuple[Verdict, list[str]]:
    if triggered:
        return "no-fit", ["verdict no-fit: a disqualifier applies"]
    if industry_stated and (ev is None or not ev.industry_matched):
        what = f"'{reading.phrase}'" if reading.phrase else "the described industry"
        return "no-fit", [f"verdict no-fit: {what} matches no segment's industries"]
    if ev is None:
        return _verdict_without_segment(reading, evidence)
    off = [name for name, status in (("company size", ev.size), ("region", ev.region))
           if status == "outside"]
    if off:
        return "no-fit", [f"verdict no-fit: {' and '.join(off)} outside the segment's range"]
    missing = [s for s in (ev.size, ev.region) if s == "missing"]
    if ev.industry_matched and len(missing) <= 1:
        return "fit", ["verdict fit: industry matches and nothing stated contradicts the segment"]
    why = "industry not stated" if not ev.industry_matched else "company size and region missing"
    return "partial", [f"verdict partial: {why}"]


def _verdict_without_segment(reading: _Reading, evidence: Sequence[_Evidence]
                             ) -> tuple[Verdict, list[str]]:
    """No industry and no pain/trigger: only the firmographics can speak."""
    stated = reading.headcount is not None or bool(reading.places)
    if stated and all("outside" in (e.size, e.region) for e in evidence):
        return "no-fit", ["verdict no-fit: the stated size or region fits no segment"]
    fits = [e.segment.name for e in _firmographic_fits(evidence)]
    if fits:
        return "partial", ["verdict partial: industry not stated; the stated size and region "
                           "fit " + "; ".join(fits)]
    return "partial", ["verdict partial: the description states nothing that matches or "
                       "contradicts the ICP"]


def _reasons(ev: _Evidence, reading: _Reading, checks: Sequence[DisqualifierCheck],
             embedded: bool) -> list[str]:
    """Each step of the judgement, quoting the icp.yaml value it was checked against."""
    reasons = _industry_reasons(ev, reading)
    if _context_ok(ev, embedded):
        reasons.append(f"pain/trigger: the description echoes '{ev.context_text}' "
                       f"({ev.context_score:.2f})")
    reasons += _firmographic_reasons(ev, reading)
    reasons += [c.reason for c in checks if c.reason]
    if checks and not any(c.triggered for c in checks):
        reasons.append(f"disqualifiers: none of the {len(checks)} for {ev.segment.name} "
                       "is stated")
    return reasons


def _citations(ev: _Evidence | None, hits: Sequence[DisqualifierCheck]) -> list[dict[str, object]]:
    if ev is None:
        return []
    seg = ev.segment
    cites: list[dict[str, object]] = [
        {"source": "icp.yaml", "id": seg.id, "kind": "icp", "text": seg.public_text(),
         "line": seg.line}
    ]
    cites += [{"source": "icp.yaml", "id": seg.id, "kind": "icp", "text": hit.text,
               "line": seg.line} for hit in hits]
    return cites


def _missing(reading: _Reading, industry_stated: bool, checks: Sequence[DisqualifierCheck]
             ) -> list[str]:
    missing = [] if industry_stated else ["industry"]
    if reading.headcount is None:
        missing.append("company size")
    if not reading.places:
        missing.append("region")
    return missing + list(dict.fromkeys(c.missing for c in checks if c.missing))


def _read(description: str, package: KnowledgePackage) -> _Reading:
    text = " ".join(description.split())
    places = parse_places(text, [r for s in package.segments for r in s.regions])
    return _Reading(text, split_units(text), _content_stems(text), parse_employees(text),
                    places, industry_phrase(text, places))


def _targets(package: KnowledgePackage) -> list[str]:
    out: list[str] = []
    for seg in package.segments:
        out += [seg.name, *seg.industries, *seg.pains, *seg.triggers, *seg.disqualifiers]
    return out


def assess_fit(description: str, package: KnowledgePackage, *,
               embed: EmbedFn | None = None) -> FitResult:
    """Judge how well the described prospect fits the package's ICP; see the module docstring."""
    reading = _read(description, package)
    sim = _Similarity(embed, [*reading.units, reading.phrase, *_targets(package)])
    evidence = [_evidence(s, reading, sim, package.segments) for s in package.segments]
    _mark_ambiguous(evidence)
    industry_stated = bool(reading.phrase) or any(e.industry_matched for e in evidence)
    best = _choose(evidence, sim.enabled, industry_stated)
    checks = [check_disqualifier(dq, reading.text, reading.units, sim, reading.headcount,
                                 _domain(best.segment))
              for dq in best.segment.disqualifiers] if best else []
    hits = [c for c in checks if c.triggered]
    reasons = _reasons(best, reading, checks, sim.enabled) if best else []
    verdict, why = _verdict(best, industry_stated, bool(hits), reading, evidence)
    facts: dict[str, object] = {
        "industry_phrase": reading.phrase or None,
        "industry_matches": {e.segment.id: [*e.industry_terms, *e.name_words]
                             for e in evidence if e.industry_terms or e.name_words},
        "employees": reading.headcount.value if reading.headcount else None,
        "employees_text": reading.headcount.text if reading.headcount else None,
        "region": ", ".join(dict.fromkeys(p.name for p in reading.places)) or None,
        "places": sorted({p.label for p in reading.places}),
    }
    return FitResult(
        verdict=verdict,
        segment=best.segment.id if best else None,
        segment_name=best.segment.name if best else None,
        reasons=reasons + why,
        disqualifiers=[h.text for h in hits],
        missing=_missing(reading, industry_stated, checks),
        facts=facts,
        scores={e.segment.id: round(e.score, 3) for e in evidence},
        citations=_citations(best, hits),
    )
