"""The names reps use for roadmap items, and finding them in a text fast.

Names are matched on stemmed word tokens, so case, hyphens, plurals and possessives do not
matter ("self-hosted", "Self Hosted", "selfhosted"; "job duration predictions"). Besides the
title and aliases, an item is known by:
- each name without a generic tail ("Business Central connector" -> "Business Central");
- the head of a long title ("Predicted job durations from each customer's history" ->
  "Predicted job durations");
- for next/later items, any run of title words with two or more content words, at least one
  of which approved claims never use ("remote assistance", "app in German"), unless it only
  names an available item.
A never item is flagged on any mention, so it is known by its names and heads only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from kbassist.core.models import RoadmapItem
from kbassist.core.text import STOPWORDS, WORD_RE, content_stems, stem

Tokens = tuple[str, ...]
NameIndex = dict[str, tuple[tuple[Tokens, str], ...]]  # first token -> (tokens, item id)
AVAILABLE = ""  # the item id recorded for names of available items

_HEAD_BREAK = re.compile(r",|\(|\b(?:for|from|in|with|to|of|when|via|on|and|or)\b", re.IGNORECASE)
_GENERIC_TAIL = re.compile(
    r"[\s-]+(?:connector|connectors|integration|integrations|support|feature|features|module|"
    r"modules|capability|capabilities|add-on|plugin|plug-in|option|version)\s*$",
    re.IGNORECASE,
)
_GAP = re.compile(r"[\s\-‐/]*")


def name_tokens(name: str) -> Tokens:
    return tuple(stem(w) for w in WORD_RE.findall(name))


def _content(words: Sequence[str]) -> set[str]:
    return {stem(w) for w in words} - STOPWORDS


def item_names(item: RoadmapItem) -> list[str]:
    """Title and aliases, plus each without a generic tail when at least two words remain."""
    names = [n.strip() for n in item.names if n.strip()]
    shorter = [_GENERIC_TAIL.sub("", n) for n in names]
    names += [s for s in shorter if s not in names and len(WORD_RE.findall(s)) >= 2]
    return names


def _head_phrases(item: RoadmapItem, available_words: list[set[str]]) -> list[str]:
    heads = []
    for part in re.split(r"\s+and\s+", item.title):
        head = _HEAD_BREAK.split(part, maxsplit=1)[0].strip()
        words = _content(WORD_RE.findall(head))
        if len(words) >= 2 and head != item.title and not any(words <= a for a in available_words):
            heads.append(head)
    return heads


def _title_runs(item: RoadmapItem, available_words: list[set[str]], approved: set[str]
                ) -> list[str]:
    tokens = WORD_RE.findall(item.title)
    known = set().union(*available_words) if available_words else set()
    runs = []
    for i in range(len(tokens)):
        for j in range(i + 1, len(tokens) - (1 if i == 0 else 0)):
            run = tokens[i : j + 1]
            words = _content(run)
            edges_ok = run[0].lower() not in STOPWORDS and run[-1].lower() not in STOPWORDS
            if edges_ok and len(words) >= 2 and not words <= known and words - approved:
                runs.append(" ".join(run))
    return runs


def names_by_item(items: Sequence[RoadmapItem], approved_text: str) -> dict[str, list[str]]:
    """Every name of every item (see the module docstring)."""
    available_words = [_content(WORD_RE.findall(n)) for i in items if i.status == "available"
                       for n in item_names(i)]
    approved = content_stems(approved_text)
    found: dict[str, list[str]] = {}
    for item in items:
        names = item_names(item)
        if item.status != "available":
            names += _head_phrases(item, available_words)
        if item.status in {"next", "later"}:
            names += _title_runs(item, available_words, approved)
        found[item.id] = list(dict.fromkeys(names))
    return found


def build_index(items: Sequence[RoadmapItem], approved_text: str) -> NameIndex:
    """First token -> candidate names, longest first; available items win ties."""
    status = {i.id: i.status for i in items}
    rows: dict[str, list[tuple[Tokens, str]]] = {}
    for item_id, names in names_by_item(items, approved_text).items():
        owner = AVAILABLE if status[item_id] == "available" else item_id
        for name in names:
            tokens = name_tokens(name)
            variants = [tokens] + ([("".join(tokens),)] if 1 < len(tokens) <= 3 else [])
            for variant in variants:
                if variant:
                    rows.setdefault(variant[0], []).append((variant, owner))
    return {first: tuple(sorted(set(cands), key=lambda c: (-len(c[0]), c[1] != AVAILABLE)))
            for first, cands in rows.items()}


def _adjacent(text: str, words: list[tuple[str, int, int]], start: int, count: int) -> bool:
    return all(_GAP.fullmatch(text, words[k][2], words[k + 1][1])
               for k in range(start, start + count - 1))


def find_names(text: str, index: NameIndex) -> Iterable[tuple[int, int, str]]:
    """Leftmost-longest, non-overlapping matches: (start, end, item id or AVAILABLE)."""
    words = [(stem(m.group()), m.start(), m.end()) for m in WORD_RE.finditer(text)]
    i = 0
    while i < len(words):
        size = 0
        for tokens, owner in index.get(words[i][0], ()):
            n = len(tokens)
            if (i + n <= len(words) and all(words[i + k][0] == tokens[k] for k in range(1, n))
                    and _adjacent(text, words, i, n)):
                size = n
                yield words[i][1], words[i + n - 1][2], owner
                break
        i += size or 1
