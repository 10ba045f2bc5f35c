"""How each roadmap status may be talked about. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from kbassist.knowledge.models import RoadmapItem


@lru_cache(maxsize=4096)
def name_pattern(name: str) -> re.Pattern[str]:
    """Match a roadmap name case-insensitively, tolerant to hyphens/spaces and a plural s."""
    words = [re.escape(w) for w in re.split(r"[\s\-_/]+", name.strip()) if w]
    body = r"[\s\-_/]+".join(words)
    return re.compile(rf"(?<![\w-]){body}(?:s|es)?(?![\w-])", re.IGNORECASE)


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
