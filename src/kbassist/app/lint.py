"""Knowledge lint: contradictions inside a package, before any rep sees them.

Rules (severity in brackets; docs/evals.md has the table):

* the validator's problems: bad YAML, missing fields, unknown persona/segment/claim ids [error]
* expired claims, claims expiring within 30 days, documents past review_by [warning]
* messaging and reference sentences checked with the governance rules that guard answers:
  a next/later/never item described as available (roadmap-overpromise), a figure no approved
  claim states (unapproved-number), an unapproved customer name, a banned phrase, an expired
  claim's wording [error in messaging/, warning in reference/: reference material is lower
  authority, may quote third parties, and answers built from it are governed anyway];
  an internal roadmap note copied into a document [error anywhere]
* a roadmap item's own ``say`` contradicting its status (an available item "in development", a
  later or never item "committed") [error]; a window kept on a non-next item [warning]; an
  available item described as not available by a messaging sentence [error] or a reference
  sentence [warning]
* near-duplicate claims (MiniLM similarity of the texts) that state different numbers
  [error when nearly identical, warning when only similar]
* objections answered only by expired claims, personas no claim targets, segments with no
  proof point [warning]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from kbassist.adapters.package.loader import Problem, load_package
from kbassist.core.errors import KnowledgeError
from kbassist.core.governance import GovernanceContext, Violation, check
from kbassist.core.governance import numbers as quantities
from kbassist.core.governance.roadmap_names import AVAILABLE, build_index, find_names
from kbassist.core.models import PROOF_KINDS, Document, KnowledgePackage
from kbassist.core.ports import Embed
from kbassist.core.text import content_stems, split_sentences
from kbassist.core.yaml_lines import split_front_matter

EXPIRY_WARNING_DAYS = 30
# Claim texts at least this similar (MiniLM cosine) are near-duplicates; paraphrases of one
# fact score about 0.88 and the sample's most similar distinct claims 0.66.
DUPLICATE_WARNING = 0.85
DUPLICATE_ERROR = 0.95
LEXICAL_DUPLICATE = 0.75  # Jaccard of content stems, when no embedder is given

# Governance rule -> (lint rule, severity in messaging/, severity in reference/).
DOCUMENT_RULES: dict[str, tuple[str, str, str]] = {
    "roadmap-overpromise": ("roadmap-overpromise", "error", "warning"),
    "unapproved-number": ("unapproved-number", "error", "warning"),
    "unapproved-customer": ("unapproved-customer", "error", "warning"),
    "banned-phrase": ("banned-phrase", "error", "warning"),
    "expired-claim": ("expired-claim-wording", "error", "warning"),
    "internal-leak": ("internal-leak", "error", "error"),
}
NOT_AVAILABLE = re.compile(
    r"(?i)\b(?:(?:isn['’]t|is\s+not|aren['’]t|are\s+not|not)\s+(?:yet\s+)?available"
    r"|not\s+yet|in\s+development|committed\s+and|planned\s+window|no\s+committed\s+date"
    r"|explor(?:e|es|ing)\b|on\s+(?:our|the)\s+roadmap|coming\s+(?:soon|in|later|next)"
    r"|(?:don['’]t|do\s+not)\s+plan|not\s+planned)"
)
# Commitment wording that a later (uncertain) or never (not planned) item's say must not use.
COMMITTED = re.compile(
    r"(?i)(?<!n['’]t )(?<!not )(?<!no )(?<!never )\bcommitted\b|\bin\s+development\b"
    r"|\bbeing\s+built\b|\bplanned\s+window\b|\bwill\s+(?:ship|launch|be\s+available)\b"
)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_INLINE = re.compile(r"\*\*|__|`")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str
    message: str
    severity: str  # "error" | "warning"

    def describe(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message} [{self.rule}]"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "rule": self.rule,
                "message": self.message, "severity": self.severity}


@dataclass
class LintReport:
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"errors": [f.to_json() for f in self.errors],
                "warnings": [f.to_json() for f in self.warnings]}


def _from_problem(problem: Problem) -> Finding:
    return Finding(problem.path, problem.line, problem.rule, problem.message, "error")


def expiry_findings(package: KnowledgePackage, today: date) -> list[Finding]:
    root = Path(package.root)
    soon = today + timedelta(days=EXPIRY_WARNING_DAYS)
    findings: list[Finding] = []
    for claim in package.claims:
        if claim.expires is None:
            continue
        where = (root / "claims.yaml").as_posix()
        if claim.expires < today:
            findings.append(Finding(where, claim.line, "expired-claim",
                                    f"claim '{claim.id}' expired on {claim.expires}; it is "
                                    "never used in answers", "warning"))
        elif claim.expires <= soon:
            findings.append(Finding(where, claim.line, "expiring-claim",
                                    f"claim '{claim.id}' expires on {claim.expires} (within "
                                    f"{EXPIRY_WARNING_DAYS} days)", "warning"))
    for document in package.documents:
        if document.is_stale(today):
            findings.append(Finding((root / document.path).as_posix(), 1, "stale-document",
                                    f"document is past its review_by date {document.review_by}",
                                    "warning"))
    return findings


# -- documents: the governance rules on messaging and reference prose -----------------------


@dataclass(frozen=True)
class Block:
    """A run of document text with the file line it starts on; offsets map to lines."""

    line: int
    text: str
    where: str = ""  # for PDF/DOCX/HTML, which page or section (no file lines there)

    def line_of(self, offset: int) -> int:
        if self.where:  # extracted text: its newlines are not file lines
            return self.line
        return self.line + self.text.count("\n", 0, offset)

    def label(self) -> str:
        return f" ({self.where})" if self.where else ""


def _mask_markdown(text: str) -> str:
    """Emphasis, code ticks, link targets and heading lines blanked, keeping every offset."""
    text = _MD_LINK.sub(lambda m: m.group(1).ljust(len(m.group(0))), text)
    text = _MD_INLINE.sub(lambda m: " " * len(m.group(0)), text)
    return "\n".join(" " * len(line) if _HEADING.match(line) else line
                     for line in text.split("\n"))


def markdown_blocks(raw: str) -> list[Block]:
    """Sections of a Markdown file split at headings (outside code fences), front matter
    skipped, each with its first line number."""
    _, body, body_line = split_front_matter(raw)
    blocks: list[Block] = []
    lines: list[str] = []
    start, fenced = body_line, False
    for offset, line in enumerate(body.split("\n")):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and _HEADING.match(line) and lines:
            blocks.append(Block(start, "\n".join(lines)))
            start, lines = body_line + offset, []
        lines.append(line)
    if lines:
        blocks.append(Block(start, "\n".join(lines)))
    return [Block(b.line, _mask_markdown(b.text)) for b in blocks if b.text.strip()]


def document_blocks(root: Path, document: Document) -> list[Block]:
    path = root / document.path
    if path.suffix.lower() in {".md", ".markdown", ".txt"}:
        try:
            return markdown_blocks(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError):
            pass
    label = "page" if path.suffix.lower() == ".pdf" else "section"
    return [Block(1, _mask_markdown(s.text), f"{label} {s.line if label == 'page' else s.anchor}")
            for s in document.sections]


def _severity(rule: str, document: Document) -> tuple[str, str]:
    lint_rule, messaging, reference = DOCUMENT_RULES[rule]
    return lint_rule, messaging if document.kind == "messaging" else reference


def governance_findings(package: KnowledgePackage, today: date) -> list[Finding]:
    """Every document sentence checked as if an answer said it. Internal notes are checked
    against a context that does not count documents as public (a copied note would otherwise
    make itself public)."""
    root = Path(package.root)
    ctx = GovernanceContext.from_package(package, today)
    private = GovernanceContext.from_package(package.model_copy(update={"documents": []}), today)
    merged: dict[tuple[str, int, str], Finding] = {}
    for document in package.documents:
        where = (root / document.path).as_posix()
        for block in document_blocks(root, document):
            violations = [v for v in check(block.text, ctx, check_support=False).violations
                          if v.rule != "internal-leak"]
            violations += [v for v in check(block.text, private, check_support=False).violations
                           if v.rule == "internal-leak"]
            for violation in _unshadowed(violations):
                if violation.rule not in DOCUMENT_RULES:
                    continue
                rule, severity = _severity(violation.rule, document)
                line = block.line_of(violation.span[0])
                message = violation.detail + block.label()
                key = (where, line, rule)
                if key in merged:
                    if message not in merged[key].message:
                        message = f"{merged[key].message}; {message}"
                    else:
                        continue
                merged[key] = Finding(where, line, rule, message, severity)
    return list(merged.values())


def _unshadowed(violations: Sequence[Violation]) -> list[Violation]:
    """A sentence restating an expired claim whose figures are already reported is one
    problem, not two."""
    figures = [v.span for v in violations if v.rule == "unapproved-number"]
    return [v for v in violations if not (
        v.rule == "expired-claim" and any(a < v.span[1] and v.span[0] < b for a, b in figures))]


# -- roadmap: available items still described as not available --------------------------------


def _all_names_index(package: KnowledgePackage) -> Any:
    """Every item's names (title runs and heads included) mapped to its own id."""
    as_next = [i.model_copy(update={"status": "next"}) for i in package.roadmap]
    return build_index(as_next, "")


def roadmap_findings(package: KnowledgePackage) -> list[Finding]:
    where = (Path(package.root) / "roadmap.yaml").as_posix()
    findings = []
    for item in package.roadmap:
        cue = NOT_AVAILABLE.search(item.say or "")
        if item.status == "available" and cue:
            findings.append(Finding(
                where, item.line, "roadmap-status-conflict",
                f"roadmap item '{item.id}' is available, but its say still describes it as "
                f"not available ('{cue.group()}'); update the approved wording", "error"))
        promise = COMMITTED.search(item.say or "") if item.status in {"later", "never"} else None
        if promise:
            findings.append(Finding(
                where, item.line, "roadmap-status-conflict",
                f"roadmap item '{item.id}' is {item.status}, but its say still describes it as "
                f"committed ('{promise.group()}'); update the approved wording", "error"))
        if item.window and item.status != "next":
            findings.append(Finding(
                where, item.line, "roadmap-stale-window",
                f"roadmap item '{item.id}' is {item.status} but keeps the window "
                f"'{item.window}' (shown only for next items); remove it", "warning"))
    return findings


def understated_findings(package: KnowledgePackage) -> list[Finding]:
    """Document sentences that name an available item and say it is not available yet."""
    available = {i.id for i in package.roadmap if i.status == "available"}
    if not available:
        return []
    index, root = _all_names_index(package), Path(package.root)
    findings: list[Finding] = []
    for document in package.documents:
        for block in document_blocks(root, document):
            findings += _understated_in(block, document, index, available, package.root)
    return findings


def _understated_in(block: Block, document: Document, index: Any, available: set[str],
                    root: str) -> list[Finding]:
    findings = []
    for start, end in split_sentences(block.text):
        sentence = block.text[start:end]
        cue = NOT_AVAILABLE.search(sentence)
        named = {owner for _, _, owner in find_names(sentence, index)
                 if owner != AVAILABLE} & available
        if cue and named:
            severity = "error" if document.kind == "messaging" else "warning"
            items = ", ".join(sorted(named))
            findings.append(Finding(
                (Path(root) / document.path).as_posix(), block.line_of(start),
                "roadmap-status-conflict",
                f"describes available roadmap item(s) {items} as not available "
                f"('{cue.group()}'); roadmap.yaml says available{block.label()}", severity))
    return findings


# -- claims: near-duplicates with different numbers ------------------------------------------


def _figures(text: str) -> frozenset[quantities.Key]:
    return frozenset(quantities.quantity_keys([text]))


def _similarities(texts: list[str], embed: Embed | None) -> np.ndarray:
    if embed is not None:
        vectors = np.asarray(embed(texts), dtype=np.float32)
        return np.asarray(vectors @ vectors.T)
    stems = [content_stems(t) for t in texts]
    size = len(texts)
    matrix = np.zeros((size, size), dtype=np.float32)
    for i, j in combinations(range(size), 2):
        union = stems[i] | stems[j]
        matrix[i, j] = matrix[j, i] = len(stems[i] & stems[j]) / len(union) if union else 0.0
    return matrix


def duplicate_findings(package: KnowledgePackage, today: date,
                       embed: Embed | None) -> list[Finding]:
    claims = package.approved_claims(today)
    if len(claims) < 2:
        return []
    where = (Path(package.root) / "claims.yaml").as_posix()
    similar = _similarities([c.text for c in claims], embed)
    warn_at = DUPLICATE_WARNING if embed is not None else LEXICAL_DUPLICATE
    findings = []
    for i, j in combinations(range(len(claims)), 2):
        a, b = claims[i], claims[j]
        score = float(similar[i, j])
        if score < warn_at or (a.customer or "") != (b.customer or ""):
            continue  # different customers' results are different facts
        figures_a, figures_b = _figures(a.text), _figures(b.text)
        if figures_a == figures_b:
            continue
        severity = "error" if embed is not None and score >= DUPLICATE_ERROR else "warning"
        findings.append(Finding(
            where, b.line, "conflicting-claims",
            f"claims '{a.id}' (line {a.line}) and '{b.id}' say nearly the same thing "
            f"(similarity {score:.2f}) with different figures; keep one", severity))
    return findings


# -- coverage: personas, segments, objections -------------------------------------------------


def coverage_findings(package: KnowledgePackage, today: date) -> list[Finding]:
    where = (Path(package.root) / "icp.yaml").as_posix()
    approved = package.approved_claims(today)
    expired = {c.id for c in package.expired_claims(today)}
    findings = []
    for persona in package.personas:
        if not any(persona.id in c.personas for c in approved):
            findings.append(Finding(where, persona.line, "persona-without-claims",
                                    f"persona '{persona.id}': no approved claim names it",
                                    "warning"))
        for objection in persona.objections:
            ids = objection.answer_claims
            if ids and all(i in expired for i in ids):
                findings.append(Finding(
                    where, objection.line, "objection-expired-claims",
                    f"persona '{persona.id}' objection \"{objection.objection}\" is answered "
                    f"only by expired claims ({', '.join(ids)})", "warning"))
    for segment in package.segments:
        if not any(segment.id in c.segments and c.kind in PROOF_KINDS for c in approved):
            findings.append(Finding(where, segment.line, "segment-without-proof",
                                    f"segment '{segment.id}': no approved proof, customer or "
                                    "stat claim names it", "warning"))
    return findings


# -- the report --------------------------------------------------------------------------------


def _sorted(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.path, f.line, f.rule))


def lint_package(root: Path, today: date | None = None, *, embed: Embed | None = None
                 ) -> LintReport:
    """Lint the package at ``root``. ``embed`` (MiniLM's ``embed_batch``) finds paraphrased
    duplicate claims; without it, near-duplicates are found by word overlap only."""
    today = today or date.today()
    try:
        package = load_package(root)
    except KnowledgeError as exc:
        problems = [p for p in exc.problems if isinstance(p, Problem)]
        return LintReport(errors=[_from_problem(p) for p in problems])
    findings = [
        *expiry_findings(package, today),
        *governance_findings(package, today),
        *roadmap_findings(package),
        *understated_findings(package),
        *duplicate_findings(package, today, embed),
        *coverage_findings(package, today),
    ]
    return LintReport(errors=_sorted(f for f in findings if f.severity == "error"),
                      warnings=_sorted(f for f in findings if f.severity == "warning"))


def rule_counts(findings: Sequence[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.rule] = counts.get(finding.rule, 0) + 1
    return counts
