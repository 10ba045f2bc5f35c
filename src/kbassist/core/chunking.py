"""Turn a knowledge package into retrievable chunks. Pure: no IO, no index.

One chunk per claim, roadmap item, segment and persona, and one per document section.
Roadmap chunks use ``RoadmapItem.public_text()`` only, so ``internal`` notes never reach
an index. Long sections are split so that every chunk fits the embedder's window
(all-MiniLM-L6-v2 reads at most 256 word pieces; the rest of a longer text would be
silently ignored by dense retrieval).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator
from functools import partial
from typing import Any

from kbassist.core.chunks import Chunk
from kbassist.core.models import (
    Claim,
    Document,
    KnowledgePackage,
    Persona,
    RoadmapItem,
    Section,
    Segment,
)

# Bump when chunk text or metadata changes for the same input: the index then re-embeds.
CHUNKER_VERSION = "1"

# A section above this many estimated tokens is split; pieces are packed up to it.
# Below the embedder's 256-token window, leaving room for the title prefix.
MAX_CHUNK_TOKENS = 220

CLAIMS_FILE = "claims.yaml"
ROADMAP_FILE = "roadmap.yaml"
ICP_FILE = "icp.yaml"

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"\S+")


def estimate_tokens(text: str) -> int:
    """Words and punctuation marks: close to, and rarely above, the word-piece count."""
    return len(_TOKEN_RE.findall(text))


def chunk_package(package: KnowledgePackage) -> list[Chunk]:
    """Every chunk of the package, in a stable order, with unique node ids."""
    return [chunk for chunks in chunk_files(package).values() for chunk in chunks]


def chunk_files(package: KnowledgePackage, only: Collection[str] | None = None
                ) -> dict[str, list[Chunk]]:
    """Chunks grouped by the package file they come from (claims.yaml, roadmap.yaml,
    icp.yaml, then each document); with ``only``, just those files. Node ids carry a
    per-file prefix, so ids are unique across files as well as within each."""
    makers: dict[str, Callable[[], Iterable[Chunk]]] = {
        CLAIMS_FILE: lambda: _claim_chunks(package),
        ROADMAP_FILE: lambda: _roadmap_chunks(package),
        ICP_FILE: lambda: _icp_chunks(package),
    }
    for document in package.documents:
        makers[document.path] = partial(document_chunks, document)
    return {source: _with_unique_ids(list(make())) for source, make in makers.items()
            if only is None or source in only}


def index_text(chunk: Chunk) -> str:
    """The text that is embedded and BM25-indexed: document chunks carry their title."""
    if chunk.kind in ("messaging", "reference") and chunk.title:
        return f"{chunk.title}\n\n{chunk.text}"
    return chunk.text


def claim_chunk(claim: Claim) -> Chunk:
    extra = {"pillar": claim.pillar or "", "customer": claim.customer or "",
             "evidence": claim.source or ""}
    return Chunk(
        node_id=f"claim:{claim.id}",
        kind="claim",
        ref_id=claim.id,
        source=CLAIMS_FILE,
        title=f"Claim {claim.id}",
        text=claim.text,
        line=claim.line,
        expires=claim.expires.isoformat() if claim.expires else "",
        claim_kind=claim.kind,
        personas=tuple(claim.personas),
        segments=tuple(claim.segments),
        extra={key: value for key, value in extra.items() if value},
    )


def roadmap_chunk(item: RoadmapItem) -> Chunk:
    return Chunk(
        node_id=f"roadmap:{item.id}",
        kind="roadmap",
        ref_id=item.id,
        source=ROADMAP_FILE,
        title=item.title,
        text=item.public_text(),  # never item.internal
        line=item.line,
        status=item.status,
        extra={"aliases": "\n".join(item.aliases)} if item.aliases else {},
    )


def segment_chunk(segment: Segment) -> Chunk:
    """A segment chunk belongs to its segment (and a persona chunk to its persona), so the
    persona/segment filters keep other personas' descriptions out of targeted answers."""
    return Chunk(
        node_id=f"segment:{segment.id}",
        kind="icp",
        ref_id=segment.id,
        source=ICP_FILE,
        title=f"Segment: {segment.name}",
        text=segment.public_text(),
        line=segment.line,
        segments=(segment.id,),
        extra={"icp_type": "segment"},
    )


def persona_chunk(persona: Persona) -> Chunk:
    return Chunk(
        node_id=f"persona:{persona.id}",
        kind="icp",
        ref_id=persona.id,
        source=ICP_FILE,
        title=f"Persona: {persona.name}",
        text=persona.public_text(),
        line=persona.line,
        personas=(persona.id,),
        extra={"icp_type": "persona"},
    )


def _claim_chunks(package: KnowledgePackage) -> Iterator[Chunk]:
    return (claim_chunk(claim) for claim in package.claims)


def _roadmap_chunks(package: KnowledgePackage) -> Iterator[Chunk]:
    return (roadmap_chunk(item) for item in package.roadmap)


def _icp_chunks(package: KnowledgePackage) -> Iterator[Chunk]:
    yield from (segment_chunk(segment) for segment in package.segments)
    yield from (persona_chunk(persona) for persona in package.personas)


def document_chunks(document: Document) -> list[Chunk]:
    """One chunk per section; a long section becomes ``anchor``, ``anchor-2``, ..."""
    taken = {section.anchor for section in document.sections}
    chunks: list[Chunk] = []
    for section in document.sections:
        pieces = split_text(section.text)
        for number, (start, text) in enumerate(pieces, start=1):
            anchor = section.anchor
            if number > 1:
                anchor = _free_anchor(f"{section.anchor}-{number}", taken)
            chunks.append(_section_chunk(document, section, anchor, text,
                                         section.line + section.text.count("\n", 0, start)))
    return chunks


def _section_chunk(document: Document, section: Section, anchor: str, text: str,
                   line: int) -> Chunk:
    heading = section.heading.strip()
    title = document.title if not heading or heading == document.title else (
        f"{document.title} — {heading}")
    ref_id = f"{document.path}#{anchor}"
    return Chunk(
        node_id=f"doc:{ref_id}",
        kind=document.kind,
        ref_id=ref_id,
        source=document.path,
        title=title,
        text=text,
        line=line,
        personas=tuple(document.personas),
        segments=tuple(document.segments),
        review_by=document.review_by.isoformat() if document.review_by else "",
        extra={"anchor": anchor, "section": section.anchor},
    )


def _free_anchor(candidate: str, taken: set[str]) -> str:
    """The loader already uses ``x-2`` for a repeated heading; never collide with it."""
    while candidate in taken:
        candidate += "~"
    taken.add(candidate)
    return candidate


def split_text(text: str, max_tokens: int = MAX_CHUNK_TOKENS) -> list[tuple[int, str]]:
    """(start offset, text) pieces of at most ``max_tokens`` estimated tokens, cut at
    paragraph, then sentence, then word boundaries. Empty text gives no pieces."""
    if not text.strip():
        return []
    if estimate_tokens(text) <= max_tokens:
        return [(len(text) - len(text.lstrip()), text.strip())]
    pieces: list[tuple[int, str]] = []
    start = end = used = 0
    for unit_start, unit_end, tokens in _units(text, max_tokens):
        if used and used + tokens > max_tokens:
            pieces.append((start, text[start:end].strip()))
            used = 0
        if not used:
            start = unit_start
        end, used = unit_end, used + tokens
    if used:
        pieces.append((start, text[start:end].strip()))
    return [(offset, piece) for offset, piece in pieces if piece]


def _units(text: str, max_tokens: int) -> Iterator[tuple[int, int, int]]:
    """(start, end, tokens) spans, each within ``max_tokens`` unless a single word is not."""
    for p_start, p_end in _spans(text, 0, len(text), _PARAGRAPH_BREAK):
        tokens = estimate_tokens(text[p_start:p_end])
        if tokens <= max_tokens:
            yield p_start, p_end, tokens
            continue
        for s_start, s_end in _spans(text, p_start, p_end, _SENTENCE_BREAK):
            tokens = estimate_tokens(text[s_start:s_end])
            if tokens <= max_tokens:
                yield s_start, s_end, tokens
            else:
                for word in _WORD.finditer(text, s_start, s_end):
                    yield word.start(), word.end(), estimate_tokens(word.group())


def _spans(text: str, start: int, end: int, separator: re.Pattern[str]) -> Iterator[
        tuple[int, int]]:
    position = start
    for match in separator.finditer(text, start, end):
        if match.start() > position:
            yield position, match.start()
        position = match.end()
    if position < end:
        yield position, end


def _with_unique_ids(chunks: list[Chunk]) -> list[Chunk]:
    """Duplicate ids can only come from a package the loader would reject; keep the index
    consistent anyway by numbering repeats."""
    seen: set[str] = set()
    unique: list[Chunk] = []
    for chunk in chunks:
        node_id, n = chunk.node_id, 2
        while node_id in seen:
            node_id, n = f"{chunk.node_id}~{n}", n + 1
        seen.add(node_id)
        unique.append(chunk if node_id == chunk.node_id else _replace_id(chunk, node_id))
    return unique


def _replace_id(chunk: Chunk, node_id: str) -> Chunk:
    fields = chunk_to_dict(chunk)
    fields["node_id"] = node_id
    return chunk_from_dict(fields)


def chunk_to_dict(chunk: Chunk) -> dict[str, Any]:
    """A JSON-ready record of a chunk (lists for tuples)."""
    return {
        "node_id": chunk.node_id, "kind": chunk.kind, "ref_id": chunk.ref_id,
        "source": chunk.source, "title": chunk.title, "text": chunk.text, "line": chunk.line,
        "status": chunk.status, "expires": chunk.expires, "claim_kind": chunk.claim_kind,
        "personas": list(chunk.personas), "segments": list(chunk.segments),
        "review_by": chunk.review_by, "extra": dict(chunk.extra),
    }


def chunk_from_dict(record: dict[str, Any]) -> Chunk:
    return Chunk(
        node_id=record["node_id"], kind=record["kind"], ref_id=record["ref_id"],
        source=record["source"], title=record["title"], text=record["text"],
        line=int(record.get("line", 0)), status=record.get("status", ""),
        expires=record.get("expires", ""), claim_kind=record.get("claim_kind", ""),
        personas=tuple(record.get("personas", ())), segments=tuple(record.get("segments", ())),
        review_by=record.get("review_by", ""), extra=dict(record.get("extra", {})),
    )
