"""Retrievable units of a knowledge package and retrieval hits. Pure types, no IO.

A chunk is what gets embedded and cited: one claim, one roadmap item (public text only,
never ``internal``), one segment, one persona, or one section of a document.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kbassist.core.models import SourceKind


@dataclass(frozen=True)
class Chunk:
    node_id: str  # unique in the index, e.g. "claim:naas-pricing", "doc:messaging/x.md#pricing"
    kind: SourceKind  # claim | roadmap | icp | messaging | reference
    ref_id: str  # claim id, roadmap id, segment/persona id, or "path#anchor" for documents
    source: str  # package-relative file the chunk came from, e.g. "claims.yaml"
    title: str
    text: str
    line: int = 0
    status: str = ""  # roadmap status (available|next|later|never)
    expires: str = ""  # ISO date for claims that expire
    claim_kind: str = ""  # value | differentiator | ... for claims
    personas: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    review_by: str = ""  # ISO date for documents with a review date
    extra: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # fused reciprocal-rank score; higher is better
    dense_score: float | None = None  # cosine similarity of query and chunk, when dense found it
    bm25_score: float | None = None
    rank: int = 0
