"""The index: real Chroma in tmp_path, real MiniLM embeddings. Incremental, atomic, locked.

Fakes appear only to inject faults (an embedder that raises, a build that is SIGKILLed),
always wrapping the real embedder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import bm25s
import chromadb
import numpy as np
import pytest
from filelock import FileLock

import kbassist.adapters.index as index_module
from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.adapters.index import (
    KnowledgeIndex,
    bm25_from_postings,
    client_factory,
    update_postings,
)
from kbassist.adapters.package.loader import load_package
from kbassist.adapters.retrieval import bm25_tokens
from kbassist.core.chunking import chunk_package
from kbassist.core.errors import IndexError_
from kbassist.core.models import KnowledgePackage
from kbfactory import MESSAGING_MD, make_package

TESTS = Path(__file__).resolve().parent
DOC = "messaging/positioning.md"
NEW_SECTION = "\n## Support\n\nOur support desk answers every ticket within one hour.\n"


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


class FailingEmbedder:
    """The real embedder, except that call number ``fail_on`` raises."""

    def __init__(self, inner: MiniLMEmbedder, fail_on: int) -> None:
        self.inner, self.fail_on, self.calls = inner, fail_on, 0
        self.dimension = inner.dimension
        self.model_id = type(inner).__name__  # the same embedding space as ``inner``

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("embedder crashed")
        return self.inner.embed_batch(texts)


def load(root: Path) -> KnowledgePackage:
    return load_package(root)


def edit_doc(root: Path) -> KnowledgePackage:
    path = root / DOC
    path.write_text(path.read_text(encoding="utf-8") + NEW_SECTION, encoding="utf-8")
    return load(root)


def vector_count(index: KnowledgeIndex) -> int:
    client = chromadb.PersistentClient(path=str(index.root / "chroma"),
                                       settings=index_module.chroma_settings())
    try:
        return client.get_collection(index.collection_name).count()
    finally:
        client.close()


def assert_consistent(index: KnowledgeIndex) -> None:
    """Exactly the serving version's vectors are stored; nothing is left pending."""
    manifest = index.manifest()
    assert manifest is not None
    assert vector_count(index) == manifest.chunks
    assert not (index.root / "pending.json").exists()
    assert len(list((index.root / "versions").iterdir())) <= 2


def top_ids(index: KnowledgeIndex, query: str, k: int = 3) -> list[str]:
    retriever = index.open_retriever()
    try:
        return retriever.retrieve_ids(query, k)
    finally:
        retriever.close()


@pytest.fixture()
def kb(tmp_path: Path) -> Path:
    return make_package(tmp_path / "kb")


@pytest.fixture()
def index(tmp_path: Path, embedder: MiniLMEmbedder) -> KnowledgeIndex:
    return KnowledgeIndex(tmp_path / "data", embedder)


def test_build_then_retrieve(kb: Path, index: KnowledgeIndex) -> None:
    package = load(kb)
    assert index.current_version() is None
    summary = index.build(package)
    chunks = chunk_package(package)
    assert summary.kb_version == package.kb_version == index.current_version()
    assert (summary.chunks, summary.chunks_embedded) == (len(chunks), len(chunks))
    assert summary.files_total == len(package.file_hashes) == 5
    assert summary.files_reembedded == 4  # kb.yaml has no chunks
    assert not summary.unchanged and summary.files_removed == 0
    assert top_ids(index, "single sign-on with SAML")[0] == "claim:sso-support"
    assert_consistent(index)


def test_rebuilding_the_same_package_does_nothing(kb: Path, index: KnowledgeIndex) -> None:
    index.build(load(kb))
    summary = index.build(load(kb))
    assert summary.unchanged
    assert (summary.chunks_embedded, summary.files_reembedded) == (0, 0)
    forced = index.build(load(kb), force=True)
    assert not forced.unchanged and forced.chunks_embedded == forced.chunks
    assert forced.generation == 2
    assert_consistent(index)


def test_incremental_reembeds_only_the_changed_file(kb: Path, index: KnowledgeIndex) -> None:
    index.build(load(kb))
    before = index.manifest()
    package = edit_doc(kb)
    summary = index.build(package)
    doc_chunks = [c for c in chunk_package(package) if c.source == DOC]
    assert (summary.files_reembedded, summary.chunks_embedded) == (1, len(doc_chunks)) == (1, 3)
    assert summary.kb_version == package.kb_version != before.kb_version  # type: ignore[union-attr]
    after = index.manifest()
    assert before is not None and after is not None
    for path, entry in before.files.items():  # other files kept their vectors
        assert (after.files[path].ids == entry.ids) == (path != DOC)
    assert top_ids(index, "support desk answers tickets within an hour")[0] == (
        f"doc:{DOC}#support")
    assert_consistent(index)


def test_a_removed_file_leaves_the_index(kb: Path, index: KnowledgeIndex) -> None:
    index.build(load(kb))
    (kb / DOC).unlink()
    summary = index.build(load(kb))
    assert (summary.files_removed, summary.chunks_embedded) == (1, 0)
    retriever = index.open_retriever()
    hits = retriever.retrieve("Nordlicht Fleet keeps warehouse robots busy", k=20)
    assert hits and all(h.chunk.source != DOC for h in hits)
    assert_consistent(index)


def test_a_failed_build_keeps_the_old_version_serving(
        kb: Path, tmp_path: Path, embedder: MiniLMEmbedder,
        monkeypatch: pytest.MonkeyPatch) -> None:
    good = KnowledgeIndex(tmp_path / "data", embedder)
    old_version = good.build(load(kb)).kb_version
    monkeypatch.setattr(index_module, "EMBED_BATCH", 1)  # one chunk per embed call...
    monkeypatch.setattr(index_module, "max_batch_size", lambda client: 1)  # ...and per add
    new_package = edit_doc(kb)
    failing = KnowledgeIndex(tmp_path / "data", FailingEmbedder(embedder, fail_on=3))
    with pytest.raises(RuntimeError, match="embedder crashed"):
        failing.build(new_package)  # two of the three new vectors were already added
    assert good.current_version() == old_version
    retriever = good.open_retriever()
    assert retriever.kb_version == old_version
    hits = retriever.retrieve("support desk answers tickets within an hour", k=20)
    assert all("#support" not in h.chunk.ref_id for h in hits)
    summary = good.build(new_package)  # the next run completes
    assert summary.kb_version == new_package.kb_version and summary.chunks_embedded == 3
    assert_consistent(good)


CHILD = """
import sys, time
from pathlib import Path
import kbassist.adapters.index as ix
from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.adapters.package.loader import load_package

kb, data, point, marker = sys.argv[1:5]

def stop_here():
    Path(marker).write_text("ready")
    time.sleep(600)

if point == "mid-add":
    ix.EMBED_BATCH = 1
    ix.max_batch_size = lambda client: 1
    real_add = ix._Build._add
    def add(self, nodes):
        real_add(self, nodes)
        if nodes:
            stop_here()
    ix._Build._add = add
else:
    real_write = ix._write_json_atomic
    def write(path, data, **options):
        if path.name == ix.MANIFEST and point == "before-swap":
            stop_here()
        real_write(path, data, **options)
        if path.name == ix.MANIFEST and point == "after-swap":
            stop_here()
    ix._write_json_atomic = write
ix.KnowledgeIndex(Path(data), MiniLMEmbedder()).build(load_package(Path(kb)))
"""


@pytest.mark.parametrize(("point", "serving"), [
    ("mid-add", "old"), ("before-swap", "old"), ("after-swap", "new"),
])
def test_a_killed_build_leaves_a_serving_index_and_the_next_run_completes(
        kb: Path, tmp_path: Path, index: KnowledgeIndex, point: str, serving: str) -> None:
    old = index.build(load(kb)).kb_version
    package = edit_doc(kb)
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(kb), str(tmp_path / "data"),
                              point, str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the build finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    expected = old if serving == "old" else package.kb_version
    assert index.current_version() == expected
    retriever = index.open_retriever()
    assert retriever.kb_version == expected
    assert retriever.retrieve("single sign-on with SAML", k=1)[0].chunk.ref_id == "sso-support"
    retriever.close()
    summary = index.build(package)
    assert summary.kb_version == package.kb_version
    assert summary.unchanged == (serving == "new")
    assert top_ids(index, "support desk answers tickets within an hour")[0] == (
        f"doc:{DOC}#support")
    assert_consistent(index)


def test_a_corrupt_manifest_is_reported_and_rebuilt(kb: Path, index: KnowledgeIndex) -> None:
    index.build(load(kb))
    manifest = index.root / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])  # half-written
    message = r"index at .* is unreadable: manifest.json: .*run 'kbassist index' to rebuild"
    with pytest.raises(IndexError_, match=message):
        index.open_retriever()
    with pytest.raises(IndexError_, match=message):
        index.current_version()
    summary = index.build(load(kb))
    assert summary.chunks_embedded == summary.chunks  # from scratch
    assert top_ids(index, "single sign-on with SAML")[0] == "claim:sso-support"
    assert_consistent(index)


def test_a_corrupt_vector_store_is_reported_and_rebuilt(kb: Path,
                                                        index: KnowledgeIndex) -> None:
    index.build(load(kb))
    (index.root / "chroma" / "chroma.sqlite3").write_bytes(b"not a database" * 100)
    with pytest.raises(IndexError_, match="is unreadable: .*run 'kbassist index' to rebuild"):
        index.open_retriever()
    index.build(load(kb))
    assert top_ids(index, "single sign-on with SAML")[0] == "claim:sso-support"
    assert_consistent(index)


@pytest.mark.parametrize("victim", ["records", "bm25"])
def test_missing_sidecar_files_are_reported(kb: Path, index: KnowledgeIndex,
                                            victim: str) -> None:
    index.build(load(kb))
    manifest = index.manifest()
    assert manifest is not None
    if victim == "records":
        (index.root / "records" / f"{manifest.files['claims.yaml'].key}.json").unlink()
        where = "records/"
    else:
        shutil.rmtree(index.root / manifest.version_dir / "bm25")
        where = "versions/"
    with pytest.raises(IndexError_, match=f"is unreadable: {where}"):
        index.open_retriever()
    summary = index.build(load(kb))  # repairs without re-embedding
    assert summary.chunks_embedded == 0
    assert top_ids(index, "single sign-on with SAML")[0] == "claim:sso-support"
    assert_consistent(index)


def test_no_index_yet(index: KnowledgeIndex) -> None:
    assert index.current_version() is None
    with pytest.raises(IndexError_, match="no index at .*run 'kbassist index' first"):
        index.open_retriever()


def test_another_embedding_model_needs_a_rebuild(kb: Path, tmp_path: Path,
                                                 index: KnowledgeIndex,
                                                 embedder: MiniLMEmbedder) -> None:
    index.build(load(kb))
    other = FailingEmbedder(embedder, fail_on=0)
    other.model_id = "another-model"
    with pytest.raises(IndexError_, match="was built with .*run 'kbassist index'"):
        KnowledgeIndex(tmp_path / "data", other).open_retriever()


def test_adds_stay_within_chromas_batch_limit(kb: Path, index: KnowledgeIndex,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real_add = index_module.ChromaVectorStore.add

    def spy(self: index_module.ChromaVectorStore, nodes: list, **kwargs: object) -> list[str]:
        sizes.append(len(nodes))
        return real_add(self, nodes, **kwargs)

    monkeypatch.setattr(index_module.ChromaVectorStore, "add", spy)
    monkeypatch.setattr(index_module, "max_batch_size", lambda client: 4)
    summary = index.build(load(kb))
    assert sum(sizes) == summary.chunks_embedded == 14
    assert max(sizes) == 4
    assert_consistent(index)


def test_a_second_writer_waits_then_gives_up(kb: Path, tmp_path: Path,
                                             embedder: MiniLMEmbedder,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    index = KnowledgeIndex(tmp_path / "data", embedder, lock_timeout=0.2)
    index.root.mkdir(parents=True)
    with FileLock(str(index.root / "write.lock")), pytest.raises(
            IndexError_, match="another 'kbassist index' still holds"):
        index.build(load(kb))
    assert "another index build is running" in capsys.readouterr().err
    assert index.current_version() is None


def test_nothing_internal_reaches_the_disk(kb: Path, index: KnowledgeIndex) -> None:
    index.build(load(kb))
    for path in index.root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"Zephyrquill" not in data and b"Obsidianmoor" not in data, path


def test_progress_bar_stays_off_when_stderr_is_not_a_terminal(
        kb: Path, index: KnowledgeIndex, capsys: pytest.CaptureFixture[str]) -> None:
    index.build(load(kb), progress=True)
    assert "Embedding" not in capsys.readouterr().err


def test_manifest_records_the_version(kb: Path, index: KnowledgeIndex) -> None:
    package = load(kb)
    index.build(package)
    data = json.loads((index.root / "manifest.json").read_text())
    assert data["kb_version"] == package.kb_version and data["generation"] == 1
    assert data["embedding_model"] == "MiniLMEmbedder/384"
    assert {path: entry["sha256"] for path, entry in data["files"].items()} == (
        package.file_hashes)


@pytest.mark.parametrize(("url", "error"), [
    ("http://127.0.0.1:8000", None),
    ("https://chroma.internal", None),
    ("127.0.0.1:9000", None),
    ("ftp://host", "is not http"),
])
def test_chroma_url(tmp_path: Path, url: str, error: str | None) -> None:
    if error:
        with pytest.raises(IndexError_, match=error):
            client_factory(tmp_path, url)
    else:
        assert callable(client_factory(tmp_path, url))


def test_incremental_bm25_equals_bm25s_from_scratch() -> None:
    texts = ["Robots charge themselves overnight", "Pricing is per robot per month",
             "The fleet map shows every robot", "Robots robots robots everywhere",
             "An empty-ish one", "Single sign-on with SAML"]
    ids = [f"c{n}" for n in range(len(texts))]
    reference = bm25s.BM25()
    reference.index([bm25_tokens(t) for t in texts], show_progress=False)
    first = update_postings(None, [], ids, texts.__getitem__)
    ours = bm25_from_postings(first)
    # Change one text, drop one, add one, reorder: the update must equal a rebuild.
    texts2 = ["Fleet SAML login", texts[0], "Pricing is per robot per year", *texts[2:5]]
    ids2 = ["c6", ids[0], "c1b", *ids[2:5]]
    updated = bm25_from_postings(update_postings(first, ids, ids2, texts2.__getitem__))
    rebuilt = bm25s.BM25()
    rebuilt.index([bm25_tokens(t) for t in texts2], show_progress=False)
    for query in ["robot pricing", "fleet map", "saml", "robots", "overnight charge"]:
        tokens = bm25_tokens(query)
        np.testing.assert_allclose(ours.get_scores(tokens), reference.get_scores(tokens),
                                   rtol=1e-5)
        np.testing.assert_allclose(updated.get_scores(tokens), rebuilt.get_scores(tokens),
                                   rtol=1e-5)


def test_lost_bm25_postings_are_rebuilt_from_the_records(kb: Path,
                                                         index: KnowledgeIndex) -> None:
    index.build(load(kb))
    manifest = index.manifest()
    assert manifest is not None
    (index.root / manifest.version_dir / "postings.npz").unlink()
    index.build(edit_doc(kb))
    assert top_ids(index, "Harbor Logistics downtime")[0] == "claim:harbor-logistics-story"


def test_documents_without_file_hashes_still_index(tmp_path: Path,
                                                   embedder: MiniLMEmbedder) -> None:
    """Packages built in code (no loader) have no file hashes or kb_version."""
    package = load(make_package(tmp_path / "kb")).model_copy(
        update={"file_hashes": {}, "kb_version": ""})
    index = KnowledgeIndex(tmp_path / "data", embedder)
    summary = index.build(package)
    assert summary.kb_version and summary.files_total == 5 - 1
    changed = package.model_copy(update={"claims": package.claims[:-1]})
    summary = index.build(changed)
    assert (summary.files_reembedded, summary.chunks_embedded) == (1, 5)
    assert MESSAGING_MD  # the fixture package carries one messaging document


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real Chroma server on loopback, as a multi-process deployment would use."""
    cli = Path(sys.executable).with_name("chroma")
    if not cli.exists():
        pytest.skip("the chroma CLI is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([str(cli), "run", "--path", str(tmp_path / "server"),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def test_a_chroma_server_works_with_no_other_change(kb: Path, tmp_path: Path,
                                                     embedder: MiniLMEmbedder,
                                                     chroma_server: str) -> None:
    index = KnowledgeIndex(tmp_path / "data", embedder, chroma_url=chroma_server)
    index.build(load(kb))
    retriever = index.open_retriever()
    assert retriever.retrieve_ids("battery prediction", 1) == ["roadmap:battery-forecast"]
    summary = index.build(edit_doc(kb))
    assert summary.chunks_embedded == 3
    assert retriever.retrieve_ids("support desk answers tickets within an hour", 1) == [
        f"doc:{DOC}#support"]
    assert not (index.root / "chroma").exists()  # every vector lives in the server
    retriever.close()
