"""ICP fit: match a prospect description to the best icp.yaml segment and say why. Pure.

Nothing here depends on a particular package: every name, range and phrase comes from the
``KnowledgePackage`` passed in. The only built-in vocabulary is a small, generic place table
(``COUNTRIES``, ``STATES``, ``REGIONS``) and English stop, filler and negation words.

What is read from the description (only what it states; the rest is reported as missing):

* Company size: "450 employees", "about 3,000 staff", "2k people", "a 12-person team",
  "between 200 and 500 employees", "headcount of 1.2k", "200+ employees", "over 500 staff".
* Places: countries and demonyms ("UK", "British", "Germany", "Dutch", "USA"), US states and
  Canadian provinces, regions ("EU", "Europe", "Nordics", "North America", "APAC"...), and any
  region a segment names literally. A place is inside a segment when the countries it stands
  for overlap the segment's regions ("Europe" overlaps "EU"); a segment region the table
  doesn't know matches only when the description names it.
* Industry: a segment's ``industries`` and distinctive name words (used by no other segment),
  matched as stemmed phrases. With an embedder, also the similarity of the description's
  industry phrase ("a UK bakery chain" -> "bakery chain") to them; such a meaning-only match
  must reach ``INDUSTRY_THRESHOLD``, hold when a shared word is set aside ("security guarding"
  vs "security systems"), and beat every other segment by ``INDUSTRY_MARGIN``.
* Pains and triggers: similarity of each clause to a segment's pains and triggers (word
  overlap without an embedder). They pick the segment and stand in for a missing industry.

Disqualifiers (of the chosen segment) are triggered when a clause of the description states
one: similarity at least ``DISQUALIFIER_THRESHOLD`` AND a shared content word that is the
disqualifier's own (not the segment's everyday vocabulary), with no shared word of opposite
polarity, so "they do not want to own hardware" never triggers "wants to own the hardware".
Quantity disqualifiers ("Fewer than 25 field technicians") are decided by the number the
description gives for that noun; without one, "a 12-person team" (< 25 in total) or "a handful
of technicians" still decide it, else the count is reported as missing.

Verdict rules, first match wins:

1. no-fit: a disqualifier of the chosen segment is triggered.
2. no-fit: the description states an industry that matches no segment.
3. no-fit: a stated headcount is outside the segment's employee range, or no stated place is
   inside its regions. One contradicted firmographic is enough: icp.yaml ranges are
   qualification bounds, and a rep is better served by a clear no than a hedge.
4. fit: the industry matches, nothing stated contradicts, and at most one of company size
   and region is missing.
5. partial: nothing stated contradicts, but the evidence is incomplete: the industry is only
   inferred from pains/triggers, or is not stated at all (then the segment is reported only
   when the size/region single one out), or both size and region are missing.

Calibration (evals/fit/prospects.yaml, 38 labelled prospects, real MiniLM): every case is
right for DISQUALIFIER_THRESHOLD 0.45-0.55, INDUSTRY_THRESHOLD 0.35-0.55, CONTEXT_THRESHOLD
0.35-0.75 and INDUSTRY_MARGIN 0.05-0.10; the constants sit inside those ranges.
"""

from __future__ import annotations

from kbassist.core.fit.clauses import (
    DisqualifierCheck,
    QuantityRule,
    check_disqualifier,
    industry_phrase,
    parse_quantity_rule,
    split_units,
)
from kbassist.core.fit.firmographics import (
    COUNTRIES,
    NUMBER,
    REGIONS,
    STATES,
    Headcount,
    Place,
    parse_count,
    parse_employees,
    parse_number,
    parse_places,
    region_members,
)
from kbassist.core.fit.text import (
    CONTEXT_THRESHOLD,
    DISQUALIFIER_THRESHOLD,
    INDUSTRY_MARGIN,
    INDUSTRY_THRESHOLD,
    LEXICAL_CONTEXT_THRESHOLD,
    NAME_WORD_STRENGTH,
    is_negated,
    polarity,
    stem,
)
from kbassist.core.fit.verdict import (
    FitResult,
    assess_fit,
)

__all__ = [
    "CONTEXT_THRESHOLD",
    "COUNTRIES",
    "DISQUALIFIER_THRESHOLD",
    "DisqualifierCheck",
    "FitResult",
    "Headcount",
    "INDUSTRY_MARGIN",
    "INDUSTRY_THRESHOLD",
    "LEXICAL_CONTEXT_THRESHOLD",
    "NAME_WORD_STRENGTH",
    "NUMBER",
    "Place",
    "QuantityRule",
    "REGIONS",
    "STATES",
    "assess_fit",
    "check_disqualifier",
    "industry_phrase",
    "is_negated",
    "parse_count",
    "parse_employees",
    "parse_number",
    "parse_places",
    "parse_quantity_rule",
    "polarity",
    "region_members",
    "split_units",
    "stem",
]
