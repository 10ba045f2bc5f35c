"""What the use cases return and what the audit trail records: plain data, no IO.

The edges (CLI, UI, evals) render these; the audit sink stores ``OutputRecord``; the
spreadsheet adapter writes ``RowAnswer``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from kbassist.core.chunks import Chunk
from kbassist.core.governance import GovernedOutput

# Below this confidence an answer is flagged for review (RFP) and logged as a gap (audit).
LOW_CONFIDENCE = 0.5
_MARKER = re.compile(r"\s?\[([A-Za-z0-9:_./#-]+)\]")


@dataclass(frozen=True)
class OutputRecord:
    """Everything the audit trail needs about one output; passed to every listener."""

    workflow: str  # ask | draft | rfp | fit
    inputs: dict[str, Any]  # the question, or the draft/fit/rfp inputs
    output: str
    citations: list[str]  # cited ids (claim, roadmap, segment/persona ids, path#anchor)
    checks: dict[str, Any]  # GovernedOutput.checks_json(): status, violations, changes
    backend: str
    model: str
    prompt: dict[str, Any]  # {"id", "version"}
    kb_version: str
    latency_ms: float
    channel: str = "cli"  # cli | ui | eval
    user: str | None = None
    persona: str | None = None
    segment: str | None = None
    roadmap: tuple[dict[str, str], ...] = ()  # roadmap items asked about: {"id", "status"}
    unknown: bool = False  # answered with the package's unknown_answer
    confidence: float | None = None


def citation_json(chunk: Chunk) -> dict[str, Any]:
    cited: dict[str, Any] = {"source": chunk.source, "id": chunk.ref_id, "kind": chunk.kind,
                             "text": chunk.text, "title": chunk.title, "line": chunk.line}
    if chunk.status:
        cited["status"] = chunk.status
    return cited


@dataclass
class AskResult:
    answer: str
    citations: list[Chunk]
    roadmap: list[dict[str, str]]
    governed: GovernedOutput
    backend: str
    model: str
    kb_version: str
    prompt: dict[str, Any]
    unknown: bool
    confidence: float
    latency_ms: float
    notes: list[str] = field(default_factory=list)
    output_id: int | None = None  # the audit id feedback takes; None with the audit log off

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "citations": [citation_json(c) for c in self.citations],
            "roadmap": self.roadmap,
            "checks": self.governed.checks_json(),
            "backend": self.backend,
            "model": self.model,
            "kb_version": self.kb_version,
            "prompt": self.prompt,
            "unknown": self.unknown,
            "confidence": round(self.confidence, 3),
            "notes": self.notes,
            "latency_ms": round(self.latency_ms, 1),
        }


@dataclass
class DraftResult:
    channel: str
    subject: str
    body: str
    citations: list[Chunk]
    governed: GovernedOutput
    backend: str
    model: str
    kb_version: str
    prompt: dict[str, Any]
    pillars: list[str]
    roadmap: list[dict[str, str]]
    latency_ms: float
    output_id: int | None = None  # the audit id feedback takes; None with the audit log off

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "subject": self.subject,
            "body": self.body,
            "citations": [citation_json(c) for c in self.citations],
            "checks": self.governed.checks_json(),
            "backend": self.backend,
            "model": self.model,
            "kb_version": self.kb_version,
            "prompt": self.prompt,
            "pillars": self.pillars,
            "roadmap": self.roadmap,
            "latency_ms": round(self.latency_ms, 1),
        }


def split_citations(text: str, evidence: Sequence[Chunk]) -> tuple[str, list[Chunk]]:
    """Remove the [id] markers an LLM wrote and return the evidence they point to."""
    by_id = {c.ref_id: c for c in evidence} | {c.node_id: c for c in evidence}
    cited: list[Chunk] = []
    for ref in _MARKER.findall(text):
        chunk = by_id.get(ref)
        if chunk is not None and chunk not in cited:
            cited.append(chunk)
    return _MARKER.sub("", text).strip(), cited


@dataclass(frozen=True)
class RowAnswer:
    """What the answer function returns for one question."""

    answer: str
    sources: list[str]
    confidence: float
    needs_review: bool
    review_reason: str
    status: str  # pass | revised | blocked | unknown


Rating = Literal["up", "down"]  # a rep's thumbs on an output


class AuditSink(Protocol):
    """Where every output is recorded (``adapters.audit.AuditLog`` by default): ``record``
    returns the output's audit id, which feedback takes."""

    def record(self, record: OutputRecord) -> int: ...

    def record_feedback(self, output_id: int, rating: Rating, comment: str = "",
                        user: str | None = None) -> int: ...
