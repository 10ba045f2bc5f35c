"""The one text toolkit: sentence spans, word tokens, stop words, stemming, shingles.

Two stemmers for two jobs: ``stem`` folds plurals and possessives only (safe for names and
exact wording, used by governance); ``topic_stem`` also folds -ing/-ed and a trailing e, for
matching what a question or a prospect is about ("servicing" ~ "service"; the composer and
ICP fit). Snowball (PyStemmer) was measured as the topic stemmer and left out: it folds
further ("integrations" ~ "integrate") and moved the sample's unknown answers, a change for
the answer-engine work to make on purpose, measured across packages.

Offsets are always character offsets into the original text, so a violation can point at
exactly what a rep will see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

Span = tuple[int, int]  # character offsets [start, end) into the original text


def split_words(words: str) -> list[str]:
    """Word lists written as one string (easier to read and review than a list literal)."""
    return words.split()


WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

STOPWORDS = frozenset(
    split_words(
        """
        a about above after again against all also am an and any are aren't as at be
        because been before being below between both but by can can't cannot could did
        do does doesn't doing don't down during each either every few for from further
        had has have having he her here hers him his how i i'd i'll i'm i've if in into
        is isn't it it's its itself just let's me more most my no nor not of off on once
        only or other our ours out over own per same she should so some such than that
        that's the their theirs them then there there's these they they're this those
        through to too under until up us very was we we'd we'll we're we've were what
        when where which while who whom why will with won't would you you'd you'll
        you're your yours yet via
        """
    )
)

# Words that end a sentence-like run but usually do not end a sentence.
_NON_TERMINAL_ABBREVIATIONS = frozenset(
    split_words(
        """
        e.g i.e vs mr mrs ms dr prof approx no nos fig st jr sr u.s u.k dept incl ca cf
        al jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri vol ref
        """
    )
)

_BULLET = re.compile(r"[ \t]*(?:[-*•·–—>]+|\d{1,2}[.)]|[a-zA-Z][.)]|\(\d{1,2}\)|#{1,6})[ \t]+")
_TERMINAL = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")


def _lines(text: str) -> Iterator[Span]:
    start = 0
    for part in text.split("\n"):
        yield start, start + len(part)
        start += len(part) + 1


def _starts_new_block(text: str, line: Span, previous: Span | None) -> bool:
    if previous is None or _BULLET.match(text, *line):
        return True
    first = text[line[0] : line[1]].lstrip()[:1]
    prev_tail = text[previous[0] : previous[1]].rstrip()[-1:]
    continues = first.islower() or first.isdigit()
    return not continues or prev_tail in ".!?:;"


def _blocks(text: str) -> Iterator[Span]:
    """Paragraph/bullet/line blocks; a lowercase line continues the line before it."""
    current: Span | None = None
    previous: Span | None = None
    for line in _lines(text):
        if not text[line[0] : line[1]].strip():
            if current:
                yield current
            current, previous = None, None
            continue
        if current is None or _starts_new_block(text, line, previous):
            if current:
                yield current
            bullet = _BULLET.match(text, *line)
            current = (bullet.end() if bullet else line[0], line[1])
        else:
            current = (current[0], line[1])
        previous = line
    if current:
        yield current


def _is_boundary(text: str, start: int, match: re.Match[str]) -> bool:
    rest = text[match.end() : match.end() + 3].lstrip()
    if rest[:1].islower():
        return False
    if match.group().startswith(".") and len(match.group().rstrip("\"'”’)]")) == 1:
        before = text[start : match.start()].split()
        word = before[-1].lstrip("([\"'“‘").lower() if before else ""
        if word in {"no", "nos"}:  # "No. 5" is an abbreviation, "No. It isn't." is not
            return not rest[:1].isdigit()
        if word in _NON_TERMINAL_ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            return False
    return True


def _strip(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def split_sentences(text: str) -> list[Span]:
    """Sentence spans: handles bullets, newlines, abbreviations and decimals like 99.9%."""
    spans: list[Span] = []
    for block_start, block_end in _blocks(text):
        start = block_start
        for match in _TERMINAL.finditer(text, block_start, block_end):
            if _is_boundary(text, start, match):
                if span := _strip(text, start, match.end()):
                    spans.append(span)
                start = match.end()
        if span := _strip(text, start, block_end):
            spans.append(span)
    return spans




def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in WORD_RE.findall(text)]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Plural/possessive folding only: enough for overlap, safe for names."""
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def stems(text: str) -> list[str]:
    return [stem(w) for w in words(text)]


def content_stems(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1}


def shingles(tokens: list[str], size: int = 3) -> Iterator[tuple[str, ...]]:
    for i in range(len(tokens) - size + 1):
        yield tuple(tokens[i : i + size])


def normalise_wording(text: str) -> str:
    """Case, quotes, whitespace and trailing punctuation folded: for verbatim comparisons."""
    folded = text.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(folded.split()).strip(" .!?;:,")


def wording_set(texts: Iterable[str]) -> frozenset[str]:
    """Every whole text and every sentence of it, normalised."""
    found: set[str] = set()
    for text in texts:
        if not text.strip():
            continue
        found.add(normalise_wording(text))
        found.update(normalise_wording(text[a:b]) for a, b in split_sentences(text))
    found.discard("")
    return frozenset(found)




def excerpt(text: str, span: Span, limit: int = 240) -> str:
    piece = " ".join(text[span[0] : span[1]].split())
    return piece if len(piece) <= limit else piece[: limit - 1] + "…"


@lru_cache(maxsize=65536)
def topic_stem(word: str) -> str:
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


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` as strings (see ``split_sentences`` for the rules)."""
    return [text[start:end] for start, end in split_sentences(text)]


_PROSE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def prose_sentences(text: str) -> list[str]:
    """Sentences of flowing prose as plain strings: lines joined (bullet and heading marks
    dropped), then split where a sentence end meets a capital, digit, quote or bracket. For
    passages and drafts, where hard-wrapped lines continue a sentence; ``split_sentences``
    keeps lines and bullets apart, as governance needs to point at what a rep sees."""
    flat = " ".join(line.strip(" -*#>\t") for line in text.splitlines() if line.strip())
    return [s.strip() for s in _PROSE_BREAK.split(flat) if s.strip()]
