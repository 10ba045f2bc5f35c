"""Knowledge lint: validation errors plus governance-relevant warnings (expiry, staleness).

The validator's problems are errors; expiring claims and stale documents are warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from kbassist.errors import KnowledgeError
from kbassist.knowledge.loader import Problem, load_package
from kbassist.knowledge.models import KnowledgePackage

EXPIRY_WARNING_DAYS = 30


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


def lint_package(root: Path, today: date | None = None) -> LintReport:
    today = today or date.today()
    try:
        package = load_package(root)
    except KnowledgeError as exc:
        problems = [p for p in exc.problems if isinstance(p, Problem)]
        return LintReport(errors=[_from_problem(p) for p in problems])
    return LintReport(warnings=expiry_findings(package, today))
