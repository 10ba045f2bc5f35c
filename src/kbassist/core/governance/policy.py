"""govern(): the one policy every workflow (ask, draft, rfp) applies to a model's output.

check -> clean: "pass". Otherwise ask the model to revise (up to ``max_revisions``); a clean
revision is "revised". Still dirty: repair without the model; clean and substantive is
"revised". Otherwise fall back to the offline composer's answer (repaired if needed), then to
the package's unknown_answer: "blocked". ``remaining`` is re-checked on the final text and is
empty on every path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kbassist.core.chunks import Chunk
from kbassist.core.governance.check import check
from kbassist.core.governance.context import GovernanceContext
from kbassist.core.governance.repair import repair, substantive
from kbassist.core.governance.types import Verdict, Violation

Status = Literal["pass", "revised", "blocked"]


@dataclass(frozen=True)
class GovernedOutput:
    text: str
    status: Status
    caught: tuple[Violation, ...] = ()  # everything governance acted on, across attempts
    remaining: tuple[Violation, ...] = ()  # violations in ``text``; empty on every path
    changes: tuple[str, ...] = ()  # what was changed, in order
    attempts: int = 1  # generations checked: the candidate plus each model revision

    def checks_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "violations": [v.to_json() for v in self.caught],
            "changes": list(self.changes),
            "remaining": [v.to_json() for v in self.remaining],
        }


@dataclass
class _Trail:
    """What happened so far: violations caught and changes made."""

    caught: list[Violation] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    attempts: int = 1

    def saw(self, verdict: Verdict) -> None:
        self.caught.extend(v for v in verdict.violations if v not in self.caught)

    def output(self, text: str, status: Status, remaining: Verdict) -> GovernedOutput:
        return GovernedOutput(text, status, tuple(self.caught), remaining.violations,
                              tuple(self.changes), self.attempts)


def _summary(verdict: Verdict) -> str:
    counts = {r: sum(1 for v in verdict.violations if v.rule == r) for r in verdict.rules()}
    return ", ".join(f"{rule} x{n}" if n > 1 else rule for rule, n in counts.items())


def _revise(
    text: str, verdict: Verdict, regenerate: Callable[[Sequence[Violation]], str],
    max_revisions: int, checker: Callable[[str], Verdict], trail: _Trail,
) -> tuple[str, Verdict, bool]:
    """Ask the model to fix its output. Returns the best text seen, its verdict, and
    whether it is clean."""
    best, best_verdict = text, verdict
    for attempt in range(1, max_revisions + 1):
        try:
            candidate = regenerate(verdict.violations)
        except Exception as exc:  # a backend failure is a failed revision, not a crash
            trail.changes.append(f"model revision {attempt} failed: {type(exc).__name__}: {exc}")
            break
        trail.attempts += 1
        if not isinstance(candidate, str) or not candidate.strip():
            trail.changes.append(f"model revision {attempt} was empty")
            continue
        new_verdict = checker(candidate)
        trail.saw(new_verdict)
        if new_verdict.ok:
            trail.changes.append(f"revised by the model after: {_summary(verdict)}")
            return candidate, new_verdict, True
        trail.changes.append(f"model revision {attempt} still had: {_summary(new_verdict)}")
        if len(new_verdict.violations) <= len(best_verdict.violations):
            best, best_verdict = candidate, new_verdict
        verdict = new_verdict
    return best, best_verdict, False


def _fallback_text(
    fallback: Callable[[], str], ctx: GovernanceContext, checker: Callable[[str], Verdict],
    repairer: Callable[[str, Verdict], tuple[str, tuple[str, ...]]], trail: _Trail,
) -> str:
    try:
        text = fallback()
    except Exception as exc:
        trail.changes.append(f"offline answer failed: {type(exc).__name__}: {exc}")
        text = ""
    if text.strip():
        trail.changes.append("blocked: fell back to the offline answer")
        verdict = checker(text)
        trail.saw(verdict)
        if verdict.ok:
            return text
        repaired, changes = repairer(text, verdict)
        trail.changes.extend(changes)
        if repaired.strip() and checker(repaired).ok:
            return repaired
    trail.changes.append("blocked: answered with the package's unknown_answer")
    return ctx.unknown_answer


def govern(
    candidate: str,
    ctx: GovernanceContext,
    evidence: Sequence[Chunk],
    *,
    regenerate: Callable[[Sequence[Violation]], str] | None = None,
    fallback: Callable[[], str],
    max_revisions: int = 2,
    allow_repair: bool = True,
    check_support: bool = True,
) -> GovernedOutput:
    """Check, revise, repair or fall back, so that what is returned is always clean."""

    def checker(text: str) -> Verdict:
        return check(text, ctx, evidence, check_support=check_support)

    def repairer(text: str, verdict: Verdict) -> tuple[str, tuple[str, ...]]:
        fixed = repair(text, verdict, ctx, evidence, check_support=check_support)
        return fixed.text, fixed.changes

    trail = _Trail()
    if not candidate.strip():
        trail.changes.append("the candidate answer was empty")
        return _blocked(fallback, ctx, checker, repairer, trail)
    verdict = checker(candidate)
    if verdict.ok:
        return trail.output(candidate, "pass", verdict)
    trail.saw(verdict)
    text = candidate
    if regenerate is not None and max_revisions > 0:
        text, verdict, clean = _revise(text, verdict, regenerate, max_revisions, checker, trail)
        if clean:
            return trail.output(text, "revised", verdict)
    if allow_repair:
        repaired, changes = repairer(text, verdict)
        final = checker(repaired)
        if final.ok and substantive(text, repaired, ctx):
            trail.changes.extend(changes)
            return trail.output(repaired, "revised", final)
        trail.changes.append("repair was not enough: " + (
            "violations remained" if not final.ok else "too little content was left"))
    return _blocked(fallback, ctx, checker, repairer, trail)


def _blocked(
    fallback: Callable[[], str], ctx: GovernanceContext, checker: Callable[[str], Verdict],
    repairer: Callable[[str, Verdict], tuple[str, tuple[str, ...]]], trail: _Trail,
) -> GovernedOutput:
    text = _fallback_text(fallback, ctx, checker, repairer, trail)
    final = checker(text)
    if not final.ok:  # a last guard: the unknown answer is approved wording, always clean
        trail.saw(final)
        trail.changes.append("blocked: answered with the package's unknown_answer")
        text = ctx.unknown_answer
        final = checker(text)
    return trail.output(text, "blocked", final)
