"""Company size and places, read from plain text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from kbassist.core.fit.text import (
    _split,
    _stems_match,
    _tokens,
    _words,
    stem,
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
