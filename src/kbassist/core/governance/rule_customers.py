"""unapproved-customer: an organisation presented as a customer or reference must be the
``customer`` of an approved, unexpired claim."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kbassist.core.governance.analysis import Analysis
from kbassist.core.governance.context import GovernanceContext
from kbassist.core.governance.names import (
    NAME_LIST,
    is_common,
    matches_org,
    org_key,
    split_names,
    trim_common,
)
from kbassist.core.governance.types import Violation

RULE = "unapproved-customer"

_STRONG_PREFIX = (
    r"customers?\s+(?:like|such\s+as|including|include|includes)"
    r"|clients?\s+(?:like|such\s+as|including|include|includes)"
    r"|(?:companies|organi[sz]ations|brands|teams|businesses|firms|operators|contractors"
    r"|enterprises|names|leaders|manufacturers|retailers|terminals|ports|hospitals|banks"
    r"|insurers|carriers)\s+(?:like|such\s+as|including)"
    r"|trusted\s+by|used\s+by|chosen\s+by|relied\s+(?:up)?on\s+by|loved\s+by|adopted\s+by"
    r"|deployed\s+(?:at|by)|live\s+at|in\s+production\s+at"
    r"|case\s+stud(?:y|ies)\s+(?:with|for|on|from|of|about)"
    r"|references?\s+(?:include|including|like|such\s+as)"
    r"|(?:our|a)\s+(?:customers?|clients?)\s*,?|customers?\s*:"
    r"|helped|helping|join(?:ing)?"
)
_WEAK_PREFIX = (
    r"such\s+as|including|e\.g\.,?"
    r"|(?:we|I)(?:'ve|\s+have)?\s+(?:work|worked|partner|partnered)\s+with"
    r"|working\s+with|partnered\s+with|partnering\s+with"
)
_SUFFIX = (
    r"uses?|used|(?:is|are)\s+using|ha(?:s|ve)\s+used|chose|ha(?:s|ve)\s+chosen|selected"
    r"|switched\s+to|moved\s+to|migrated\s+to|deployed|rolled\s+out|adopted|implemented"
    r"|runs?\s+on|rel(?:y|ies)\s+on|went\s+live|signed|saw|sees?|cut|cuts|reduced|reduces?"
    r"|lowered|increased|improved|raised|saved|saves?|achieved|grew|boosted|slashed|doubled"
    r"|tripled|halved|eliminated|shortened|gained|trusts?|love|loves|bought|purchased"
    r"|standardi[sz]ed\s+on"
    r"|is\s+(?:a|an|one\s+of\s+our)\s+(?:happy\s+)?(?:customer|client|reference|user)s?"
    r"|are\s+(?:customers|clients)|became\s+a\s+(?:customer|client)"
    r"|has\s+been\s+a\s+(?:customer|client)|(?:is|are)\s+(?:already\s+)?(?:live|running)\s+on"
)
_PREFIX_RE = re.compile(
    rf"(?i:\b(?:(?P<strong>{_STRONG_PREFIX})|(?P<weak>{_WEAK_PREFIX})))[ \t]+(?P<names>{NAME_LIST})"
)
_SUFFIX_RE = re.compile(rf"(?P<names>{NAME_LIST})[ \t]+(?i:(?P<trigger>{_SUFFIX}))\b")
_PLACE_BEFORE = re.compile(r"(?i)\b(?:in|across|throughout|within|around|from|to)\s+$")


def _names(text: str, match: re.Match[str], ctx: GovernanceContext) -> Iterator[tuple[int, str]]:
    base = match.start("names")
    for offset, piece in split_names(match.group("names")):
        inner, name = trim_common(piece, ctx.common_words)
        name = re.sub(r"['’]s$", "", name)
        if name and not any(ch.isdigit() for ch in name):
            yield base + offset + inner, name


def _allowed(name: str, weak: bool, ctx: GovernanceContext) -> bool:
    key = org_key(name)
    if all(is_common(w, ctx.common_words) for w in name.split()):
        return True
    if matches_org(key, ctx.own_names) or matches_org(key, ctx.approved_customers):
        return True
    return (weak and key not in ctx.expired_customers
            and matches_org(key, ctx.public_names, fuzzy=False))


def _violation(start: int, name: str, trigger: str) -> Violation:
    trigger = " ".join(trigger.split())
    return Violation(
        RULE, (start, start + len(name)), name,
        f"'{name}' is presented as a customer ('{trigger}') but no approved, unexpired claim "
        "names it as a customer",
    )


def check_customers(analysis: Analysis, ctx: GovernanceContext) -> list[Violation]:
    text = analysis.text
    found: dict[int, Violation] = {}
    for match in _PREFIX_RE.finditer(text):
        weak = match.group("weak") is not None
        trigger = match.group("weak") or match.group("strong")
        for start, name in _names(text, match, ctx):
            if not _allowed(name, weak, ctx):
                found.setdefault(start, _violation(start, name, trigger))
    for match in _SUFFIX_RE.finditer(text):
        if _PLACE_BEFORE.search(text, max(0, match.start() - 20), match.start()):
            continue
        for start, name in _names(text, match, ctx):
            if not _allowed(name, False, ctx):
                found.setdefault(start, _violation(start, name, match.group("trigger")))
    return [v for v in found.values() if not analysis.in_approved_wording(v.span)]
