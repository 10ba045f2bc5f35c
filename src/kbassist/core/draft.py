"""Outreach drafts: pick what to say for a persona and segment, then fill a channel template.

Pure core. The planner chooses only approved, unexpired claims that apply to the persona and
segment; proof points (proof, customer, stat) must be allowed for the segment. The offline
writer fills fixed templates with that approved wording, so it never invents anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from kbassist.core.composer import content_words
from kbassist.core.errors import UsageError
from kbassist.core.models import (
    PROOF_KINDS,
    Claim,
    KnowledgePackage,
    Objection,
    Persona,
    RoadmapItem,
)
from kbassist.core.roadmap_policy import approved_wording, find_mentions
from kbassist.core.text import prose_sentences

Channel = Literal["email", "linkedin", "call-opener"]
CHANNELS: tuple[Channel, ...] = ("email", "linkedin", "call-opener")
LINKEDIN_MAX_CHARS = 300
CALL_OPENER_MAX_WORDS = 75  # about 30 seconds at a speaking pace of 150 words a minute
EMAIL_MAX_WORDS = 220

# Scores claims against a query: returns one similarity per claim (higher is closer).
Ranker = Callable[[str, Sequence[str]], Sequence[float]]


@dataclass(frozen=True)
class DraftRequest:
    channel: Channel
    persona: str
    segment: str | None = None
    account: str | None = None
    contact: str | None = None
    context: str | None = None
    rep_name: str | None = None


@dataclass
class DraftPlan:
    persona: Persona
    segment_name: str | None
    pains: list[str]
    lead: list[Claim]
    proof: list[Claim]
    objections: list[tuple[Objection, Claim]]
    roadmap: list[RoadmapItem]
    context_claims: list[Claim] = field(default_factory=list)

    @property
    def pillars(self) -> list[str]:
        seen: list[str] = []
        for claim in [*self.lead, *self.proof]:
            if claim.pillar and claim.pillar not in seen:
                seen.append(claim.pillar)
        return seen

    def claims(self) -> list[Claim]:
        ordered: list[Claim] = []
        for claim in [*self.lead, *self.proof, *(c for _, c in self.objections),
                      *self.context_claims]:
            if claim not in ordered:
                ordered.append(claim)
        return ordered


@dataclass(frozen=True)
class Draft:
    subject: str
    body: str

    def as_text(self) -> str:
        return f"{self.subject}\n\n{self.body}" if self.subject else self.body


def lexical_ranker(query: str, texts: Sequence[str]) -> list[float]:
    wanted = content_words(query)
    return [len(wanted & content_words(t)) / (len(wanted) or 1) for t in texts]


def plan_draft(
    package: KnowledgePackage, request: DraftRequest, today: date, rank: Ranker = lexical_ranker
) -> DraftPlan:
    persona = package.persona(request.persona)
    if persona is None:
        known = ", ".join(p.id for p in package.personas)
        raise UsageError(f"unknown persona '{request.persona}' (known: {known})")
    segment = package.segment(request.segment) if request.segment else None
    if request.segment and segment is None:
        known = ", ".join(s.id for s in package.segments)
        raise UsageError(f"unknown segment '{request.segment}' (known: {known})")
    usable = [c for c in package.approved_claims(today)
              if c.applies_to(persona.id, segment.id if segment else None)]
    cares = "; ".join(persona.cares_about) or persona.name
    value_claims = [c for c in usable if c.kind not in PROOF_KINDS]
    segment_id = segment.id if segment else None
    lead = _top(value_claims, cares, rank, 2, persona=persona.id, segment=segment_id)
    proof_query = cares + "; " + "; ".join(segment.pains if segment else [])
    proof = _top([c for c in usable if c.kind in PROOF_KINDS], proof_query, rank, 1,
                 persona=persona.id, segment=segment_id)
    objections = _objection_answers(package, persona, usable)
    context = request.context or ""
    mentioned = find_mentions(context, package.roadmap)
    context_claims = _top(usable, context, rank, 1, floor=0.35) if context and not mentioned else []
    return DraftPlan(persona=persona, segment_name=segment.name if segment else None,
                     pains=list(segment.pains) if segment else [], lead=lead, proof=proof,
                     objections=objections, roadmap=mentioned, context_claims=context_claims)


# Claims written for this persona or segment outrank general ones of similar relevance.
TARGETED_BONUS = 0.15


def _top(claims: list[Claim], query: str, rank: Ranker, count: int, floor: float = 0.0,
         persona: str | None = None, segment: str | None = None) -> list[Claim]:
    if not claims or not query.strip():
        return []
    scores = [
        score + TARGETED_BONUS * ((persona in c.personas) + (segment in c.segments))
        for score, c in zip(rank(query, [c.text for c in claims]), claims, strict=True)
    ]
    ranked = sorted(zip(scores, range(len(claims)), claims, strict=True),
                    key=lambda t: (-t[0], t[1]))
    return [claim for score, _, claim in ranked[:count] if score >= floor]


def _objection_answers(
    package: KnowledgePackage, persona: Persona, usable: list[Claim]
) -> list[tuple[Objection, Claim]]:
    allowed = {c.id: c for c in usable}
    answers: list[tuple[Objection, Claim]] = []
    for objection in persona.objections:
        claim = next((allowed[i] for i in objection.answer_claims if i in allowed), None)
        if claim is not None:
            answers.append((objection, claim))
    return answers


def _greeting(request: DraftRequest) -> str:
    return f"Hi {request.contact.split()[0]}," if request.contact else "Hi there,"


def _roadmap_lines(plan: DraftPlan, disclaimer: str, *, with_window: bool = True) -> list[str]:
    """Roadmap items the prospect asked about, in their approved wording and nothing else."""
    return [approved_wording(item, disclaimer, with_window=with_window) for item in plan.roadmap]


def write_offline(package: KnowledgePackage, plan: DraftPlan, request: DraftRequest) -> Draft:
    """Fill the channel's template with approved wording only."""
    config = package.config
    sign_off = config.voice.sign_off.replace("{rep_name}", request.rep_name or "[your name]")
    disclaimer = config.policy.roadmap_disclaimer
    lead = [c.text for c in plan.lead]
    hook = (f"Teams like yours often tell us about {plan.pains[0].rstrip('.').lower()}."
            if plan.pains else "")
    roadmap = _roadmap_lines(plan, disclaimer)
    context = [c.text for c in plan.context_claims]
    if request.channel == "email":
        return _email(package, plan, request, hook, lead, roadmap, context, sign_off)
    if request.channel == "linkedin":
        greeting = _greeting(request) + "\n\n"
        roadmap = _roadmap_lines(plan, disclaimer, with_window=False)  # 300 characters
        sentences = [*roadmap[:1], *(lead[:1] if not roadmap else []), "Open to a quick chat?"]
        if roadmap and len(greeting) + len(" ".join(sentences)) > LINKEDIN_MAX_CHARS:
            # Approved wording is never cut short: defer the item to the call instead.
            title = plan.roadmap[0].title.lower()
            sentences = [f"Happy to walk you through where {title} stands on a quick call."]
        return Draft("", greeting + fit_chars(sentences, LINKEDIN_MAX_CHARS - len(greeting)))
    opener = [f"{_greeting(request)[:-1]}, this is {request.rep_name or '[your name]'} from "
              f"{config.company}.", hook, *roadmap[:1], *lead[:1],
              "Is that something on your list this quarter?"]
    return Draft("", fit_words([s for s in opener if s], CALL_OPENER_MAX_WORDS))


def _email(package: KnowledgePackage, plan: DraftPlan, request: DraftRequest, hook: str,
           lead: list[str], roadmap: list[str], context: list[str], sign_off: str) -> Draft:
    focus = plan.persona.cares_about[0] if plan.persona.cares_about else package.config.product
    subject = f"{package.config.product}: {focus}"
    if request.account:
        subject += f" at {request.account}"
    paragraphs = [_greeting(request), " ".join(s for s in [hook, *lead] if s)]
    if plan.proof:
        paragraphs.append(plan.proof[0].text)
    if roadmap or context:
        paragraphs.append(" ".join(roadmap + context))
    if plan.objections:
        objection, claim = plan.objections[0]
        paragraphs.append(f"If {_as_concern(objection.objection)} is on your mind: {claim.text}")
    paragraphs.append("Would a short call next week be useful?")
    paragraphs.append(sign_off)
    return Draft(subject, "\n\n".join(p for p in paragraphs if p))


def _as_concern(objection: str) -> str:
    text = objection.strip().rstrip("?.!").strip("\"'")
    return f"“{text}”"


def fit_chars(sentences: Sequence[str], limit: int) -> str:
    """Join sentences, dropping from the middle until the text fits ``limit`` characters."""
    kept = [s for s in sentences if s]
    while len(" ".join(kept)) > limit and len(kept) > 2:
        kept.pop(-2)
    text = " ".join(kept)
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def fit_words(sentences: Sequence[str], limit: int) -> str:
    kept = list(sentences)
    while len(" ".join(kept).split()) > limit and len(kept) > 2:
        kept.pop(-2)
    return " ".join(kept)


def enforce_channel_limits(draft: Draft, channel: Channel) -> Draft:
    """Apply the hard channel limits to any writer's output (an LLM may overrun them)."""
    if channel == "linkedin":
        if len(draft.body) <= LINKEDIN_MAX_CHARS:
            return Draft("", draft.body)
        return Draft("", fit_chars(prose_sentences(draft.body), LINKEDIN_MAX_CHARS))
    if channel == "call-opener":
        return Draft("", fit_words(prose_sentences(draft.body), CALL_OPENER_MAX_WORDS))
    words = draft.body.split()
    body = draft.body if len(words) <= EMAIL_MAX_WORDS * 2 else " ".join(words[:EMAIL_MAX_WORDS])
    return Draft(draft.subject or "", body)
