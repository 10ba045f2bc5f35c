"""Hybrid retrieval: dense + BM25 fused by RRF, Python-side filters, roadmap name boost."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.adapters.index import KnowledgeIndex
from kbassist.adapters.package.loader import load_package
from kbassist.adapters.retrieval import HybridRetriever
from kbfactory import make_package


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory,
              embedder: MiniLMEmbedder) -> Iterator[HybridRetriever]:
    tmp = tmp_path_factory.mktemp("retrieval")
    index = KnowledgeIndex(tmp / "data", embedder)
    index.build(load_package(make_package(tmp / "kb", {
        "reference/faq.md": "---\ntitle: FAQ\npersonas: [ops-director]\n---\n# FAQ\n\n"
                            "Robots dock and charge themselves between picking waves.\n"})))
    opened = index.open_retriever()
    yield opened
    opened.close()


@pytest.mark.parametrize(("query", "item"), [
    ("Do you have battery prediction?", "battery-forecast"),
    ("customer asked about INVENTORY DRONES", "drone-inventory"),
    ("can we get it self-hosted", "on-prem"),
    ("is the live fleet map available", "fleet-map"),
])
def test_a_roadmap_name_or_alias_puts_its_item_first(retriever: HybridRetriever, query: str,
                                                      item: str) -> None:
    top = retriever.retrieve(query, k=5)[0]
    assert (top.chunk.kind, top.chunk.ref_id) == ("roadmap", item)
    assert top.score > 1.0  # boosted above any fused score


def test_names_match_whole_words_only(retriever: HybridRetriever) -> None:
    hits = retriever.retrieve("self-hostedness of the fleet mapper", k=5)
    assert all(hit.score < 1.0 for hit in hits)


def test_a_name_boost_respects_the_kind_filter(retriever: HybridRetriever) -> None:
    hits = retriever.retrieve("battery prediction", k=5, kinds={"claim"})
    assert hits and all(h.chunk.kind == "claim" for h in hits)


@pytest.mark.parametrize("kinds", [{"claim"}, {"roadmap"}, {"icp"}, {"messaging", "reference"}])
def test_kind_filter(retriever: HybridRetriever, kinds: set[str]) -> None:
    hits = retriever.retrieve("robot fleet pricing and operations", k=6, kinds=kinds)
    assert hits and {h.chunk.kind for h in hits} <= kinds


def test_an_empty_kind_filter_allows_nothing(retriever: HybridRetriever) -> None:
    assert retriever.retrieve("robots", k=5, kinds=set()) == []


@pytest.mark.parametrize(("persona", "visible"), [
    (None, True), ("ops-director", True), ("cfo", False),
])
def test_persona_filter(retriever: HybridRetriever, persona: str | None,
                        visible: bool) -> None:
    hits = retriever.retrieve("picking throughput rises within the first quarter", k=20,
                              persona=persona)
    ids = {h.chunk.ref_id for h in hits}
    assert ("picking-speed" in ids) == visible
    assert ("reference/faq.md#faq" in ids) == visible
    assert "per-robot-pricing" in ids  # no personas: applies to everyone
    for hit in hits:
        assert not persona or not hit.chunk.personas or persona in hit.chunk.personas


@pytest.mark.parametrize(("segment", "visible"), [
    (None, True), ("third-party-logistics", True), ("retail", False),
])
def test_segment_filter(retriever: HybridRetriever, segment: str | None,
                        visible: bool) -> None:
    hits = retriever.retrieve("Harbor Logistics cut robot downtime", k=20, segment=segment)
    ids = {h.chunk.ref_id for h in hits}
    assert ("harbor-logistics-story" in ids) == visible
    assert ("third-party-logistics" in ids) == visible  # the segment's own chunk
    for hit in hits:
        assert not segment or not hit.chunk.segments or segment in hit.chunk.segments


def test_expired_claims_are_excluded_on_request(retriever: HybridRetriever) -> None:
    query = "Warehouse Innovation Award"
    assert retriever.retrieve(query, k=3)[0].chunk.ref_id == "old-award"
    hits = retriever.retrieve(query, k=20, exclude_expired_on=date(2026, 1, 1))
    ids = {h.chunk.ref_id for h in hits}
    assert "old-award" not in ids and "uptime-stat" in ids  # expires 2030: still valid
    late = retriever.retrieve(query, k=20, exclude_expired_on=date(2031, 1, 1))
    assert "uptime-stat" not in {h.chunk.ref_id for h in late}


def test_hits_are_ranked_with_cosine_scores(retriever: HybridRetriever) -> None:
    text = "Nordlicht Fleet supports single sign-on with SAML and enforces MFA for admins."
    hits = retriever.retrieve(text, k=6)
    assert hits[0].chunk.ref_id == "sso-support"
    assert hits[0].dense_score is not None and hits[0].dense_score > 0.99
    assert hits[0].bm25_score is not None and hits[0].bm25_score > 0
    assert [h.rank for h in hits] == list(range(1, 7))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.dense_score is not None and -1.0 <= h.dense_score <= 1.0 for h in hits)


def test_timings_are_recorded(retriever: HybridRetriever) -> None:
    retriever.retrieve("pricing", k=3)
    assert set(retriever.last_timings) >= {"embed_ms", "dense_ms", "bm25_ms", "fuse_ms"}
    assert all(v >= 0 for v in retriever.last_timings.values())


def test_edge_queries(retriever: HybridRetriever) -> None:
    assert retriever.retrieve("   ", k=5) == []
    assert retriever.retrieve("the of and", k=3)  # only stopwords: dense still answers
    everything = retriever.retrieve("robots", k=1000)
    assert len(everything) == len(retriever)
    assert retriever.retrieve_ids("single sign-on SAML", k=1) == ["claim:sso-support"]


WRITER = """
import sys
from pathlib import Path
from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.adapters.index import KnowledgeIndex
from kbassist.adapters.package.loader import load_package
KnowledgeIndex(Path(sys.argv[2]), MiniLMEmbedder()).build(load_package(Path(sys.argv[1])))
"""


def test_an_open_retriever_follows_a_build_by_another_process(
        tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    kb = make_package(tmp_path / "kb")
    index = KnowledgeIndex(tmp_path / "data", embedder)
    index.build(load_package(kb))
    retriever = index.open_retriever()
    question = "Our support desk answers every ticket within one hour."
    assert retriever.generation == 1
    (kb / "messaging" / "support.md").write_text(f"# Support\n\n{question}\n")
    subprocess.run([sys.executable, "-c", WRITER, str(kb), str(tmp_path / "data")],
                   check=True)
    top = retriever.retrieve(question, k=1)[0]
    assert retriever.generation == 2
    assert top.chunk.ref_id == "messaging/support.md#support"
    # The dense side must see the other process's vectors, not only BM25.
    vector = embedder.embed_batch([question])[0]
    ids, _ = retriever._dense.query(vector, 3)
    assert index.manifest().files["messaging/support.md"].ids[0] in ids  # type: ignore[union-attr]
    retriever.close()
