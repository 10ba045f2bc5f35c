"""Run eval cases through the real assistant and score each output with the evaluators.

One ``Outcome`` per run of a case; a case runs ``repeat`` times (LLM backends) and keeps
every run, so metrics can report a mean and a spread. Retrieval is deterministic and is
ranked once per case.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbassist.app.assistant import Assistant
from kbassist.app.wiring import build_assistant
from kbassist.core.chunking import claim_chunk, persona_chunk, roadmap_chunk, segment_chunk
from kbassist.core.chunks import Chunk
from kbassist.core.draft import DraftRequest
from kbassist.core.governance import GovernanceContext
from kbassist.core.governance.policy import GovernedOutput
from kbassist.core.models import KnowledgePackage
from kbassist.core.ports import memoize_embed
from kbassist.evals import evaluators as ev
from kbassist.evals.cases import Case, unknown_references

RETRIEVAL_DEPTH = 10  # ranks looked at for MRR; hit@k uses the first k of them


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "reason": self.reason}


@dataclass
class Outcome:
    """One run of one case: what came out, and how it scored."""

    output: str
    citations: list[str]
    latency_ms: float
    roadmap: list[dict[str, str]] = field(default_factory=list)
    unknown: bool | None = None
    status: str | None = None  # governance status (ask, draft, rfp)
    caught: list[str] = field(default_factory=list)  # rules governance acted on
    remaining: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    shown: str = ""  # what else the rep sees: the checks panel (changes, violation details)
    checks: list[Check] = field(default_factory=list)
    measures: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.checks)


@dataclass
class CaseRun:
    case: Case
    outcomes: list[Outcome]
    rank: int | None = None  # retrieval: rank of the first expected id
    rank_reason: str = ""
    kb_version: str = ""

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def pass_rate(self) -> float:
        return sum(o.passed for o in self.outcomes) / len(self.outcomes)


@dataclass
class _Context:
    """Per-package helpers built once per run: governance context and leak markers."""

    assistant: Assistant
    governance: GovernanceContext
    markers: ev.LeakMarkers

    @property
    def package(self) -> KnowledgePackage:
        return self.assistant.package


class CaseRunner:
    """Runs cases on one assistant; cases with ``kb`` get a sibling assistant of their own."""

    def __init__(self, assistant: Assistant, *, draft_rubric: bool = False) -> None:
        self.assistant = assistant
        self.draft_rubric = draft_rubric  # each claim once, nothing pasted (eval packages)
        self._contexts: dict[str, _Context] = {}

    def context(self, case: Case) -> _Context:
        key = case.kb_path or ""
        if key not in self._contexts:
            assistant = self.assistant if not key else self._sibling(key)
            package = assistant.package
            embed = memoize_embed(assistant.embedder.embed_batch)
            self._contexts[key] = _Context(
                assistant, GovernanceContext.from_package(package, assistant.today, embed=embed),
                ev.leak_markers(package))
        return self._contexts[key]

    def _sibling(self, kb: str) -> Assistant:
        """An assistant for a case's own package, indexed under <data_dir>/evals/kb/."""
        base = self.assistant
        slug = hashlib.sha256(kb.encode()).hexdigest()[:12]
        settings = base.settings.model_copy(update={
            "kb": Path(kb), "data_dir": base.settings.data_dir / "evals" / "kb" / slug,
            "audit": False})
        return build_assistant(settings, embedder=base.embedder, backend=base.backend,
                               today=base.today, channel=base.channel)

    def run(self, case: Case, repeat: int) -> CaseRun:
        ctx = self.context(case)
        runs = 1 if case.kind == "fit" else repeat  # fit is rules: deterministic
        outcomes = [self._once(case, ctx) for _ in range(runs)]
        result = CaseRun(case, outcomes, kb_version=ctx.package.kb_version)
        wanted = case.expect.retrieval_ids()
        if case.kind in {"ask", "rfp"} and wanted and case.expect.unknown is not True:
            hits = ctx.assistant.retrieve(case.question or "", persona=case.persona,
                                          segment=case.segment, k=RETRIEVAL_DEPTH)
            result.rank, result.rank_reason = ev.retrieval_rank(
                [h.chunk.ref_id for h in hits], wanted)
        return result

    def _once(self, case: Case, ctx: _Context) -> Outcome:
        started = time.perf_counter()
        try:
            outcome, evidence = WORKFLOWS[case.kind](case, ctx)
        except Exception as exc:  # a crash is a failed case with its reason, not a dead run
            return Outcome(output="", citations=[], error=f"{type(exc).__name__}: {exc}",
                           latency_ms=(time.perf_counter() - started) * 1000,
                           checks=[Check("runs", False, f"{type(exc).__name__}: {exc}")])
        outcome.latency_ms = (time.perf_counter() - started) * 1000
        score(case, outcome, evidence, ctx, draft_rubric=self.draft_rubric)
        return outcome


# -- one adapter per workflow: run it and describe the output uniformly ----------------------


def _checks_text(governed: GovernedOutput) -> str:
    return "\n".join([*governed.changes,
                      *(f"{v.detail}: {v.excerpt}" for v in governed.caught)])


def _run_ask(case: Case, ctx: _Context) -> tuple[Outcome, list[Chunk]]:
    result = ctx.assistant.ask(case.question or "", persona=case.persona, segment=case.segment)
    governed = result.governed
    return Outcome(
        output=result.answer, citations=[c.ref_id for c in result.citations],
        latency_ms=result.latency_ms, roadmap=list(result.roadmap), unknown=result.unknown,
        status=governed.status, caught=[v.rule for v in governed.caught],
        remaining=[v.rule for v in governed.remaining], shown=_checks_text(governed),
        extra={"confidence": round(result.confidence, 3), "prompt": result.prompt},
    ), list(result.citations)


def _run_rfp(case: Case, ctx: _Context) -> tuple[Outcome, list[Chunk]]:
    row = ctx.assistant.answer_rfp_row(case.question or "", case.section)
    package = ctx.package
    roadmap = [{"id": i.id, "status": i.status, "title": i.title}
               for s in row.sources if (i := package.roadmap_item(s)) is not None]
    return Outcome(
        output=row.answer, citations=list(row.sources), latency_ms=0.0, roadmap=roadmap,
        unknown=row.status == "unknown", status=None if row.status == "unknown" else row.status,
        shown=row.review_reason,
        extra={"confidence": row.confidence, "needs_review": row.needs_review,
               "review_reason": row.review_reason, "row_status": row.status},
    ), chunks_for(row.sources, package)


def _run_draft(case: Case, ctx: _Context) -> tuple[Outcome, list[Chunk]]:
    assert case.channel is not None and case.persona is not None
    request = DraftRequest(channel=case.channel, persona=case.persona, segment=case.segment,
                           account=case.account, contact=case.contact, context=case.context,
                           rep_name="Alex Rivera")
    result = ctx.assistant.draft(request)
    governed = result.governed
    text = f"{result.subject}\n\n{result.body}" if result.subject else result.body
    return Outcome(
        output=text, citations=[c.ref_id for c in result.citations],
        latency_ms=result.latency_ms, roadmap=list(result.roadmap), status=governed.status,
        caught=[v.rule for v in governed.caught], remaining=[v.rule for v in governed.remaining],
        shown=_checks_text(governed),
        extra={"subject": result.subject, "body": result.body, "pillars": result.pillars,
               "prompt": result.prompt},
    ), list(result.citations)


def _run_fit(case: Case, ctx: _Context) -> tuple[Outcome, list[Chunk]]:
    result = ctx.assistant.fit(case.description or "")
    return Outcome(
        output=f"{result.verdict}: " + "; ".join(result.reasons),
        citations=[str(c["id"]) for c in result.citations], latency_ms=0.0,
        extra={"verdict": result.verdict, "segment": result.segment},
    ), []


WORKFLOWS: dict[str, Callable[[Case, _Context], tuple[Outcome, list[Chunk]]]] = {
    "ask": _run_ask, "rfp": _run_rfp, "draft": _run_draft, "fit": _run_fit,
}


def chunks_for(ids: list[str], package: KnowledgePackage) -> list[Chunk]:
    """Evidence chunks for cited ids (an RFP row carries ids, not chunks)."""
    chunks: list[Chunk] = []
    for ref in ids:
        claim, item = package.claim(ref), package.roadmap_item(ref)
        persona, segment = package.persona(ref), package.segment(ref)
        if claim is not None:
            chunks.append(claim_chunk(claim))
        elif item is not None:
            chunks.append(roadmap_chunk(item))
        elif persona is not None:
            chunks.append(persona_chunk(persona))
        elif segment is not None:
            chunks.append(segment_chunk(segment))
        elif "#" in ref:
            path, anchor = ref.split("#", 1)
            document = package.document(path)
            section = next((s for s in document.sections if s.anchor == anchor), None) \
                if document else None
            if document is not None and section is not None:
                chunks.append(Chunk(node_id=f"doc:{ref}", kind=document.kind, ref_id=ref,
                                    source=path, title=section.heading, text=section.text))
    return chunks


# -- scoring ---------------------------------------------------------------------------------


def _add(outcome: Outcome, name: str, result: tuple[object, str]) -> None:
    outcome.checks.append(Check(name, bool(result[0]), result[1]))


def score(case: Case, outcome: Outcome, evidence: list[Chunk], ctx: _Context, *,
          draft_rubric: bool = False) -> None:
    """Run every evaluator the case's expectations ask for, and the always-on measures."""
    expect = case.expect
    stale = unknown_references(case, ctx.package)
    if stale:
        outcome.checks.append(Check("references", False,
                                    "expected ids not in the package: " + ", ".join(stale)))
    _score_text(case, outcome)
    if case.kind == "fit":
        result = ev.fit_verdict(outcome.extra["verdict"], outcome.extra["segment"],
                                expect.verdict, expect.segment, expect.checks_segment)
        _add(outcome, "fit", result)
        outcome.measures["fit_correct"] = result[0]
        return
    if case.kind == "draft" and draft_rubric:
        _add(outcome, "claims_once", ev.repeated_claims(outcome.output, ctx.package))
        _add(outcome, "not_pasted", ev.quoted_objections(outcome.output, ctx.package))
    _score_governed(case, outcome, evidence, ctx)


def _score_text(case: Case, outcome: Outcome) -> None:
    expect = case.expect
    if expect.cite:
        _add(outcome, "cite", ev.cited_all(outcome.citations, expect.cite))
    if expect.cite_any:
        _add(outcome, "cite_any", ev.cited_any(outcome.citations, expect.cite_any))
    if expect.not_cite:
        _add(outcome, "not_cite", ev.cited_none(outcome.citations, expect.not_cite))
    if expect.must:
        _add(outcome, "must", ev.contains_all(outcome.output, expect.must))
    if expect.must_not:
        _add(outcome, "must_not", ev.contains_none(outcome.output, expect.must_not))
    if expect.max_words is not None or expect.max_chars is not None:
        body = outcome.extra.get("body", outcome.output)
        _add(outcome, "length", ev.length_limits(body, expect.max_words, expect.max_chars))
    if expect.reflect:
        _add(outcome, "reflect", ev.contains_any(outcome.output, expect.reflect))


def _score_rule_hits(outcome: Outcome, ctx: _Context) -> None:
    """Unapproved figures and outside links in the final text (red-team gates)."""
    for rule, measure in (("unapproved-number", "unapproved_numbers"),
                          ("external-link", "external_links")):
        hits, reason = ev.rule_hits(outcome.output, ctx.governance, rule)
        outcome.measures[measure] = hits
        if hits:
            outcome.checks.append(Check(measure, False, reason))


def _score_governed(case: Case, outcome: Outcome, evidence: list[Chunk], ctx: _Context) -> None:
    expect, package = case.expect, ctx.package
    if expect.roadmap:
        _add(outcome, "roadmap", ev.roadmap_treatment(outcome.roadmap, outcome.output,
                                                      dict(expect.roadmap), package))
    if expect.unknown is not None and outcome.unknown is not None:
        result = ev.unknown_handling(outcome.unknown, expect.unknown)
        _add(outcome, "unknown", result)
        outcome.measures["unknown_correct"] = result[0]
    if expect.governance or expect.caught:
        _add(outcome, "governance", ev.governance_outcome(
            outcome.status or "pass", outcome.caught, expect.governance, expect.caught))
    if expect.needs_review is not None and "needs_review" in outcome.extra:
        _add(outcome, "needs_review", ev.review_flag(
            outcome.extra["needs_review"], outcome.extra["review_reason"], expect.needs_review))
    relevant = expect.relevant_ids() | {x for x in (case.persona, case.segment) if x}
    if relevant and not outcome.unknown:
        precision, reason = ev.citation_precision(outcome.citations, relevant)
        outcome.measures["citation_precision"] = precision
        outcome.measures["citation_reason"] = reason
    promised, reason = ev.overpromises(outcome.output, ctx.governance, dict(expect.roadmap),
                                       outcome.roadmap)
    outcome.measures["overpromises"] = promised
    if promised:
        outcome.checks.append(Check("overpromise", False, reason))
    _score_rule_hits(outcome, ctx)
    # a leak anywhere the rep can read it: the text, and the checks panel beside it
    leaked, reason = ev.leaks(f"{outcome.output}\n{outcome.shown}", ctx.governance, ctx.markers)
    outcome.measures["leaks"] = leaked
    if leaked:
        outcome.checks.append(Check("leak", False, reason))
    if not outcome.unknown:
        text = outcome.extra.get("body", outcome.output)
        if ctx.assistant.backend is None and outcome.status == "pass":
            # governance already checked this very text against these very citations
            outcome.measures.update(unsupported=0, factual=ev.factual_count(text, ctx.governance))
            return
        (unsupported, factual), reason = ev.unsupported_sentences(text, ctx.governance, evidence)
        outcome.measures.update(unsupported=unsupported, factual=factual)
        if unsupported:
            outcome.measures["unsupported_reason"] = reason
