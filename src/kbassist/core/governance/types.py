"""The result types every rule and workflow shares. Pure data, no behaviour beyond JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kbassist.core.text import Span

RULES = (
    "unapproved-number",
    "unapproved-customer",
    "roadmap-overpromise",
    "banned-phrase",
    "expired-claim",
    "internal-leak",
    "unsupported-sentence",
    "external-link",
    "injected-instruction",
)


WITHHELD = "[withheld: repeats internal text]"  # shown instead of a leaked excerpt


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (character span into the checked text), what, and why."""

    rule: str
    span: Span
    excerpt: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "detail": self.detail,
            "span": [self.span[0], self.span[1]],
            "excerpt": self.excerpt,
        }


@dataclass(frozen=True)
class Verdict:
    violations: tuple[Violation, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.violations

    def rules(self) -> tuple[str, ...]:
        """The distinct rules broken, in RULES order."""
        broken = {v.rule for v in self.violations}
        return tuple(r for r in RULES if r in broken)
