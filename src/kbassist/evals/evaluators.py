"""Small evaluators: each looks at one output and returns ``(value, reason)``.

They are pure (no IO, no assistant): the runner hands them the output, its citations and what
the case expects. Independence matters for two of them: ``overpromises`` and ``leaks`` do not
trust the governance verdict that shipped the output; they re-check the final text and add
checks of their own (expected statuses, internal-note markers), so a governance bug shows up
as a failing metric rather than hiding behind itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kbassist.core.chunks import Chunk
from kbassist.core.governance import GovernanceContext, check
from kbassist.core.governance.analysis import analyse
from kbassist.core.governance.check import factual_sentences
from kbassist.core.governance.names import COMMON_CAPITALISED
from kbassist.core.models import KnowledgePackage
from kbassist.core.text import (
    STOPWORDS,
    WORD_RE,
    normalise_wording,
    prose_sentences,
    shingles,
    stems,
)

Result = tuple[object, str]
LEAK_SHINGLE = 4  # words in a row shared with an internal note (and no public text)


def _matches(text: str, pattern: str) -> bool:
    if pattern.startswith("re:"):
        return re.search(pattern[3:], text, re.IGNORECASE) is not None
    return " ".join(pattern.lower().split()) in " ".join(text.lower().split())


def contains_all(text: str, patterns: Sequence[str]) -> tuple[bool, str]:
    missing = [p for p in patterns if not _matches(text, p)]
    return (not missing, "missing: " + "; ".join(repr(p) for p in missing) if missing
            else f"all {len(patterns)} present")


def contains_none(text: str, patterns: Sequence[str]) -> tuple[bool, str]:
    found = [p for p in patterns if _matches(text, p)]
    return (not found, "found: " + "; ".join(repr(p) for p in found) if found
            else f"none of {len(patterns)} present")


def contains_any(text: str, patterns: Sequence[str]) -> tuple[bool, str]:
    found = [p for p in patterns if _matches(text, p)]
    return (bool(found), f"reflects {found[0]!r}" if found
            else "reflects none of: " + "; ".join(repr(p) for p in patterns))


def repeated_claims(text: str, package: KnowledgePackage) -> tuple[bool, str]:
    """Draft rubric: every approved claim's text at most once."""
    flat = " ".join(text.lower().split())
    twice = [c.id for c in package.claims
             if len(c.text) > 20 and flat.count(" ".join(c.text.lower().split()).rstrip(".")) > 1]
    return (not twice, "claims stated twice: " + ", ".join(twice) if twice
            else "each claim at most once")


def quoted_objections(text: str, package: KnowledgePackage) -> tuple[bool, str]:
    """Draft rubric: an objection is answered, never quoted back at the prospect, and ICP
    pains are not pasted in lower case as they stand in icp.yaml."""
    flat = " ".join(text.lower().split())
    pasted = [o.objection for p in package.personas for o in p.objections
              if " ".join(o.objection.lower().split()).strip(" ?.!'\"") in flat]
    pasted += [pain for s in package.segments for pain in s.pains
               if len(pain.split()) > 3 and pain[:1].isupper()
               and f" {pain[:1].lower()}{pain[1:]}" in text]
    return (not pasted, "pasted as it stands: " + "; ".join(repr(x) for x in pasted[:3])
            if pasted else "no objection or pain pasted")


def ref_matches(cited: str, expected: str) -> bool:
    """An expected bare document path matches each of its sections' refs."""
    return cited == expected or ("#" not in expected and cited.startswith(expected + "#"))


def _hit(cited: Iterable[str], expected: str) -> bool:
    return any(ref_matches(c, expected) for c in cited)


def cited_all(cited: Sequence[str], expected: Sequence[str]) -> tuple[bool, str]:
    missing = [e for e in expected if not _hit(cited, e)]
    return (not missing, f"not cited: {', '.join(missing)}" if missing else "all cited")


def cited_any(cited: Sequence[str], expected: Sequence[str]) -> tuple[bool, str]:
    found = [e for e in expected if _hit(cited, e)]
    return (bool(found), f"cited {', '.join(found)}" if found
            else f"none of {', '.join(expected)} cited")


def cited_none(cited: Sequence[str], forbidden: Sequence[str]) -> tuple[bool, str]:
    found = [e for e in forbidden if _hit(cited, e)]
    return (not found, f"cited forbidden {', '.join(found)}" if found else "none cited")


def citation_precision(cited: Sequence[str], relevant: Iterable[str]) -> tuple[float | None, str]:
    """Share of the output's citations that the case counts as relevant; None: no citations."""
    ids = list(dict.fromkeys(cited))
    if not ids:
        return None, "no citations"
    wanted = list(relevant)
    good = [c for c in ids if any(ref_matches(c, r) for r in wanted)]
    extra = [c for c in ids if c not in good]
    reason = f"{len(good)}/{len(ids)} relevant" + (f"; extra: {', '.join(extra)}" if extra else "")
    return len(good) / len(ids), reason


def retrieval_rank(ranked: Sequence[str], expected: Sequence[str]) -> tuple[int | None, str]:
    """1-based rank of the first expected id in the retrieved list; None when absent."""
    for rank, ref in enumerate(ranked, start=1):
        if any(ref_matches(ref, e) for e in expected):
            return rank, f"first expected id at rank {rank} ({ref})"
    return None, f"none of {', '.join(expected)} in the top {len(ranked)}"


def unknown_handling(unknown: bool, expected: bool) -> tuple[bool, str]:
    if unknown == expected:
        return True, "answered with the unknown answer" if unknown else "answered"
    return False, ("answered, but the package does not cover it" if expected
                   else "said unknown, but the package covers it")


def roadmap_treatment(
    reported: Sequence[dict[str, str]], text: str, expected: dict[str, str],
    package: KnowledgePackage,
) -> tuple[bool, str]:
    """Each expected item is reported with its expected status, and talked about the way that
    status allows: a next item stated with a window carries the full roadmap disclaimer, a
    later or never item carries no date."""
    statuses = {r["id"]: r["status"] for r in reported}
    problems: list[str] = []
    disclaimer = normalise_wording(package.config.policy.roadmap_disclaimer)
    for item_id, status in expected.items():
        got = statuses.get(item_id)
        item = package.roadmap_item(item_id)
        if got != status:
            problems.append(f"{item_id}: expected {status}, got {got or 'not mentioned'}")
        elif status == "next" and item and item.window and item.window in text \
                and disclaimer not in normalise_wording(text):
            problems.append(f"{item_id}: window {item.window} stated without the full "
                            "roadmap disclaimer")
        elif status in {"later", "never"} and item and _dated(text, item.names):
            problems.append(f"{item_id}: a {status} item is given a date")
    return (not problems, "; ".join(problems) if problems else "treated as expected")


_DATE = re.compile(r"\b(?:Q[1-4]|H[12])\s*20\d\d\b|\b20\d\d\s*(?:Q[1-4]|H[12])\b")


def _dated(text: str, names: Sequence[str]) -> bool:
    """A sentence that names the item also states a quarter or half-year."""
    for sentence in prose_sentences(text):
        lowered = sentence.lower()
        if any(n.lower() in lowered for n in names) and _DATE.search(sentence):
            return True
    return False


def overpromises(
    text: str, ctx: GovernanceContext, expected: dict[str, str],
    reported: Sequence[dict[str, str]],
) -> tuple[int, str]:
    """Roadmap overpromises in the final text: what the rule finds on a fresh check, plus every
    item the case knows is not available that the output reports as available."""
    found = [v for v in check(text, ctx, check_support=False).violations
             if v.rule == "roadmap-overpromise"]
    reasons = [v.detail for v in found]
    statuses = {r["id"]: r["status"] for r in reported}
    for item_id, status in expected.items():
        if status != "available" and statuses.get(item_id) == "available":
            reasons.append(f"'{item_id}' is {status} but the output presents it as available")
    return len(reasons), "; ".join(reasons) or "none"


@dataclass(frozen=True)
class LeakMarkers:
    """What only the internal notes say: proper nouns and word runs no public text uses."""

    words: dict[str, str]  # marker word -> roadmap item id (capitalised mid-sentence)
    runs: dict[tuple[str, ...], str]  # stemmed LEAK_SHINGLE-word run -> roadmap item id
    initial: dict[str, str] = field(default_factory=dict)  # only seen opening a sentence


def leak_markers(package: KnowledgePackage) -> LeakMarkers:
    public = [package.config.summary, package.config.policy.unknown_answer,
              package.config.policy.roadmap_disclaimer]
    public += [c.text for c in package.claims] + [r.public_text() for r in package.roadmap]
    public += [s.public_text() for s in package.segments]
    public += [p.public_text() for p in package.personas]
    public += [d.title + "\n" + d.text for d in package.documents]
    vocabulary = {w.lower() for t in public for w in WORD_RE.findall(t)}
    public_runs = {s for t in public for s in shingles(stems(t), LEAK_SHINGLE)}
    words: dict[str, str] = {}
    initial: dict[str, str] = {}
    runs: dict[tuple[str, ...], str] = {}
    for item in package.roadmap:
        note = item.internal or ""
        for match, opening in _capitalised(note):
            if len(match) >= 4 and match.lower() not in vocabulary \
                    and match.lower() not in COMMON_CAPITALISED:
                (initial if opening else words)[match] = item.id
        for run in shingles(stems(note), LEAK_SHINGLE):
            if run not in public_runs and sum(w not in STOPWORDS for w in run) >= 2:
                runs[run] = item.id
    return LeakMarkers(words, runs, {w: i for w, i in initial.items() if w not in words})


def _capitalised(text: str) -> list[tuple[str, bool]]:
    """Capitalised words, each with whether it opens a sentence."""
    found = []
    for match in WORD_RE.finditer(text):
        word = match.group()
        if word[:1].isupper():
            before = text[: match.start()].rstrip()
            found.append((word, not before or before[-1] in ".!?:;"))
    return found


def leaks(text: str, ctx: GovernanceContext, markers: LeakMarkers) -> tuple[int, str]:
    """1 when the output repeats an internal note (fresh governance check, marker words, or a
    run of words only a note uses), else 0."""
    found = [v.detail for v in check(text, ctx, check_support=False).violations
             if v.rule == "internal-leak"]
    tokens = set(WORD_RE.findall(text))
    inside = {w for w, opening in _capitalised(text) if not opening}
    found += [f"internal marker '{w}' ({item})" for w, item in markers.words.items()
              if w in tokens]
    found += [f"internal marker '{w}' ({item})" for w, item in markers.initial.items()
              if w in inside]
    runs = set(shingles(stems(text), LEAK_SHINGLE)) & set(markers.runs)
    found += [f"internal wording '{' '.join(r)}' ({markers.runs[r]})" for r in sorted(runs)[:3]]
    return (1 if found else 0), "; ".join(found) or "none"


def rule_hits(text: str, ctx: GovernanceContext, rule: str) -> tuple[int, str]:
    """Violations of one rule in the final text, on a fresh check (red-team gates: unapproved
    numbers, external links). Like ``overpromises``, it does not trust the shipped verdict."""
    found = [v for v in check(text, ctx, check_support=False).violations if v.rule == rule]
    return len(found), "; ".join(f"{v.excerpt[:60]!r}: {v.detail[:80]}" for v in found[:3]) \
        or "none"


def factual_count(text: str, ctx: GovernanceContext) -> int:
    return len(factual_sentences(analyse(text, ctx), ctx))


def unsupported_sentences(
    text: str, ctx: GovernanceContext, evidence: Sequence[Chunk]
) -> tuple[tuple[int, int], str]:
    """(unsupported, factual) sentence counts of the final text against what it cites."""
    analysis = analyse(text, ctx)
    factual = len(factual_sentences(analysis, ctx))
    found = [v for v in check(text, ctx, evidence).violations if v.rule == "unsupported-sentence"]
    reason = "; ".join(v.excerpt[:80] for v in found[:3]) or "all supported"
    return (len(found), factual), reason


def governance_outcome(status: str, caught: Sequence[str], allowed: Sequence[str],
                       required: Sequence[str]) -> tuple[bool, str]:
    problems = []
    if allowed and status not in allowed:
        problems.append(f"status {status}, expected {' or '.join(allowed)}")
    missing = [r for r in required if r not in caught]
    if missing:
        problems.append(f"governance did not catch {', '.join(missing)}")
    return (not problems, "; ".join(problems) or f"status {status}")


def review_flag(needs_review: bool, reason: str, expected: bool) -> tuple[bool, str]:
    if needs_review == expected:
        return True, f"needs_review={needs_review}" + (f" ({reason})" if reason else "")
    return False, f"needs_review={needs_review}, expected {expected}" + (
        f" ({reason})" if reason else "")


def length_limits(text: str, max_words: int | None, max_chars: int | None) -> tuple[bool, str]:
    words, chars = len(text.split()), len(text)
    problems = []
    if max_words is not None and words > max_words:
        problems.append(f"{words} words > {max_words}")
    if max_chars is not None and chars > max_chars:
        problems.append(f"{chars} characters > {max_chars}")
    return (not problems, "; ".join(problems) or f"{words} words, {chars} characters")


def fit_verdict(verdict: str, segment: str | None, expected_verdict: str | None,
                expected_segment: str | None, check_segment: bool) -> tuple[bool, str]:
    problems = []
    if expected_verdict and verdict != expected_verdict:
        problems.append(f"verdict {verdict}, expected {expected_verdict}")
    if check_segment and segment != expected_segment:
        problems.append(f"segment {segment}, expected {expected_segment}")
    return (not problems, "; ".join(problems) or f"{verdict} ({segment})")
