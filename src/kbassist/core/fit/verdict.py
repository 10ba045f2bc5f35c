"""Evidence per segment and the verdict with its reasons."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from kbassist.core.fit.clauses import (
    DisqualifierCheck,
    _Similarity,
    check_disqualifier,
    industry_phrase,
    split_units,
)
from kbassist.core.fit.firmographics import (
    Headcount,
    Place,
    parse_employees,
    parse_places,
    region_members,
)
from kbassist.core.fit.text import (
    _GENERIC,
    _STOPWORDS,
    CONTEXT_THRESHOLD,
    INDUSTRY_MARGIN,
    INDUSTRY_THRESHOLD,
    LEXICAL_CONTEXT_THRESHOLD,
    NAME_WORD_STRENGTH,
    _contains_phrase,
    _content_stems,
    _stems_match,
    _tokens,
    stem,
)
from kbassist.core.models import KnowledgePackage, Segment
from kbassist.core.ports import Embed

Verdict = Literal["fit", "partial", "no-fit"]

# ---------------------------------------------------------------------------------------------
# Segment evidence

@dataclass
class _Evidence:
    segment: Segment
    industry_terms: list[str] = field(default_factory=list)
    name_words: list[str] = field(default_factory=list)
    industry_sim: float = 0.0
    industry_sim_term: str = ""
    context_score: float = 0.0
    context_text: str = ""
    size: str = "missing"  # within | outside | missing | any
    region: str = "missing"
    score: float = 0.0

    @property
    def lexical(self) -> float:
        if self.industry_terms:
            return 1.0 + 0.05 * (len(self.industry_terms) + len(self.name_words) - 1)
        return NAME_WORD_STRENGTH + 0.05 * (len(self.name_words) - 1) if self.name_words else 0.0

    ambiguous: bool = False  # similar to several segments' industries alike

    @property
    def industry_matched(self) -> bool:
        return bool(self.industry_terms or self.name_words) or (
            self.industry_sim >= INDUSTRY_THRESHOLD and not self.ambiguous)


def _distinctive_name_words(segment: Segment, segments: Sequence[Segment]) -> list[str]:
    """Name words no other segment uses anywhere: 'hvac', 'escalator', not 'maintenance'."""
    others: set[str] = set()
    for other in segments:
        if other.id != segment.id:
            texts = [other.name, *other.industries, *other.pains, *other.triggers]
            others.update(s for t in texts for s in _content_stems(t))
    words = [w for w in re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", segment.name.lower())
             if w not in _STOPWORDS and w not in _GENERIC and not w.isdigit()]
    return [w for w in dict.fromkeys(words)
            if not any(_stems_match(stem(part), o) for part in w.split("-") for o in others)]


def _domain(segment: Segment) -> frozenset[str]:
    texts = [segment.name, *segment.industries, *segment.pains, *segment.triggers]
    return frozenset(s for t in texts for s in _content_stems(t))


def _lexical_context(stems: Sequence[str], segment: Segment) -> tuple[float, str]:
    best = (0.0, "")
    for text in [*segment.pains, *segment.triggers]:
        target = set(_content_stems(text))
        if target:
            share = sum(any(_stems_match(t, s) for s in stems) for t in target) / len(target)
            best = max(best, (share, text))
    return best


def _size_status(segment: Segment, headcount: Headcount | None) -> str:
    rng = segment.employees
    if headcount is None:
        return "missing"
    if rng is None or (rng.min is None and rng.max is None):
        return "any"
    return "within" if headcount.overlaps(rng.min, rng.max) else "outside"


def _region_status(segment: Segment, places: Sequence[Place]) -> str:
    if not places:
        return "missing"
    if not segment.regions:
        return "any"
    allowed = frozenset().union(*(region_members(r) for r in segment.regions))
    return "within" if any(p.members & allowed for p in places) else "outside"


@dataclass(frozen=True)
class _Reading:
    """Everything parsed from the description once."""

    text: str
    units: list[str]
    stems: list[str]
    headcount: Headcount | None
    places: list[Place]
    phrase: str


def _evidence(segment: Segment, reading: _Reading, sim: _Similarity,
              segments: Sequence[Segment]) -> _Evidence:
    ev = _Evidence(segment)
    ev.industry_terms = [t for t in segment.industries if _contains_phrase(reading.stems, t)]
    covered = {stem(t) for term in ev.industry_terms for t in _tokens(term)}
    ev.name_words = [w for w in _distinctive_name_words(segment, segments)
                     if _contains_phrase(reading.stems, w)
                     and not all(stem(part) in covered for part in w.split("-"))]
    if reading.phrase and sim.enabled:
        ev.industry_sim, ev.industry_sim_term = sim.industry(
            reading.phrase, [*segment.industries, segment.name])
    if sim.enabled:
        ev.context_score, _, ev.context_text = sim.best(reading.units,
                                                        [*segment.pains, *segment.triggers])
    else:
        ev.context_score, ev.context_text = _lexical_context(reading.stems, segment)
    ev.size = _size_status(segment, reading.headcount)
    ev.region = _region_status(segment, reading.places)
    firmo = sum({"within": 1, "outside": -1}.get(s, 0) for s in (ev.size, ev.region))
    ev.score = ev.lexical + 0.6 * ev.industry_sim + 0.4 * ev.context_score + 0.05 * firmo
    return ev


def _mark_ambiguous(evidence: Sequence[_Evidence]) -> None:
    """A meaning-only industry match must stand out: 'construction' is about as close to
    building services as to building maintenance, so it singles out neither."""
    for ev in evidence:
        others = [o.industry_sim for o in evidence if o is not ev]
        ev.ambiguous = bool(others) and ev.industry_sim - max(others) < INDUSTRY_MARGIN


def _context_ok(ev: _Evidence, embedded: bool) -> bool:
    limit = CONTEXT_THRESHOLD if embedded else LEXICAL_CONTEXT_THRESHOLD
    return bool(ev.context_text) and ev.context_score >= limit


def _firmographic_fits(evidence: Sequence[_Evidence]) -> list[_Evidence]:
    return [e for e in evidence
            if "within" in (e.size, e.region) and "outside" not in (e.size, e.region)]


def _choose(evidence: Sequence[_Evidence], embedded: bool, industry_stated: bool
            ) -> _Evidence | None:
    """Industry first; then pains/triggers; then, with no industry stated, the one segment
    whose firmographics fit (several fitting equally single out none)."""
    for pool in ([e for e in evidence if e.industry_matched],
                 [e for e in evidence if _context_ok(e, embedded)]):
        if pool:
            return max(pool, key=lambda e: e.score)
    fits = _firmographic_fits(evidence)
    return fits[0] if len(fits) == 1 and not industry_stated else None


# ---------------------------------------------------------------------------------------------
# Result

@dataclass(frozen=True)
class FitResult:
    verdict: Verdict
    segment: str | None
    segment_name: str | None
    reasons: list[str]
    disqualifiers: list[str]
    missing: list[str]
    facts: dict[str, object]
    scores: dict[str, float]
    citations: list[dict[str, object]]
    output_id: int | None = None  # the audit id feedback takes; None with the audit log off

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "segment": self.segment,
            "segment_name": self.segment_name,
            "reasons": list(self.reasons),
            "disqualifiers": list(self.disqualifiers),
            "missing": list(self.missing),
            "facts": dict(self.facts),
            "scores": dict(self.scores),
            "citations": [dict(c) for c in self.citations],
        }


def _range_text(segment: Segment) -> str:
    rng = segment.employees
    low, high = (rng.min, rng.max) if rng else (None, None)
    if low is not None and high is not None:
        return f"{low}-{high}"
    return f"{low} or more" if low is not None else f"up to {high}"


def _industry_reasons(ev: _Evidence, reading: _Reading) -> list[str]:
    seg = ev.segment
    if ev.industry_terms or ev.name_words:
        said = ", ".join([*ev.industry_terms, *ev.name_words])
        return [f"industry: the description names {said}, which matches {seg.name} "
                f"(industries: {', '.join(seg.industries) or 'none listed'})"]
    if ev.industry_matched:
        return [f"industry: '{reading.phrase}' is close to '{ev.industry_sim_term}' for "
                f"{seg.name} (similarity {ev.industry_sim:.2f})"]
    return []


def _firmographic_reasons(ev: _Evidence, reading: _Reading) -> list[str]:
    seg, reasons = ev.segment, []
    if reading.headcount is not None:
        value = reading.headcount.value
        if ev.size == "any":
            reasons.append(f"employees {value}: {seg.name} sets no size range")
        else:
            where = "within" if ev.size == "within" else "outside"
            reasons.append(f"employees {value} ('{reading.headcount.text}') is {where} "
                           f"{_range_text(seg)} for {seg.name}")
    if reading.places:
        names = ", ".join(dict.fromkeys(p.name for p in reading.places))
        regions = ", ".join(seg.regions) or "any region"
        where = {"within": "is within", "outside": "is outside", "any": "is fine for"}[ev.region]
        reasons.append(f"region {names} {where} the regions of {seg.name} ({regions})")
    return reasons


def _verdict(ev: _Evidence | None, industry_stated: bool, triggered: bool,
             reading: _Reading, evidence: Sequence[_Evidence]) -> tuple[Verdict, list[str]]:
    if triggered:
        return "no-fit", ["verdict no-fit: a disqualifier applies"]
    if industry_stated and (ev is None or not ev.industry_matched):
        what = f"'{reading.phrase}'" if reading.phrase else "the described industry"
        return "no-fit", [f"verdict no-fit: {what} matches no segment's industries"]
    if ev is None:
        return _verdict_without_segment(reading, evidence)
    off = [name for name, status in (("company size", ev.size), ("region", ev.region))
           if status == "outside"]
    if off:
        return "no-fit", [f"verdict no-fit: {' and '.join(off)} outside the segment's range"]
    missing = [s for s in (ev.size, ev.region) if s == "missing"]
    if ev.industry_matched and len(missing) <= 1:
        return "fit", ["verdict fit: industry matches and nothing stated contradicts the segment"]
    why = "industry not stated" if not ev.industry_matched else "company size and region missing"
    return "partial", [f"verdict partial: {why}"]


def _verdict_without_segment(reading: _Reading, evidence: Sequence[_Evidence]
                             ) -> tuple[Verdict, list[str]]:
    """No industry and no pain/trigger: only the firmographics can speak."""
    stated = reading.headcount is not None or bool(reading.places)
    if stated and all("outside" in (e.size, e.region) for e in evidence):
        return "no-fit", ["verdict no-fit: the stated size or region fits no segment"]
    fits = [e.segment.name for e in _firmographic_fits(evidence)]
    if fits:
        return "partial", ["verdict partial: industry not stated; the stated size and region "
                           "fit " + "; ".join(fits)]
    return "partial", ["verdict partial: the description states nothing that matches or "
                       "contradicts the ICP"]


def _reasons(ev: _Evidence, reading: _Reading, checks: Sequence[DisqualifierCheck],
             embedded: bool) -> list[str]:
    """Each step of the judgement, quoting the icp.yaml value it was checked against."""
    reasons = _industry_reasons(ev, reading)
    if _context_ok(ev, embedded):
        reasons.append(f"pain/trigger: the description echoes '{ev.context_text}' "
                       f"({ev.context_score:.2f})")
    reasons += _firmographic_reasons(ev, reading)
    reasons += [c.reason for c in checks if c.reason]
    if checks and not any(c.triggered for c in checks):
        reasons.append(f"disqualifiers: none of the {len(checks)} for {ev.segment.name} "
                       "is stated")
    return reasons


def _citations(ev: _Evidence | None, hits: Sequence[DisqualifierCheck]) -> list[dict[str, object]]:
    if ev is None:
        return []
    seg = ev.segment
    cites: list[dict[str, object]] = [
        {"source": "icp.yaml", "id": seg.id, "kind": "icp", "text": seg.public_text(),
         "line": seg.line}
    ]
    cites += [{"source": "icp.yaml", "id": seg.id, "kind": "icp", "text": hit.text,
               "line": seg.line} for hit in hits]
    return cites


def _missing(reading: _Reading, industry_stated: bool, checks: Sequence[DisqualifierCheck]
             ) -> list[str]:
    missing = [] if industry_stated else ["industry"]
    if reading.headcount is None:
        missing.append("company size")
    if not reading.places:
        missing.append("region")
    return missing + list(dict.fromkeys(c.missing for c in checks if c.missing))


def _read(description: str, package: KnowledgePackage) -> _Reading:
    text = " ".join(description.split())
    places = parse_places(text, [r for s in package.segments for r in s.regions])
    return _Reading(text, split_units(text), _content_stems(text), parse_employees(text),
                    places, industry_phrase(text, places))


def _targets(package: KnowledgePackage) -> list[str]:
    out: list[str] = []
    for seg in package.segments:
        out += [seg.name, *seg.industries, *seg.pains, *seg.triggers, *seg.disqualifiers]
    return out


def assess_fit(description: str, package: KnowledgePackage, *,
               embed: Embed | None = None) -> FitResult:
    """Judge how well the described prospect fits the package's ICP; see the module docstring."""
    reading = _read(description, package)
    sim = _Similarity(embed, [*reading.units, reading.phrase, *_targets(package)])
    evidence = [_evidence(s, reading, sim, package.segments) for s in package.segments]
    _mark_ambiguous(evidence)
    industry_stated = bool(reading.phrase) or any(e.industry_matched for e in evidence)
    best = _choose(evidence, sim.enabled, industry_stated)
    checks = [check_disqualifier(dq, reading.text, reading.units, sim, reading.headcount,
                                 _domain(best.segment))
              for dq in best.segment.disqualifiers] if best else []
    hits = [c for c in checks if c.triggered]
    reasons = _reasons(best, reading, checks, sim.enabled) if best else []
    verdict, why = _verdict(best, industry_stated, bool(hits), reading, evidence)
    facts: dict[str, object] = {
        "industry_phrase": reading.phrase or None,
        "industry_matches": {e.segment.id: [*e.industry_terms, *e.name_words]
                             for e in evidence if e.industry_terms or e.name_words},
        "employees": reading.headcount.value if reading.headcount else None,
        "employees_text": reading.headcount.text if reading.headcount else None,
        "region": ", ".join(dict.fromkeys(p.name for p in reading.places)) or None,
        "places": sorted({p.label for p in reading.places}),
    }
    return FitResult(
        verdict=verdict,
        segment=best.segment.id if best else None,
        segment_name=best.segment.name if best else None,
        reasons=reasons + why,
        disqualifiers=[h.text for h in hits],
        missing=_missing(reading, industry_stated, checks),
        facts=facts,
        scores={e.segment.id: round(e.score, 3) for e in evidence},
        citations=_citations(best, hits),
    )
