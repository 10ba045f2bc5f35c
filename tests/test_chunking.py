"""Chunking: one chunk per claim, roadmap item, segment, persona and document section;
never a roadmap ``internal`` note; long sections split to fit the embedder."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from pathlib import Path

import pytest

from kbassist.adapters.package.loader import load_package
from kbassist.core.chunking import (
    MAX_CHUNK_TOKENS,
    chunk_from_dict,
    chunk_package,
    chunk_to_dict,
    document_chunks,
    estimate_tokens,
    index_text,
    split_text,
)
from kbassist.core.chunks import Chunk
from kbassist.core.models import Document, KnowledgePackage, Section
from kbfactory import make_package

INTERNAL = "Zephyrquill pilot stalled pending the Obsidianmoor partnership."


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> KnowledgePackage:
    return load_package(make_package(tmp_path_factory.mktemp("kb") / "kb"))


@pytest.fixture(scope="module")
def chunks(package: KnowledgePackage) -> list[Chunk]:
    return chunk_package(package)


def by_kind(chunks: list[Chunk], kind: str) -> list[Chunk]:
    return [c for c in chunks if c.kind == kind]


def test_one_chunk_per_claim_with_its_metadata(package: KnowledgePackage,
                                               chunks: list[Chunk]) -> None:
    claims = by_kind(chunks, "claim")
    assert [c.ref_id for c in claims] == [c.id for c in package.claims]
    for chunk, claim in zip(claims, package.claims, strict=True):
        assert chunk.node_id == f"claim:{claim.id}"
        assert chunk.source == "claims.yaml"
        assert chunk.text == claim.text
        assert chunk.claim_kind == claim.kind
        assert chunk.personas == tuple(claim.personas)
        assert chunk.segments == tuple(claim.segments)
        assert chunk.expires == (claim.expires.isoformat() if claim.expires else "")
        assert chunk.line == claim.line > 0


def test_one_chunk_per_roadmap_item_with_public_text_and_aliases(
        package: KnowledgePackage, chunks: list[Chunk]) -> None:
    roadmap = by_kind(chunks, "roadmap")
    assert [c.ref_id for c in roadmap] == [r.id for r in package.roadmap]
    for chunk, item in zip(roadmap, package.roadmap, strict=True):
        assert chunk.text == item.public_text()
        assert chunk.status == item.status
        assert chunk.source == "roadmap.yaml"
        for alias in item.aliases:
            assert alias in chunk.text


def test_no_internal_note_anywhere(package: KnowledgePackage, chunks: list[Chunk]) -> None:
    assert package.internal_notes() == [INTERNAL]
    for chunk in chunks:
        flat = repr(asdict(chunk)) + index_text(chunk)
        assert "Zephyrquill" not in flat and "Obsidianmoor" not in flat


def test_one_chunk_per_segment_and_persona(package: KnowledgePackage,
                                           chunks: list[Chunk]) -> None:
    icp = by_kind(chunks, "icp")
    assert [(c.node_id, c.ref_id) for c in icp] == [
        *((f"segment:{s.id}", s.id) for s in package.segments),
        *((f"persona:{p.id}", p.id) for p in package.personas),
    ]
    segment, persona = icp
    assert segment.text == package.segments[0].public_text()
    assert segment.segments == (package.segments[0].id,)
    assert persona.text == package.personas[0].public_text()
    assert persona.personas == (package.personas[0].id,)
    assert all(c.source == "icp.yaml" for c in icp)


def test_markdown_sections_become_chunks_by_heading(chunks: list[Chunk]) -> None:
    docs = by_kind(chunks, "messaging")
    assert [(c.node_id, c.ref_id, c.title) for c in docs] == [
        ("doc:messaging/positioning.md#positioning", "messaging/positioning.md#positioning",
         "Positioning"),
        ("doc:messaging/positioning.md#pricing", "messaging/positioning.md#pricing",
         "Positioning — Pricing"),
    ]
    assert all(c.source == "messaging/positioning.md" and c.review_by == "2030-01-01"
               for c in docs)
    assert "priced per robot" in docs[1].text
    assert index_text(docs[1]).startswith("Positioning — Pricing\n")


def test_reference_documents_keep_their_kind(tmp_path: Path) -> None:
    root = make_package(tmp_path / "kb", {
        "reference/faq.md": "# FAQ\n\nRobots charge themselves.\n"})
    chunks = chunk_package(load_package(root))
    assert [c.ref_id for c in by_kind(chunks, "reference")] == ["reference/faq.md#faq"]


def test_node_ids_are_unique_and_stable(package: KnowledgePackage,
                                        chunks: list[Chunk]) -> None:
    ids = [c.node_id for c in chunks]
    assert len(ids) == len(set(ids))
    assert chunk_package(package) == chunks


def long_text(paragraphs: int, words: int = 60) -> str:
    return "\n\n".join(
        " ".join(f"p{p}w{w}" for w in range(words)) + "." for p in range(paragraphs))


def test_long_section_splits_into_numbered_anchors() -> None:
    text = long_text(12)
    doc = Document(path="reference/guide.md", kind="reference", title="Guide",
                   sections=[Section(anchor="setup", heading="Setup", text=text, line=10)])
    parts = document_chunks(doc)
    assert len(parts) > 1
    assert [c.ref_id.split("#")[1] for c in parts] == [
        "setup", *(f"setup-{n}" for n in range(2, len(parts) + 1))]
    assert all(estimate_tokens(c.text) <= MAX_CHUNK_TOKENS for c in parts)
    assert " ".join(c.text for c in parts).split() == text.split()  # nothing lost
    lines = [c.line for c in parts]
    assert lines[0] == 10 and lines == sorted(lines) and lines[-1] > 10


def test_split_anchors_never_collide_with_repeated_headings() -> None:
    # The loader names a second "Setup" heading "setup-2"; the split must not reuse it.
    doc = Document(path="a.md", kind="reference", title="A", sections=[
        Section(anchor="setup", heading="Setup", text=long_text(8)),
        Section(anchor="setup-2", heading="Setup", text="Short."),
    ])
    ids = [c.node_id for c in document_chunks(doc)]
    assert len(ids) == len(set(ids)) and "doc:a.md#setup-2" in ids


@pytest.mark.parametrize(("text", "pieces"), [
    ("", 0),
    ("   \n  ", 0),
    ("One short paragraph.", 1),
    (long_text(2), 1),
    (long_text(8), 3),
    (" ".join(["word"] * 1000), 5),  # no sentence or paragraph breaks: cut at words
])
def test_split_text(text: str, pieces: int) -> None:
    parts = split_text(text)
    assert len(parts) == pieces
    for offset, piece in parts:
        assert text[offset:].startswith(piece)
        assert estimate_tokens(piece) <= MAX_CHUNK_TOKENS


def test_empty_sections_give_no_chunk() -> None:
    doc = Document(path="a.md", kind="messaging", title="A",
                   sections=[Section(anchor="a", heading="A", text="  ")])
    assert document_chunks(doc) == []


def test_records_round_trip(chunks: list[Chunk]) -> None:
    for chunk in chunks:
        assert chunk_from_dict(chunk_to_dict(chunk)) == chunk


def test_claim_dates_are_iso(package: KnowledgePackage, chunks: list[Chunk]) -> None:
    expiring = [c for c in by_kind(chunks, "claim") if c.expires]
    assert expiring and all(date.fromisoformat(c.expires) for c in expiring)
