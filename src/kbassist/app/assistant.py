"""The use-case layer. ``build_assistant(settings)`` is the one place that wires backends;
the CLI, the UI, evals and tests all go through it.

Every text a rep may send (ask answers, RFP answers, drafts) passes through ``_governed``:
the offline composer or an LLM writes a candidate, then governance checks it and revises,
repairs or blocks it, falling back to the offline answer. Each output is announced to the
listeners (the audit log) as an OutputRecord.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from kbassist.adapters.index import IndexSummary, KnowledgeIndex
from kbassist.adapters.package.loader import (
    FingerprintCache,
    ParseCache,
    load_package,
    package_fingerprint,
)
from kbassist.adapters.package_cache import PackageCache
from kbassist.adapters.retrieval import HybridRetriever
from kbassist.app.generation import Generation, governed_generation, system_prompts
from kbassist.app.settings import Settings
from kbassist.core.chunking import claim_chunk, persona_chunk, roadmap_chunk, segment_chunk
from kbassist.core.chunks import Chunk, Hit
from kbassist.core.composer import Composed, Composer, implied_roadmap
from kbassist.core.draft import (
    Draft,
    DraftPlan,
    DraftRequest,
    enforce_channel_limits,
    plan_draft,
    write_offline,
)
from kbassist.core.errors import IndexError_, KnowledgeError, UsageError
from kbassist.core.fit import FitResult, assess_fit
from kbassist.core.governance import GovernanceContext, GovernedOutput, check
from kbassist.core.llm import LLMBackend
from kbassist.core.models import KnowledgePackage
from kbassist.core.ports import Embed, Embedder, memoize_embed
from kbassist.core.results import (
    LOW_CONFIDENCE,
    AskResult,
    AuditSink,
    DraftResult,
    OutputRecord,
    RowAnswer,
)
from kbassist.core.roadmap_policy import find_mentions

PROSPECT_NODE = "request:prospect"
# Inputs are bounded (OWASP LLM10, unbounded consumption): a pasted document or a scripted
# megabyte would otherwise go whole into every prompt and governance pass.
MAX_INPUT_CHARS = 4000  # a question, a draft's context, a prospect description
MAX_FIELD_CHARS = 200  # a draft's account, contact, rep name


def bounded(what: str, text: str | None, limit: int = MAX_INPUT_CHARS) -> None:
    if text is not None and len(text) > limit:
        raise UsageError(f"the {what} is {len(text):,} characters long; at most {limit:,} "
                         "are allowed")


@dataclass(frozen=True)
class _State:
    fingerprint: str
    package: KnowledgePackage
    retriever: HybridRetriever
    governance: GovernanceContext
    embed: Embed


FRESHNESS_FILES = 1000  # documents from which edits are looked for at most ...
FRESHNESS_INTERVAL_S = 1.0  # ... once per this many seconds


class Assistant:
    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder,
        backend: LLMBackend | None,
        today: date | None = None,
        index: KnowledgeIndex,
        packages: PackageCache,
        audit: AuditSink | None = None,
        channel: str = "cli",
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.backend = backend
        self.channel = channel
        self._today = today
        self.index = index
        self.packages = packages
        self.audit = audit
        self.warnings: list[str] = []
        self._lock = threading.RLock()
        self._state: _State | None = None
        self._fingerprints = FingerprintCache()
        self._checked_at = 0.0
        self._parsed = ParseCache()  # re-index re-parses only changed files

    @property
    def today(self) -> date:
        return self._today or date.today()

    @property
    def backend_name(self) -> str:
        return self.backend.name if self.backend else "offline"

    @property
    def model_name(self) -> str:
        return self.backend.model if self.backend else "composer"

    # -- knowledge and index -------------------------------------------------------------

    def reindex(self, *, progress: bool = False) -> IndexSummary:
        """Validate the package, then index it. A broken package raises and changes nothing."""
        package = load_package(self.settings.kb, cache=self._parsed)
        summary = self.index.build(package, progress=progress)
        self.packages.save(package)
        with self._lock:
            self._state = None
        return summary

    def _ensure_state(self) -> _State:
        with self._lock:
            # One stat per file is ~30-80 ms at 5,000 files: a package that large is checked
            # for edits at most once per FRESHNESS_INTERVAL_S, smaller ones on every call.
            now = time.monotonic()
            if (self._state is not None and now - self._checked_at < FRESHNESS_INTERVAL_S
                    and len(self._fingerprints.documents) >= FRESHNESS_FILES):
                return self._state
            wanted = package_fingerprint(self.settings.kb, self._fingerprints)
            self._checked_at = now
            if self._state is not None and self._state.fingerprint == wanted:
                return self._state
            serving = self.index.current_version()
            if serving != wanted:
                self._refresh_index(serving)
                serving = self.index.current_version()
            if serving is None:
                raise IndexError_("no index yet: run 'kbassist index'")
            package = self.packages.load(serving) or load_package(self.settings.kb)
            embed = memoize_embed(self.embedder.embed_batch)
            governance = GovernanceContext.from_package(
                package, self.today, embed=embed, extra_internal=system_prompts())
            self._state = _State(wanted, package, self.index.open_retriever(), governance, embed)
            return self._state

    def _refresh_index(self, serving: str | None) -> None:
        """Index lazily; if the package is broken, keep serving the old index and say so."""
        try:
            self.reindex(progress=False)
        except KnowledgeError as exc:
            if serving is None:
                raise
            warning = (f"the knowledge package has {len(exc.problems)} error(s) (run "
                       f"'kbassist lint'); still serving the previous index {serving}")
            if warning not in self.warnings:
                self.warnings.append(warning)
                print(f"warning: {warning}", file=sys.stderr)

    @property
    def package(self) -> KnowledgePackage:
        return self._ensure_state().package

    def retrieve(
        self, query: str, *, persona: str | None = None, segment: str | None = None,
        kinds: Sequence[str] | None = None, k: int | None = None,
    ) -> list[Hit]:
        return self._ensure_state().retriever.retrieve(
            query, k or self.settings.top_k, kinds=kinds, persona=persona, segment=segment,
            exclude_expired_on=self.today,
        )

    # -- ask and rfp ---------------------------------------------------------------------

    def ask(self, question: str, *, persona: str | None = None, segment: str | None = None,
            workflow: str = "ask") -> AskResult:
        started = time.perf_counter()
        bounded("question", question)
        state = self._ensure_state()
        hits = self.retrieve(question, persona=persona, segment=segment)
        composed = Composer(state.package, self.today).answer(question, hits)
        audience = " / ".join(x for x in (persona, segment) if x) or "not specified"
        prompt_id = "rfp" if workflow == "rfp" else "ask"
        variables = {"question": question} | ({"audience": audience} if prompt_id == "ask" else {})
        generation = Generation(
            prompt_id=prompt_id, variables=variables, task=f"Answer this question: {question}",
            evidence=_evidence(hits, composed), offline_text=composed.text,
            offline_cited=composed.cited)
        if composed.unknown:  # never let a model guess where the package is silent
            generation.evidence = []
        text, cited, governed, prompt = self._governed(state, generation, llm=not composed.unknown)
        result = AskResult(
            answer=text, citations=cited,
            roadmap=_roadmap_refs(state.package, question, cited), governed=governed,
            backend=self.backend_name, model=self.model_name,
            kb_version=state.package.kb_version, prompt=prompt, unknown=composed.unknown,
            confidence=_confidence(hits, composed, governed),
            latency_ms=(time.perf_counter() - started) * 1000,
            notes=list(composed.notes) + self.warnings,
        )
        result.output_id = self._emit(OutputRecord(
            workflow=workflow, inputs={"question": question}, output=result.answer,
            citations=[c.ref_id for c in cited], checks=governed.checks_json(),
            backend=self.backend_name, model=self.model_name, prompt=prompt,
            kb_version=result.kb_version, latency_ms=result.latency_ms, channel=self.channel,
            persona=persona, segment=segment, roadmap=tuple(result.roadmap),
            unknown=result.unknown, confidence=result.confidence))
        return result

    def answer_rfp_row(self, question: str, section: str | None) -> RowAnswer:
        """One RFP or questionnaire row: a governed answer plus a confidence and review flag."""
        del section  # the question carries the topic; section names skew retrieval
        if len(question) > MAX_INPUT_CHARS:  # one odd row must not stop the batch
            return RowAnswer(
                answer=self._ensure_state().package.config.policy.unknown_answer, sources=[],
                confidence=0.0, needs_review=True, status="unknown",
                review_reason=f"the question is longer than {MAX_INPUT_CHARS:,} characters: "
                              "not answered automatically")
        result = self.ask(question, workflow="rfp")
        reasons = _review_reasons(result)
        return RowAnswer(
            answer=result.answer,
            sources=list(dict.fromkeys(c.ref_id for c in result.citations)),
            confidence=round(result.confidence, 2),
            needs_review=bool(reasons),
            review_reason="; ".join(reasons),
            status="unknown" if result.unknown else result.governed.status,
        )

    # -- draft ---------------------------------------------------------------------------

    def draft(self, request: DraftRequest) -> DraftResult:
        started = time.perf_counter()
        bounded("context", request.context)
        for what in ("account", "contact", "rep_name"):
            bounded(what.replace("_", " "), getattr(request, what), MAX_FIELD_CHARS)
        state = self._ensure_state()
        package = state.package
        plan = plan_draft(package, request, self.today, rank=self._ranker(state))
        if request.context and not plan.roadmap:
            plan.roadmap = implied_roadmap(self.retrieve(request.context), package,
                                           request.context)
        offline = write_offline(package, plan, request)
        evidence = _draft_evidence(package, plan, request)
        variables = {
            "channel": request.channel, "persona": plan.persona.name,
            "segment": plan.segment_name or "not specified",
            "account": request.account or "not specified",
            "contact": request.contact or "not specified",
            "context": request.context or "none",
        }
        generation = Generation(
            prompt_id="draft", variables=variables,
            task=f"Write a {request.channel} message to {request.contact or 'a prospect'} "
                 f"(persona: {plan.persona.name}); an email starts with a Subject line",
            evidence=evidence, offline_text=offline.body, offline_cited=evidence)
        subject_seen: list[str] = []

        def body_only(text: str) -> str:  # an LLM email starts with its Subject line
            shaped = _split_draft(_shape_draft(text, request), request)
            subject_seen.append(shaped.subject)
            return shaped.body

        text, cited, governed, prompt = self._governed(
            state, generation, llm=True, rep_name=request.rep_name, shape=body_only)
        used_llm = prompt["id"] == "draft" and governed.status != "blocked"
        llm_subject = subject_seen[-1] if subject_seen and used_llm else ""
        subject = (llm_subject or offline.subject) if request.channel == "email" else ""
        final = Draft(subject, text)
        if final.subject:
            subject, governed = self._govern_subject(state, final.subject, offline.subject,
                                                     evidence, governed)
            final = Draft(subject, final.body)
        cited = [c for c in cited if c.node_id != PROSPECT_NODE and (
            c.kind != "claim" or c.text in text or self.backend is not None)]
        result = DraftResult(
            channel=request.channel, subject=final.subject, body=final.body, citations=cited,
            governed=governed, backend=self.backend_name, model=self.model_name,
            kb_version=package.kb_version, prompt=prompt, pillars=plan.pillars,
            roadmap=[{"id": i.id, "status": i.status, "title": i.title} for i in plan.roadmap],
            latency_ms=(time.perf_counter() - started) * 1000)
        result.output_id = self._emit(OutputRecord(
            workflow="draft", inputs=_draft_inputs(request), output=final.as_text(),
            citations=[c.ref_id for c in cited], checks=governed.checks_json(),
            backend=self.backend_name, model=self.model_name, prompt=prompt,
            kb_version=package.kb_version, latency_ms=result.latency_ms, channel=self.channel,
            persona=request.persona, segment=request.segment, roadmap=tuple(result.roadmap)))
        return result

    def _govern_subject(
        self, state: _State, subject: str, offline_subject: str, evidence: Sequence[Chunk],
        governed: GovernedOutput,
    ) -> tuple[str, GovernedOutput]:
        """Every rule but the support detector applies to a subject line: it is a template
        line of ICP wording and the rep's account name, not a claim needing evidence."""
        verdict = check(subject, state.governance, evidence, check_support=False)
        if verdict.ok:
            return subject, governed
        fallback = offline_subject
        if not check(fallback, state.governance, evidence, check_support=False).ok:
            fallback = state.package.config.product
        change = f"replaced the subject line “{subject}” ({', '.join(verdict.rules())})"
        status = "revised" if governed.status == "pass" else governed.status
        return fallback, replace(governed, status=status,
                                 caught=governed.caught + verdict.violations,
                                 changes=governed.changes + (change,))

    def _ranker(self, state: _State) -> Callable[[str, Sequence[str]], Sequence[float]]:
        def rank(query: str, texts: Sequence[str]) -> Sequence[float]:
            vectors = state.embed([query, *texts])
            return [float(v) for v in vectors[1:] @ vectors[0]]

        return rank

    # -- fit -----------------------------------------------------------------------------

    def fit(self, description: str) -> FitResult:
        started = time.perf_counter()
        bounded("prospect description", description)
        state = self._ensure_state()
        result = assess_fit(description, state.package, embed=state.embed)
        output_id = self._emit(OutputRecord(
            workflow="fit", inputs={"description": description},
            output=f"{result.verdict}: " + "; ".join(result.reasons),
            citations=[str(c["id"]) for c in result.citations],
            checks={"status": "pass", "violations": [], "changes": []},
            backend="offline", model="icp-rules", prompt={"id": "fit-rules", "version": 1},
            kb_version=state.package.kb_version,
            latency_ms=(time.perf_counter() - started) * 1000, channel=self.channel,
            segment=result.segment))
        return replace(result, output_id=output_id)

    # -- the one governed generation path ------------------------------------------------

    def _governed(
        self, state: _State, gen: Generation, *, llm: bool, rep_name: str | None = None,
        shape: Callable[[str], str] = lambda text: text,
    ) -> tuple[str, list[Chunk], GovernedOutput, dict[str, Any]]:
        return governed_generation(
            self.backend if llm else None, gen, state.package, state.governance,
            max_revisions=self.settings.max_revisions, rep_name=rep_name, shape=shape)

    def _emit(self, record: OutputRecord) -> int | None:
        """Record an output; its audit id (None with the audit log off) goes on the result."""
        return self.audit.record(record) if self.audit is not None else None


def _confidence(hits: Sequence[Hit], composed: Composed, governed: GovernedOutput) -> float:
    """0-1: how close the best evidence is to the question (MiniLM cosine, rescaled from
    0.20-0.50 to 0-1: question-to-passage cosines of good matches sit around 0.35-0.6),
    discounted when governance had to intervene. Unknown is 0."""
    if composed.unknown:
        return 0.0
    best = max((h.dense_score or 0.0 for h in hits), default=0.0)
    if composed.roadmap:
        best = max(best, 0.50)  # named roadmap items are answered from their approved wording
    closeness = min(1.0, max(0.0, (best - 0.20) / 0.30))
    penalty = {"pass": 1.0, "revised": 0.8, "blocked": 0.5}[governed.status]
    return closeness * penalty


def _review_reasons(result: AskResult) -> list[str]:
    reasons = []
    if result.unknown:
        reasons.append("unknown")
    if any(item["status"] != "available" for item in result.roadmap):
        reasons.append("roadmap item")
    if result.governed.status != "pass":
        reasons.append("violation")
    if not result.unknown and result.confidence < LOW_CONFIDENCE:
        reasons.append("low confidence")
    return reasons


def _evidence(hits: Sequence[Hit], composed: Composed) -> list[Chunk]:
    chunks = [c for c in composed.cited if c.kind == "roadmap"]
    for hit in hits:
        if hit.chunk not in chunks:
            chunks.append(hit.chunk)
    return chunks


def _roadmap_refs(
    package: KnowledgePackage, question: str, cited: Sequence[Chunk]
) -> list[dict[str, str]]:
    ids = [c.ref_id for c in cited if c.kind == "roadmap"]
    ids += [i.id for i in find_mentions(question, package.roadmap) if i.id not in ids]
    items = [package.roadmap_item(i) for i in ids]
    return [{"id": i.id, "status": i.status, "title": i.title} for i in items if i is not None]


def _draft_evidence(
    package: KnowledgePackage, plan: DraftPlan, request: DraftRequest
) -> list[Chunk]:
    chunks = [claim_chunk(c) for c in plan.claims()]
    chunks += [roadmap_chunk(item) for item in plan.roadmap]
    persona = package.persona(request.persona)
    if persona is not None:
        chunks.append(persona_chunk(persona))
    segment = package.segment(request.segment) if request.segment else None
    if segment is not None:
        chunks.append(segment_chunk(segment))
    prospect = [f"Account: {request.account}." if request.account else "",
                f"Contact: {request.contact}." if request.contact else ""]
    if any(prospect):  # the rep's own inputs: names a draft may use, never cited
        chunks.append(Chunk(node_id=PROSPECT_NODE, kind="icp", ref_id="prospect",
                            source="request", title="prospect", text=" ".join(prospect)))
    return chunks


def _draft_inputs(request: DraftRequest) -> dict[str, Any]:
    return {"channel": request.channel, "persona": request.persona, "segment": request.segment,
            "account": request.account, "contact": request.contact, "context": request.context}


def _split_draft(text: str, request: DraftRequest) -> Draft:
    """Separate an email's subject line (first line) from its body."""
    if request.channel != "email":
        return Draft("", text.strip())
    head, _, body = text.strip().partition("\n")
    subject = re.sub(r"^\s*subject\s*:\s*", "", head, flags=re.I).strip()
    return Draft(subject, body.strip())


def _shape_draft(text: str, request: DraftRequest) -> str:
    """Enforce the channel's hard limits on whatever a model wrote."""
    draft = enforce_channel_limits(_split_draft(text, request), request.channel)
    return draft.as_text()


