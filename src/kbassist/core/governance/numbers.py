"""Find the figures a text states and put each in a canonical form, so "45ms", "45 ms" and
"forty-five milliseconds" compare equal. The rules are documented in docs/governance.md.

A quantity is (dimension, value): ``count`` (bare numbers, ordinals, years), ``percent``,
``multiple``, ``duration`` (seconds), ``money:USD|GBP|EUR``, ``bytes``, ``date`` (a full
calendar date) and ``ratio`` (24/7). Identifiers (ISO 27001, TLS 1.2, AES-256, v2, 5G),
times of day, day-of-month numbers, phone numbers and numbers inside URLs are not quantities.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from kbassist.core.governance.types import Span
from kbassist.core.text import split_words

Key = tuple[str, float]

_YEAR = 365.25 * 86400
_UNITS: dict[str, tuple[str, float]] = {
    "%": ("percent", 1), "percent": ("percent", 1), "per cent": ("percent", 1),
    "pct": ("percent", 1), "percentage points": ("percent", 1),
    "percentage point": ("percent", 1),
    "x": ("multiple", 1), "×": ("multiple", 1), "times": ("multiple", 1),
    "fold": ("multiple", 1),
    "ms": ("duration", 0.001), "msec": ("duration", 0.001), "msecs": ("duration", 0.001),
    "millisecond": ("duration", 0.001), "milliseconds": ("duration", 0.001),
    "s": ("duration", 1), "sec": ("duration", 1), "secs": ("duration", 1),
    "second": ("duration", 1), "seconds": ("duration", 1),
    "min": ("duration", 60), "mins": ("duration", 60), "minute": ("duration", 60),
    "minutes": ("duration", 60),
    "h": ("duration", 3600), "hr": ("duration", 3600), "hrs": ("duration", 3600),
    "hour": ("duration", 3600), "hours": ("duration", 3600),
    "day": ("duration", 86400), "days": ("duration", 86400),
    "business day": ("duration", 86400), "business days": ("duration", 86400),
    "working day": ("duration", 86400), "working days": ("duration", 86400),
    "wk": ("duration", 604800), "wks": ("duration", 604800),
    "week": ("duration", 604800), "weeks": ("duration", 604800),
    "mo": ("duration", _YEAR / 12), "mos": ("duration", _YEAR / 12),
    "month": ("duration", _YEAR / 12), "months": ("duration", _YEAR / 12),
    "quarter": ("duration", _YEAR / 4), "quarters": ("duration", _YEAR / 4),
    "yr": ("duration", _YEAR), "yrs": ("duration", _YEAR),
    "year": ("duration", _YEAR), "years": ("duration", _YEAR),
    "usd": ("money:USD", 1), "dollar": ("money:USD", 1), "dollars": ("money:USD", 1),
    "gbp": ("money:GBP", 1), "pound": ("money:GBP", 1), "pounds": ("money:GBP", 1),
    "eur": ("money:EUR", 1), "euro": ("money:EUR", 1), "euros": ("money:EUR", 1),
    "€": ("money:EUR", 1),
    "kb": ("bytes", 1e3), "mb": ("bytes", 1e6), "gb": ("bytes", 1e9), "tb": ("bytes", 1e12),
    "pb": ("bytes", 1e15),
}
_ATTACHED_ONLY = frozenset({"s", "h", "x", "mo", "mos"})
_CURRENCY = {"$": "money:USD", "us$": "money:USD", "usd": "money:USD", "£": "money:GBP",
             "gbp": "money:GBP", "€": "money:EUR", "eur": "money:EUR"}
_MAGNITUDE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9,
              "bn": 1e9, "billion": 1e9, "trillion": 1e12}

_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_NUMBER = re.compile(
    r"(?<![\w.,/:$£€])(?<![A-Za-z]-)"
    r"(?P<cur>US\$|\$|£|€|(?:USD|EUR|GBP)\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?P<dec>\.\d+)?(?!\.\d|,\d)"
    r"(?:(?P<mag>bn|mn|[kKmMB])(?![A-Za-z])|\s(?P<magw>thousand|million|billion|trillion)\b)?"
    rf"(?:(?P<ord>st|nd|rd|th)\b|(?P<sep>\s?-\s?|\s)?(?P<unit>(?i:{_UNIT_ALT}))(?![A-Za-z]))?"
)

_SMALL = split_words(
    """
    zero one two three four five six seven eight nine ten eleven twelve thirteen
    fourteen fifteen sixteen seventeen eighteen nineteen
    """
)
_TENS = split_words(
    """
    twenty thirty forty fifty sixty seventy eighty ninety
    """
)
_WORD_VALUES = {w: i for i, w in enumerate(_SMALL)} | {w: 20 + 10 * i for i, w in enumerate(_TENS)}
_NUM_WORD = "(?:" + "|".join(sorted([*_WORD_VALUES, "hundred", "thousand", "million",
                                      "billion"], key=len, reverse=True)) + ")"
_SPELLED = re.compile(
    rf"(?i)(?<![\w-])(?:a\s+(?=(?:hundred|thousand|million|billion)\b))?{_NUM_WORD}"
    rf"(?:(?:\s+and\s+|[\s-]+){_NUM_WORD})*(?![\w])"
)
_UNIT_AFTER = re.compile(rf"(?P<sep>\s?-\s?|\s)(?P<unit>(?i:{_UNIT_ALT}))(?![A-Za-z])")
_MULTIPLE_WORDS = re.compile(
    r"(?i)(?<![\w-])(?:(?P<twice>twice)|(?P<dbl>doubl(?:e|es|ed|ing))|"
    r"(?P<tpl>tripl(?:e|es|ed|ing))|(?P<fold>two|three|four|five|six|seven|eight|nine|ten)fold)"
    r"(?![\w-])(?!\s+(?:a|an|per|each|every)\b)"
)

MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
         r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_IGNORED = re.compile(
    r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.]+"  # URLs and e-mail addresses
    r"|\+\d[\d\s().-]{6,}\d"  # phone numbers
    r"|(?<![\d.])\d{1,2}:\d{2}\s?(?i:am|pm|a\.m\.|p\.m\.)?(?![\d.:])"  # times of day
    r"|(?<![\d.])\d{1,2}\s?(?i:am|pm|a\.m\.|p\.m\.)(?![\w])"
    r"|(?<![\w.])(?:[vV]\d+(?:\.\d+)*|\d+\.\d+\.\d+(?:\.\d+)*)(?![\w.])"  # versions
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?(?=\s+(?:of\s+)?{MONTH}\b)"  # 14 May
)
_MONTH_DAY = re.compile(rf"\b{MONTH}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?![\d,]\d)")  # May 14
_DATE = re.compile(r"(?<![\w/.-])(\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4})(?![\w/.-])")
_RATIO = re.compile(r"(?<![\w/.])(\d{1,2}/\d{1,2})(?![\w/.])")
_RANGE_GAP = re.compile(r"\s*(?:-|–|—|to|and|or)\s*")
_PREVIOUS_WORD = re.compile(r"([A-Za-z][\w/&+]*)\s+$")

# Capitalised words that may precede a figure without making it part of a name.
_LEADING_WORDS = frozenset(
    split_words(
        """
        over under about more less fewer only just nearly almost around roughly
        approximately up since by in with from for within after before across at to than
        some all and or the january february march april may june july august september
        october november december jan feb mar apr jun jul aug sep sept oct nov dec
        monday tuesday wednesday thursday friday q1 q2 q3 q4 h1 h2 fy top each every
        average median typically usually
        """
    )
)


@dataclass(frozen=True)
class Quantity:
    start: int
    end: int
    dim: str
    value: float
    text: str
    raw: float = 0.0  # the number as written, before unit and magnitude
    factor: float = 1.0  # unit x magnitude, for unit propagation in ranges

    @property
    def key(self) -> Key:
        return (self.dim, significant(self.value))

    @property
    def bare(self) -> bool:
        return self.dim == "count" and self.factor == 1.0


def significant(value: float, digits: int = 6) -> float:
    if value == 0 or math.isinf(value) or math.isnan(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def _number_value(match: re.Match[str]) -> float:
    return float(match.group("num").replace(",", "") + (match.group("dec") or ""))


def _digit_dim(match: re.Match[str], value: float) -> tuple[str, float] | None:
    """Dimension and factor of a digit match; None when it is not a quantity."""
    unit = (match.group("unit") or "").lower()
    sep = match.group("sep") or ""
    if unit in _ATTACHED_ONLY and sep:
        unit = ""
    if unit == "s" and 1900 <= value <= 2099 and not match.group("dec"):
        unit = ""  # "the 1990s"
    mag = _MAGNITUDE.get((match.group("mag") or match.group("magw") or "").lower(), 1.0)
    cur = (match.group("cur") or "").strip().lower()
    if cur:
        return _CURRENCY[cur], mag
    if unit:
        dim, factor = _UNITS[unit]
        return dim, factor * mag
    return "count", mag


def _is_identifier(text: str, match: re.Match[str], end: int) -> bool:
    """ISO 27001, SOC 2, Dynamics 365, 5G, 2FA: part of a name, not a figure."""
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        return True
    if match.group("cur") or match.group("unit") or match.group("mag") or match.group("magw"):
        return False
    previous = _PREVIOUS_WORD.search(text, max(0, match.start() - 40), match.start())
    if previous is None:
        return False
    word = previous.group(1)
    if word.lower() in _LEADING_WORDS or not word[0].isupper():
        return False
    letters = [c for c in word if c.isalpha()]
    acronym = len(letters) >= 2 and all(c.isupper() for c in letters)
    inner_capital = any(c.isupper() for c in word[1:]) or any(c.isdigit() for c in word)
    sentence_initial = _sentence_initial(text, previous.start())
    return acronym or inner_capital or "/" in word or not sentence_initial


def _sentence_initial(text: str, position: int) -> bool:
    before = text[max(0, position - 3) : position].rstrip(" \t")
    return not before or before[-1] in ".!?:\n-*•(\"'“"


def _digit_quantities(text: str, start: int, end: int) -> list[Quantity]:
    found: list[Quantity] = []
    for match in _NUMBER.finditer(text, start, end):
        value = _number_value(match)
        stop = match.end()
        if _is_identifier(text, match, stop):
            continue
        dim_factor = _digit_dim(match, value)
        if dim_factor is None:
            continue
        dim, factor = dim_factor
        found.append(
            Quantity(match.start(), stop, dim, value * factor, match.group(), value, factor)
        )
    return found


def _spelled_value(phrase: str) -> tuple[float, bool]:
    total, current, has_magnitude = 0.0, 0.0, False
    for word in re.findall(r"[a-z]+", phrase.lower()):
        if word in _WORD_VALUES:
            current += _WORD_VALUES[word]
        elif word == "a":
            current = 1
        elif word == "hundred":
            current = (current or 1) * 100
        elif word in _MAGNITUDE:
            total += (current or 1) * _MAGNITUDE[word]
            current, has_magnitude = 0.0, True
    return total + current, has_magnitude


def _spelled_quantities(text: str, start: int, end: int) -> list[Quantity]:
    found: list[Quantity] = []
    for match in _SPELLED.finditer(text, start, end):
        if match.group().strip().lower() == "and":
            continue
        value, has_magnitude = _spelled_value(match.group())
        unit = _UNIT_AFTER.match(text, match.end(), end)
        name = unit.group("unit").lower() if unit else ""
        if name in _ATTACHED_ONLY or name == "fold":
            name = ""
        if name:
            dim, factor = _UNITS[name]
            stop = unit.end() if unit else match.end()
            found.append(Quantity(match.start(), stop, dim, value * factor,
                                  text[match.start() : stop], value, factor))
        elif value >= 10 or has_magnitude:
            found.append(Quantity(match.start(), match.end(), "count", value, match.group(), value))
    return found


def _multiple_quantities(text: str, start: int, end: int) -> list[Quantity]:
    found: list[Quantity] = []
    for match in _MULTIPLE_WORDS.finditer(text, start, end):
        if match.group("fold"):
            value = float(_WORD_VALUES[match.group("fold").lower()])
        else:
            value = 3.0 if match.group("tpl") else 2.0
        found.append(Quantity(match.start(), match.end(), "multiple", value, match.group(), value))
    return found


def _special_quantities(text: str, start: int, end: int) -> list[Quantity]:
    found = [
        Quantity(m.start(), m.end(), "date", float(re.sub(r"\D", "", m.group())), m.group())
        for m in _DATE.finditer(text, start, end)
    ]
    for m in _RATIO.finditer(text, start, end):
        a, b = (int(x) for x in m.group().split("/"))
        found.append(Quantity(m.start(), m.end(), "ratio", a * 1000 + b, m.group()))
    return found


def _overlaps(span: Span, spans: Sequence[Span]) -> bool:
    return any(span[0] < b and a < span[1] for a, b in spans)


def _propagate_ranges(text: str, quantities: list[Quantity]) -> list[Quantity]:
    """'10-20%' and 'between 5 and 10 minutes': the bare first number takes the second's unit."""
    result = list(quantities)
    for i in range(len(result) - 2, -1, -1):
        first, second = result[i], result[i + 1]
        if not first.bare or (second.dim == "count" and second.factor == 1.0):
            continue
        if _RANGE_GAP.fullmatch(text, first.end, second.start):
            result[i] = replace(first, dim=second.dim, value=first.raw * second.factor,
                                factor=second.factor)
    return result


def ignored_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    stop = len(text) if end is None else end
    spans = [(m.start(), m.end()) for m in _IGNORED.finditer(text, start, stop)]
    spans += [m.span(1) for m in _MONTH_DAY.finditer(text, start, stop)]
    return spans


def extract_quantities(
    text: str, start: int = 0, end: int | None = None, masked: Sequence[Span] = ()
) -> list[Quantity]:
    """Every quantity stated in text[start:end], except inside ``masked`` spans."""
    stop = len(text) if end is None else end
    skip = [*masked, *ignored_spans(text, start, stop)]
    special = _special_quantities(text, start, stop)
    skip_numbers = [*skip, *((q.start, q.end) for q in special)]
    kept: list[Quantity] = []
    for group in (_digit_quantities, _spelled_quantities, _multiple_quantities):
        taken = [*skip_numbers, *((q.start, q.end) for q in kept)]
        kept += [q for q in group(text, start, stop) if not _overlaps((q.start, q.end), taken)]
    kept += [q for q in special if not _overlaps((q.start, q.end), skip)]
    kept.sort(key=lambda q: (q.start, q.end))
    return _propagate_ranges(text, kept)


def keys_of(quantities: Sequence[Quantity]) -> frozenset[Key]:
    """Canonical keys, plus ("raw", number as written) so a bare "3" can match "3 days"."""
    keys = {q.key for q in quantities}
    keys.update(("raw", significant(q.raw)) for q in quantities if q.raw)
    return frozenset(keys)


def quantity_keys(texts: Sequence[str]) -> frozenset[Key]:
    return keys_of([q for t in texts for q in extract_quantities(t)])


def is_approved(quantity: Quantity, approved: frozenset[Key]) -> bool:
    """A figure with a unit must match dimension and canonical value ("2 weeks" = "14 days").
    A bare number matches the same number as written anywhere in approved text, whatever
    its unit ("from 10 days to 3"; "$55" written "55")."""
    if quantity.key in approved:
        return True
    return quantity.bare and ("raw", quantity.key[1]) in approved
