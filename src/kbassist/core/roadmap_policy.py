"""How each roadmap status may be talked about. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from kbassist.core.models import RoadmapItem


def name_regex(name: str) -> str:
    """A regex body for a roadmap name: case-insensitive use, tolerant to hyphens, spaces,
    slashes and apostrophes between words, and to a plural on the last word."""
    tokens = re.findall(r"[^\W_]+", name.lower())
    parts = []
    for i, token in enumerate(tokens):
        escaped = re.escape(token)
        if i == len(tokens) - 1 and token.endswith("y") and len(token) > 3:
            escaped = re.escape(token[:-1]) + "(?:y|ies)"
        elif i == len(tokens) - 1 and token.endswith("s") and len(token) > 3:
            escaped = re.escape(token[:-1]) + "s?"
        elif i == len(tokens) - 1:
            escaped += "(?:s|es)?"
        parts.append(escaped)
    return r"(?<![\w])" + r"[\s\-‐/'’]*".join(parts) + r"(?!\w)" if parts else ""


@lru_cache(maxsize=4096)
def name_pattern(name: str) -> re.Pattern[str]:
    """Match one roadmap name (title or alias) anywhere in a text."""
    return re.compile(name_regex(name) or r"(?!x)x", re.IGNORECASE)


def names_pattern(names: Sequence[str]) -> re.Pattern[str] | None:
    """One pattern for several names, longest first so the longest name wins."""
    bodies = sorted({b for b in (name_regex(n) for n in names) if b}, key=len, reverse=True)
    return re.compile("|".join(bodies), re.IGNORECASE) if bodies else None


def find_mentions(text: str, items: Iterable[RoadmapItem]) -> list[RoadmapItem]:
    """Roadmap items named in ``text`` by title or alias, in order of first mention."""
    found: list[tuple[int, RoadmapItem]] = []
    for item in items:
        positions = [m.start() for n in item.names if (m := name_pattern(n).search(text))]
        if positions:
            found.append((min(positions), item))
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


def approved_wording(item: RoadmapItem, disclaimer: str, *, with_window: bool = True) -> str:
    """The only way an item may be described: its status decides the wording. The window is
    optional detail; the disclaimer never is."""
    if item.status == "available":
        return f"{item.title} is available today."
    say = (item.say or "").strip()
    if item.status == "next":
        window = f" The planned window is {item.window}." if item.window and with_window else ""
        return f"{say}{window} {disclaimer}".strip()
    return say
