"""Typed models of a knowledge package (format v1). Pure: no IO here.

Unknown keys are ignored rather than rejected so that packages written for a newer
format still load; the validator reports what is actually wrong.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ClaimKind = Literal[
    "value", "differentiator", "proof", "stat", "customer", "security", "compliance", "pricing"
]
RoadmapStatus = Literal["available", "next", "later", "never"]
DocumentKind = Literal["messaging", "reference"]
SourceKind = Literal["claim", "roadmap", "icp", "messaging", "reference"]

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"

DEFAULT_DISCLAIMER = "Roadmap items are plans, not commitments, and can change."
DEFAULT_UNKNOWN = (
    "That isn't covered in our approved material yet; I've logged it for the product team."
)


# Claim kinds that are evidence (a customer, a figure, a story), not capabilities.
PROOF_KINDS = frozenset({"proof", "customer", "stat"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Voice(_Model):
    tone: list[str] = Field(default_factory=list)
    banned_phrases: list[str] = Field(default_factory=list)
    sign_off: str = "Best,\n{rep_name}"


class Policy(_Model):
    roadmap_disclaimer: str = DEFAULT_DISCLAIMER
    unknown_answer: str = DEFAULT_UNKNOWN


class KbConfig(_Model):
    company: str
    product: str
    summary: str = ""
    owners: dict[str, str] = Field(default_factory=dict)
    voice: Voice = Field(default_factory=Voice)
    policy: Policy = Field(default_factory=Policy)


class Claim(_Model):
    id: str = Field(pattern=ID_PATTERN)
    text: str = Field(min_length=1)
    kind: ClaimKind
    pillar: str | None = None
    personas: list[str] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list)
    customer: str | None = None
    source: str | None = None
    approved_by: list[str] = Field(default_factory=list)
    expires: date | None = None
    line: int = 0  # line in claims.yaml where the claim starts (filled by the loader)

    def is_expired(self, today: date) -> bool:
        return self.expires is not None and self.expires < today

    def applies_to(self, persona: str | None = None, segment: str | None = None) -> bool:
        """Empty persona/segment lists mean the claim applies to everyone."""
        persona_ok = not persona or not self.personas or persona in self.personas
        segment_ok = not segment or not self.segments or segment in self.segments
        return persona_ok and segment_ok


class RoadmapItem(_Model):
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    status: RoadmapStatus
    window: str | None = None
    say: str | None = None
    internal: str | None = None
    aliases: list[str] = Field(default_factory=list)
    line: int = 0

    @property
    def names(self) -> list[str]:
        """Every name reps may use for this item: the title first, then aliases."""
        return [self.title, *self.aliases]

    def public_text(self) -> str:
        """What may be shown or indexed; never includes ``internal``."""
        parts = [f"{self.title} (status: {self.status})"]
        if self.aliases:
            parts.append("Also called: " + ", ".join(self.aliases) + ".")
        if self.say:
            parts.append(self.say)
        if self.status == "next" and self.window:
            parts.append(f"Planned window: {self.window}.")
        return " ".join(parts)


class EmployeeRange(_Model):
    min: int | None = None
    max: int | None = None

    def contains(self, count: int) -> bool:
        return (self.min is None or count >= self.min) and (self.max is None or count <= self.max)


class Segment(_Model):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    industries: list[str] = Field(default_factory=list)
    employees: EmployeeRange | None = None
    regions: list[str] = Field(default_factory=list)
    pains: list[str] = Field(default_factory=list)
    triggers: list[str] = Field(default_factory=list)
    disqualifiers: list[str] = Field(default_factory=list)
    line: int = 0

    def public_text(self) -> str:
        parts = [f"Segment: {self.name}."]
        if self.industries:
            parts.append("Industries: " + ", ".join(self.industries) + ".")
        if self.employees and (self.employees.min or self.employees.max):
            low = self.employees.min if self.employees.min is not None else "any"
            high = self.employees.max if self.employees.max is not None else "any"
            parts.append(f"Company size: {low} to {high} employees.")
        if self.regions:
            parts.append("Regions: " + ", ".join(self.regions) + ".")
        if self.pains:
            parts.append("Pains: " + "; ".join(self.pains) + ".")
        if self.triggers:
            parts.append("Buying triggers: " + "; ".join(self.triggers) + ".")
        if self.disqualifiers:
            parts.append("Disqualifiers: " + "; ".join(self.disqualifiers) + ".")
        return " ".join(parts)


class Objection(_Model):
    objection: str
    answer_claims: list[str] = Field(default_factory=list)
    line: int = 0


class Persona(_Model):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    titles: list[str] = Field(default_factory=list)
    cares_about: list[str] = Field(default_factory=list)
    objections: list[Objection] = Field(default_factory=list)
    line: int = 0

    def public_text(self) -> str:
        parts = [f"Persona: {self.name}."]
        if self.titles:
            parts.append("Titles: " + ", ".join(self.titles) + ".")
        if self.cares_about:
            parts.append("Cares about: " + "; ".join(self.cares_about) + ".")
        if self.objections:
            parts.append("Objections: " + "; ".join(o.objection for o in self.objections) + ".")
        return " ".join(parts)


class Section(_Model):
    """A passage of a document: a Markdown heading section, or a PDF page."""

    anchor: str  # unique within the document, e.g. "pricing-model" or "p2"
    heading: str
    text: str
    line: int = 1


class Document(_Model):
    path: str  # relative to the package root, POSIX separators
    kind: DocumentKind
    title: str
    owner: str | None = None
    personas: list[str] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list)
    approved_on: date | None = None
    review_by: date | None = None
    sections: list[Section] = Field(default_factory=list)
    sha256: str = ""

    def is_stale(self, today: date) -> bool:
        return self.review_by is not None and self.review_by < today

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections)


class KnowledgePackage(_Model):
    root: str
    config: KbConfig
    claims: list[Claim] = Field(default_factory=list)
    roadmap: list[RoadmapItem] = Field(default_factory=list)
    segments: list[Segment] = Field(default_factory=list)
    personas: list[Persona] = Field(default_factory=list)
    documents: list[Document] = Field(default_factory=list)
    file_hashes: dict[str, str] = Field(default_factory=dict)  # relative path -> sha256
    kb_version: str = ""

    def claim(self, claim_id: str) -> Claim | None:
        return next((c for c in self.claims if c.id == claim_id), None)

    def roadmap_item(self, item_id: str) -> RoadmapItem | None:
        return next((r for r in self.roadmap if r.id == item_id), None)

    def segment(self, segment_id: str) -> Segment | None:
        return next((s for s in self.segments if s.id == segment_id), None)

    def persona(self, persona_id: str) -> Persona | None:
        return next((p for p in self.personas if p.id == persona_id), None)

    def document(self, path: str) -> Document | None:
        return next((d for d in self.documents if d.path == path), None)

    def approved_claims(self, today: date) -> list[Claim]:
        """Claims that may be used today: everything not expired."""
        return [c for c in self.claims if not c.is_expired(today)]

    def expired_claims(self, today: date) -> list[Claim]:
        return [c for c in self.claims if c.is_expired(today)]

    def internal_notes(self) -> list[str]:
        return [r.internal for r in self.roadmap if r.internal]
