"""Organisation names: finding capitalised name runs and matching them fuzzily.

"Lindqvist", "lindqvist hiss ab" and "Lindqvist Hiss" all refer to "Lindqvist Hiss AB";
legal suffixes, case, "&"/"and" and punctuation do not matter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import SequenceMatcher

from kbassist.core.text import split_words

OrgKey = tuple[str, ...]

_LEGAL = frozenset(
    split_words(
        """
        inc inc. incorporated ltd ltd. limited llc llp plc corp corp. corporation co co.
        company ab gmbh ag sa sas nv bv oy as asa spa srl pty kk the group holdings
        """
    )
)
_CAP = r"[A-Z][\w'’&-]*\.?"
_JOIN = r"(?:[ \t]+(?:&|of|of the|de|du|van|von|der|den|la|le|y|for)[ \t]+|[ \t]+)"
NAME = rf"(?<![\w'’-]){_CAP}(?:{_JOIN}{_CAP})*"  # never across a line break
NAME_LIST = rf"{NAME}(?:[ \t]*,[ \t]*(?:and[ \t]+|or[ \t]+)?{NAME}|[ \t]+(?:and|or)[ \t]+{NAME})*"
NAME_RE = re.compile(NAME)
_LIST_SPLIT = re.compile(r"[ \t]*,[ \t]*(?:and[ \t]+|or[ \t]+)?|[ \t]+(?:and|or)[ \t]+")

# Capitalised words that are not organisation names even when capitalised.
COMMON_CAPITALISED = frozenset(
    split_words(
        """
        i we you they he she it our your their my his her its us them this that these
        those the a an and or but if so then also here there what which who when where
        why how all any some many most each every both few more other such no not yes
        today tomorrow yesterday now soon last next this year month week quarter day
        monday tuesday wednesday thursday friday saturday sunday january february march
        april may june july august september october november december jan feb mar apr
        jun jul aug sep sept oct nov dec customers customer clients client companies
        company teams team users user people organisations organizations businesses
        firms operators contractors partners vendors technicians technician engineers
        engineer dispatchers dispatcher managers manager leaders leader buyers buyer
        reps rep sales marketing product finance operations ops ceo cfo coo cto cio ciso
        vp svp evp it hr cx ai api apis saas crm erp sso mfa platform software service
        services solution solutions app apps portal module feature since after before
        during across with without within by in on at for from to of into over under
        about around through between among per via like including such as however
        therefore meanwhile overall together recently typically usually often hi hello
        hey dear thanks thank regards best cheers sincerely kind warm one two three four
        five six seven eight nine ten first second third eu uk us usa emea apac na north
        south east west europe america americas global
        """
    )
)


def org_key(name: str) -> OrgKey:
    tokens = re.findall(r"[a-z0-9]+", name.lower().replace("&", " and ").replace("’", "'"))
    kept = tuple(t for t in tokens if t not in _LEGAL and t != "s")
    return kept or tuple(tokens)


FUZZY_RATIO = 0.86


def _close(a: str, b: str) -> bool:
    if 2 * min(len(a), len(b)) < FUZZY_RATIO * (len(a) + len(b)):
        return False  # the ratio cannot reach the bar
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return (matcher.real_quick_ratio() >= FUZZY_RATIO and matcher.quick_ratio() >= FUZZY_RATIO
            and matcher.ratio() >= FUZZY_RATIO)


def matches_org(candidate: OrgKey, allowed: Iterable[OrgKey], *, fuzzy: bool = True) -> bool:
    """Candidate words all inside an allowed name, or (fuzzy) a near spelling of one."""
    if not candidate:
        return True
    words = set(candidate)
    joined = " ".join(candidate)
    for key in allowed:
        if key and (words <= set(key) or (fuzzy and _close(joined, " ".join(key)))):
            return True
    return False


def split_names(names: str) -> list[tuple[int, str]]:
    """'Acme, Globex and Initech' -> [(0, 'Acme'), (6, 'Globex'), (17, 'Initech')]."""
    pieces: list[tuple[int, str]] = []
    position = 0
    for separator in _LIST_SPLIT.finditer(names):
        pieces.append((position, names[position : separator.start()]))
        position = separator.end()
    pieces.append((position, names[position:]))
    return [(offset, piece) for offset, piece in pieces if piece.strip()]


def is_common(word: str, common: frozenset[str]) -> bool:
    lowered = word.lower().strip(".'’").removesuffix("'s").removesuffix("’s")
    singular = lowered[:-1] if lowered.endswith("s") else lowered
    return lowered in common or singular in common or lowered in COMMON_CAPITALISED


def trim_common(name: str, common: frozenset[str]) -> tuple[int, str]:
    """Drop leading common words ('Since Globex' -> 'Globex') and trailing generic ones
    ('Globex Today'); returns the offset of the rest and the rest."""
    parts = [(m.start(), m.group()) for m in re.finditer(r"\S+", name)]
    while parts and is_common(parts[0][1], common):
        parts.pop(0)
    while parts and (is_common(parts[-1][1], frozenset()) or parts[-1][1] in {"&", "of", "and"}):
        parts.pop()  # only generic words: "Portmore Terminals" keeps its "Terminals"
    if not parts:
        return 0, ""
    start = parts[0][0]
    end = parts[-1][0] + len(parts[-1][1])
    return start, name[start:end].rstrip(".,;:")


def proper_name_keys(texts: Iterable[str], common: frozenset[str]) -> frozenset[OrgKey]:
    """Every capitalised name run in ``texts`` (and each of its words), as org keys."""
    keys: set[OrgKey] = set()
    for text in texts:
        for match in NAME_RE.finditer(text):
            _, name = trim_common(match.group(), common)
            if name:
                keys.add(org_key(name))
    return frozenset(k for k in keys if k)
