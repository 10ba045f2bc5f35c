"""Finding URLs in text: markdown links and images, reference definitions, HTML attributes
and bare addresses (see rule_links.py for why)."""

from __future__ import annotations

import re
from collections.abc import Iterable

# ![alt](url "title")  and  [text](url)
_MD_LINK = re.compile(r"(?P<image>!?)\[(?P<label>[^\]\n]{0,300})\]\(\s*<?(?P<url>[^)\s>]*)>?"
                      r"(?:\s+[\"'][^\"'\n]*[\"'])?\s*\)")
# [ref]: url
_MD_REFERENCE = re.compile(r"(?m)^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*<?(?P<url>\S+?)>?(?:[ \t].*)?$")
# <img src="url">, <a href='url'>, <iframe src=url>
_HTML_ATTR = re.compile(r"(?i)<\s*(?P<tag>[a-z]+)[^>]*?\b(?:src|href|srcset|data)\s*=\s*"
                        r"[\"']?(?P<url>[^\"'\s>]+)")
# bare addresses
_BARE = re.compile(r"(?i)(?<![\w@/])(?P<url>(?:https?|ftp|wss?)://[^\s<>\"'()\]]+"
                   r"|(?<![:\w])//[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:/[^\s<>\"'()\]]*)?"
                   r"|www\.[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:/[^\s<>\"'()\]]*)?"
                   r"|(?:data|javascript|vbscript):[^\s<>\"'()\]]+)")
_TRAILING = ".,;:!?*_~'\""
_SCHEMES = ("http://", "https://", "ftp://", "ws://", "wss://", "//", "www.", "data:",
            "javascript:", "vbscript:", "mailto:", "file:")


def normalise_url(url: str) -> str:
    """Compare URLs without scheme, ``www.``, case of the host, or a trailing slash."""
    url = url.strip().strip("<>").rstrip(_TRAILING)
    lowered = url.lower()
    for prefix in ("https://", "http://", "//"):
        if lowered.startswith(prefix):
            url, lowered = url[len(prefix):], lowered[len(prefix):]
            break
    if lowered.startswith("www."):
        url = url[4:]
    host, slash, rest = url.partition("/")
    return (host.lower() + slash + rest).rstrip("/")


def package_urls(texts: Iterable[str]) -> frozenset[str]:
    """Every URL the package's public texts contain, normalised."""
    found: set[str] = set()
    for text in texts:
        for _, _, url, _ in find_urls(text):
            found.add(normalise_url(url))
    return frozenset(found)


def _is_address(url: str) -> bool:
    lowered = url.lower()
    return lowered.startswith(_SCHEMES) or bool(re.match(r"[a-z0-9-]+(\.[a-z0-9-]+)+/", lowered))


def find_urls(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, url, kind) of every link, image or bare address; kind is image | link.

    Markup spans win over the bare address inside them, so one violation covers one link.
    """
    found: list[tuple[int, int, str, str]] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, url: str, kind: str) -> None:
        if any(start < b and a < end for a, b in taken):
            return
        taken.append((start, end))
        found.append((start, end, url, kind))

    for match in _MD_LINK.finditer(text):
        url = match.group("url")
        if url and (_is_address(url) or match.group("image")):
            add(match.start(), match.end(), url, "image" if match.group("image") else "link")
    for match in _MD_REFERENCE.finditer(text):
        add(match.start(), match.end(), match.group("url"), "link")
    for match in _HTML_ATTR.finditer(text):
        tag = match.group("tag").lower()
        kind = "link" if tag == "a" else "image"
        end = text.find(">", match.end())
        add(match.start(), end + 1 if end >= 0 else match.end(), match.group("url"), kind)
    for match in _BARE.finditer(text):
        url = match.group("url").rstrip(_TRAILING)
        add(match.start(), match.start() + len(url), url, "link")
    return sorted(found)
