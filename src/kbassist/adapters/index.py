"""Build and serve the search index of a knowledge package: vectors in Chroma (through
llama-index's ChromaVectorStore), BM25 with bm25s, chunk records in sidecar files.

Layout under ``<data_dir>/index``::

    manifest.json          the serving version (replaced with os.replace, never edited)
    pending.json           vector ids a build may leave behind; cleared by the next build
    write.lock             held by the one build allowed at a time
    chroma/                Chroma persist dir (absent when a Chroma server is used)
    records/<key>.json     one file's chunk records, named by its content key and shared
                           by every version that contains that file content
    versions/<gen>-<rand>/ bm25/ (a bm25s index) and postings.npz + vocab.json (the term
                           counts the next version starts from)

Atomicity. Vector ids are ``<node id>@<file content key>``, so a changed file gets new ids
and never overwrites a serving vector. A build (1) journals the ids it is about to add and
the ids it will retire in ``pending.json``, (2) embeds and adds only changed files, (3)
writes new records and a complete new ``versions/`` folder, (4) swaps ``manifest.json``
and only then (5) deletes retired vectors, records and folders. Readers trust only ids
listed in the serving manifest. A crash or SIGKILL anywhere leaves the old manifest, its
files and its vectors untouched; the next build deletes every journaled id the serving
manifest does not list (a killed Chroma add can leave zeroed vectors behind), then runs.
Only the manifest and the journal are fsynced: after a power cut a version whose other
files were lost is reported as unreadable, and the next build repairs or rebuilds it.

Cost. A one-file change re-chunks, re-embeds and rewrites only that file; the rest is
linear numpy work on the BM25 postings and the manifest (about 1.5 s at 100k chunks).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import os
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import bm25s
import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings
from filelock import FileLock, Timeout
from tqdm import tqdm

from kbassist.adapters.embeddings import Embedder
from kbassist.adapters.files import write_text_atomic
from kbassist.adapters.retrieval import HybridRetriever, Snapshot, bm25_tokens
from kbassist.core.chunking import (
    CHUNKER_VERSION,
    CLAIMS_FILE,
    ICP_FILE,
    ROADMAP_FILE,
    chunk_files,
    chunk_from_dict,
    chunk_to_dict,
    index_text,
)
from kbassist.core.chunks import Chunk
from kbassist.core.errors import IndexError_
from kbassist.core.models import KnowledgePackage

if TYPE_CHECKING:  # llama-index is imported by builds only: it adds ~1.5 s to `ask`
    from llama_index.core.schema import TextNode

log = logging.getLogger(__name__)


def __getattr__(name: str) -> Any:
    """``ChromaVectorStore`` on first use: importing llama-index adds ~1.5 s to every
    ``kbassist ask``, which never builds."""
    if name == "ChromaVectorStore":
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


FORMAT = 1
INDEX_DIR = "index"
MANIFEST = "manifest.json"
PENDING = "pending.json"
LOCK = "write.lock"
CHROMA_DIR = "chroma"
VERSIONS = "versions"
RECORDS = "records"
BM25_DIR = "bm25"
POSTINGS = "postings.npz"
VOCAB = "vocab.json"
EMBED_BATCH = 64  # texts per embed call: one progress step
BM25_K1, BM25_B = 1.5, 0.75  # bm25s defaults (method "lucene")
PROBE_ATTEMPTS = 3

ClientFactory = Callable[[], ClientAPI]


@dataclass(frozen=True)
class IndexSummary:
    kb_version: str
    chunks: int
    files_total: int
    files_reembedded: int
    files_removed: int
    chunks_embedded: int
    seconds: float
    unchanged: bool  # nothing to do: the serving version already matches the package
    generation: int = 0


def model_id(embedder: Embedder) -> str:
    """Names the embedding space; a different model means a different collection."""
    name = getattr(embedder, "model_id", None) or type(embedder).__name__
    return f"{name}/{embedder.dimension}"


def chroma_settings() -> Settings:
    return Settings(anonymized_telemetry=False)


def client_factory(index_dir: Path, chroma_url: str | None = None) -> ClientFactory:
    """A local persistent Chroma under ``index_dir/chroma``, or a Chroma server."""
    if not chroma_url:
        path = str(index_dir / CHROMA_DIR)
        return lambda: chromadb.PersistentClient(path=path, settings=chroma_settings())
    url = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise IndexError_(f"chroma url '{chroma_url}' is not http(s)://host[:port]")
    ssl = url.scheme == "https"
    host, port = url.hostname, url.port or (443 if ssl else 8000)
    return lambda: chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings())


# ---------------------------------------------------------------- manifest


@dataclass(frozen=True)
class FileEntry:
    sha256: str  # of the file bytes ("" when the package did not say)
    key: str  # content key of the file's chunks: what decides re-embedding
    ids: tuple[str, ...]  # vector ids of its chunks, in chunk order


@dataclass(frozen=True)
class Manifest:
    kb_version: str
    generation: int
    version_dir: str  # relative to the index dir
    embedding_model: str
    collection: str
    chunker: str
    created_at: str
    chunks: int
    files: dict[str, FileEntry]

    def all_ids(self) -> set[str]:
        return {cid for entry in self.files.values() for cid in entry.ids}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "kb_version": self.kb_version, "generation": self.generation,
            "version_dir": self.version_dir, "embedding_model": self.embedding_model,
            "collection": self.collection, "chunker": self.chunker,
            "created_at": self.created_at, "chunks": self.chunks,
            "files": {path: {"sha256": e.sha256, "key": e.key, "ids": list(e.ids)}
                      for path, e in self.files.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a format-{FORMAT} manifest")
        files = {path: FileEntry(str(e["sha256"]), str(e["key"]), tuple(e["ids"]))
                 for path, e in data["files"].items()}
        manifest = cls(str(data["kb_version"]), int(data["generation"]),
                       str(data["version_dir"]), str(data["embedding_model"]),
                       str(data["collection"]), str(data["chunker"]),
                       str(data["created_at"]), int(data["chunks"]), files)
        if sum(len(e.ids) for e in files.values()) != manifest.chunks:
            raise ValueError("chunk count does not match the listed ids")
        return manifest


def _write_json_atomic(path: Path, data: Any, *, durable: bool = True) -> None:
    # json.dumps runs the C encoder over the whole value; json.dump is pure Python.
    write_text_atomic(path, json.dumps(data, separators=(",", ":")), durable=durable)


# ---------------------------------------------------------------- planning


@dataclass
class _FilePlan:
    source: str
    sha256: str
    key: str
    ids: list[str]
    chunks: list[Chunk] | None  # None: unchanged file, not even re-chunked
    changed: bool  # its chunks need new vectors


def _content_key(sha256: str, chunks: Sequence[Chunk]) -> str:
    """Covers the file bytes and everything derived from them, so a file whose chunks
    change for any reason gets new vector ids."""
    digest = hashlib.sha256(f"{CHUNKER_VERSION}\n{sha256}\n".encode())
    for c in chunks:
        fields = (c.node_id, c.kind, c.ref_id, c.source, c.title, index_text(c), str(c.line),
                  c.status, c.expires, c.claim_kind, ",".join(c.personas),
                  ",".join(c.segments), c.review_by, repr(sorted(c.extra.items())))
        digest.update("\x1f".join(fields).encode() + b"\x1e")
    return digest.hexdigest()


def _file_sha(package: KnowledgePackage, documents: dict[str, str], source: str) -> str:
    return package.file_hashes.get(source) or documents.get(source, "")


def _plan(package: KnowledgePackage, previous: Manifest | None, records: Path
          ) -> list[_FilePlan]:
    """One plan per package file, sorted by path. A file whose bytes the previous version
    already indexed, with its records on disk, is not re-chunked: that keeps a one-file
    change O(changed)."""
    documents = {d.path: d.sha256 for d in package.documents}
    sources = sorted(set(package.file_hashes) | set(documents)
                     | {CLAIMS_FILE, ROADMAP_FILE, ICP_FILE})
    reusable = previous is not None and previous.chunker == CHUNKER_VERSION
    plans: dict[str, _FilePlan] = {}
    for source in sources:
        sha = _file_sha(package, documents, source)
        old = previous.files.get(source) if previous else None
        if (reusable and old is not None and sha and old.sha256 == sha
                and (not old.ids or (records / f"{old.key}.json").is_file())):
            plans[source] = _FilePlan(source, sha, old.key, list(old.ids), None, False)
    fresh = chunk_files(package, only=set(sources) - set(plans))
    for source in sources:
        if source in plans:
            continue
        chunks = fresh.get(source, [])
        sha = _file_sha(package, documents, source)
        key = _content_key(sha, chunks)
        ids = [f"{chunk.node_id}@{key[:16]}" for chunk in chunks]
        old = previous.files.get(source) if previous else None
        changed = old is None or old.key != key or list(old.ids) != ids
        plans[source] = _FilePlan(source, sha, key, ids, chunks, changed)
    return [plans[source] for source in sources]


def _kb_version(package: KnowledgePackage, plans: list[_FilePlan]) -> str:
    if package.kb_version:
        return package.kb_version
    digest = hashlib.sha256()
    for plan in plans:
        digest.update(f"{plan.source}\t{plan.key}\n".encode())
    return digest.hexdigest()[:16]


def _row_ids(files: dict[str, FileEntry]) -> list[str]:
    """Row order of a version: files sorted by path, each file's chunks in order."""
    return [cid for source in sorted(files) for cid in files[source].ids]


# ---------------------------------------------------------------- BM25


@dataclass
class _Postings:
    """Term frequencies per (term, row), sorted by term, kept per version so the next
    version only tokenizes changed files and merges instead of re-sorting (a full bm25s
    rebuild takes seconds at 100k chunks)."""

    vocab: list[str]
    terms: np.ndarray  # int32, ascending
    rows: np.ndarray  # int32
    tfs: np.ndarray  # float32
    doc_len: np.ndarray  # float32, one per row

    def save(self, folder: Path) -> None:
        np.savez(folder / POSTINGS, terms=self.terms, rows=self.rows, tfs=self.tfs,
                 doc_len=self.doc_len)
        (folder / VOCAB).write_text(json.dumps(self.vocab), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> _Postings | None:
        try:
            vocab = json.loads((folder / VOCAB).read_text(encoding="utf-8"))
            with np.load(folder / POSTINGS) as arrays:
                return cls(vocab, arrays["terms"], arrays["rows"], arrays["tfs"],
                           arrays["doc_len"])
        except (OSError, ValueError, KeyError) as error:
            log.info("no reusable BM25 postings in %s (%s); tokenizing everything", folder, error)
            return None


def update_postings(old: _Postings | None, old_ids: Sequence[str], ids: Sequence[str],
                    text_of: Callable[[int], str]) -> _Postings:
    """Postings for rows ``ids``: rows whose id ``old`` has (in ``old_ids`` order) are
    carried over, every other row is tokenized from ``text_of(row)``."""
    row_of = {cid: row for row, cid in enumerate(ids)}
    doc_len = np.zeros(len(ids), dtype=np.float32)
    known = np.zeros(len(ids), dtype=bool)
    vocab = list(old.vocab) if old is not None else []
    terms = np.zeros(0, dtype=np.int32)
    rows = np.zeros(0, dtype=np.int32)
    tfs = np.zeros(0, dtype=np.float32)
    if old is not None and len(old_ids) == len(old.doc_len):
        remap = np.fromiter((row_of.get(cid, -1) for cid in old_ids), dtype=np.int64,
                            count=len(old_ids))
        kept = remap >= 0
        doc_len[remap[kept]] = old.doc_len[kept]
        known[remap[kept]] = True
        new_rows = remap[old.rows]
        keep = new_rows >= 0
        terms, rows, tfs = old.terms[keep], new_rows[keep].astype(np.int32), old.tfs[keep]
    added = _tokenize_rows(np.flatnonzero(~known).tolist(), text_of, vocab, doc_len)
    order = np.argsort(added[0], kind="stable")  # only the new postings are sorted
    at = np.searchsorted(terms, added[0][order], side="right")
    postings = _Postings(vocab, np.insert(terms, at, added[0][order]),
                         np.insert(rows, at, added[1][order]),
                         np.insert(tfs, at, added[2][order]), doc_len)
    return _compact_vocab(postings)


def _tokenize_rows(rows: list[int], text_of: Callable[[int], str], vocab: list[str],
                   doc_len: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(terms, rows, tfs) of ``rows``; new terms are appended to ``vocab``."""
    term_of = {term: n for n, term in enumerate(vocab)}
    out_terms: list[int] = []
    out_rows: list[int] = []
    out_tfs: list[int] = []
    for row in rows:
        tokens = bm25_tokens(text_of(row))
        doc_len[row] = len(tokens)
        for term, count in Counter(tokens).items():
            out_terms.append(term_of.setdefault(term, len(term_of)))
            out_rows.append(row)
            out_tfs.append(count)
    vocab.extend(list(term_of)[len(vocab):])
    return (np.array(out_terms, dtype=np.int32), np.array(out_rows, dtype=np.int32),
            np.array(out_tfs, dtype=np.float32))


def _compact_vocab(postings: _Postings) -> _Postings:
    """Drop terms no chunk uses any more once they are the majority (order-preserving,
    so the postings stay sorted)."""
    used = np.bincount(postings.terms, minlength=len(postings.vocab)) > 0
    if used.sum() * 2 >= len(postings.vocab):
        return postings
    new_id = (np.cumsum(used) - 1).astype(np.int32)
    postings.terms = new_id[postings.terms]
    postings.vocab = [term for term, keep in zip(postings.vocab, used.tolist(), strict=True)
                      if keep]
    return postings


def bm25_from_postings(postings: _Postings) -> bm25s.BM25:
    """The bm25s index (its default method, "lucene") in one vectorised pass; equal to
    ``bm25s.BM25().index(tokens)`` on the same tokens."""
    n_docs, n_vocab = len(postings.doc_len), len(postings.vocab)
    df = np.bincount(postings.terms, minlength=n_vocab)
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
    mean_len = float(postings.doc_len.mean()) if n_docs else 0.0
    norm = BM25_K1 * ((1 - BM25_B) + BM25_B * postings.doc_len[postings.rows]
                      / (mean_len or 1.0))
    data = idf[postings.terms] * postings.tfs / (norm + postings.tfs)
    indptr = np.zeros(n_vocab + 2, dtype=np.int64)  # one extra column: bm25s's empty token
    np.cumsum(df, out=indptr[1:n_vocab + 1])
    indptr[n_vocab + 1] = indptr[n_vocab]
    bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
    bm25.scores = {"data": data.astype(np.float32), "indices": postings.rows,
                   "indptr": indptr, "num_docs": n_docs}
    bm25.vocab_dict = {term: n for n, term in enumerate(postings.vocab)}
    bm25.vocab_dict[""] = n_vocab
    bm25.unique_token_ids_set = set(bm25.vocab_dict.values())
    bm25.nonoccurrence_array = None
    return bm25


# ---------------------------------------------------------------- Chroma


class ChromaDense:
    """The retrieval side of a Chroma collection: one unfiltered query per search."""

    def __init__(self, client: ClientAPI, collection: Collection) -> None:
        self._client, self._collection = client, collection

    def query(self, vector: np.ndarray, n: int, kinds: Sequence[str] | None = None
              ) -> tuple[list[str], list[float]]:
        where: Any = {"kind": {"$in": list(kinds)}} if kinds else None
        result = self._collection.query(query_embeddings=vector.reshape(1, -1), n_results=max(n, 1),
                                        where=where, include=["distances"])
        distances = (result["distances"] or [[]])[0]
        return list(result["ids"][0]), [min(1.0, max(-1.0, 1.0 - float(d))) for d in distances]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        result = self._collection.get(ids=list(ids), include=["embeddings"])
        embeddings = result["embeddings"]
        if embeddings is None:
            return {}
        return {cid: np.asarray(vec, dtype=np.float32)
                for cid, vec in zip(result["ids"], embeddings, strict=True)}

    def close(self) -> None:
        _close(self._client)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _is_missing_collection(error: BaseException) -> bool:
    return type(error).__name__ in ("NotFoundError", "InvalidCollectionException") or (
        "does not exist" in str(error))


def _close(client: ClientAPI) -> None:
    close = getattr(client, "close", None)
    if close is not None:
        try:
            close()
        except Exception as error:  # closing must never hide the real outcome
            log.debug("closing the Chroma client failed: %s", error)


def _probe(collection: Collection, dimension: int) -> int:
    """Touch the collection the way queries will. After a killed write, Chroma's first
    call can fail while it replays its log and then succeed, so retry a little."""
    error: Exception | None = None
    for _ in range(PROBE_ATTEMPTS):
        try:
            count = collection.count()
            collection.get(limit=1, include=[])
            if count:
                probe = np.full((1, dimension), dimension ** -0.5, dtype=np.float32)
                collection.query(query_embeddings=probe, n_results=1, include=["distances"])
            return count
        except Exception as caught:
            error = caught
    raise error if error else RuntimeError("unreachable")


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), max(size, 1)):
        yield items[start:start + size]


def _node(cid: str, chunk: Chunk, vector: np.ndarray) -> TextNode:
    from llama_index.core.schema import TextNode

    metadata: dict[str, Any] = {
        "kind": chunk.kind, "ref_id": chunk.ref_id, "source": chunk.source,
        "title": chunk.title, "line": chunk.line, "status": chunk.status,
        "expires": chunk.expires, "claim_kind": chunk.claim_kind,
        "personas": ",".join(chunk.personas), "segments": ",".join(chunk.segments),
        "review_by": chunk.review_by, "chunk_id": chunk.node_id,
    }
    return TextNode(id_=cid, text=chunk.text, metadata=metadata, embedding=vector.tolist())


# ---------------------------------------------------------------- the index


class KnowledgeIndex:
    """The search index under ``<data_dir>/index``. One build at a time (file lock);
    any number of readers, which follow new versions as they are swapped in."""

    def __init__(self, data_dir: Path, embedder: Embedder, *, chroma_url: str | None = None,
                 clients: ClientFactory | None = None, lock_timeout: float = 600.0,
                 collection_prefix: str = "kbassist") -> None:
        self.root = Path(data_dir) / INDEX_DIR
        self.embedder = embedder
        self.chroma_url = chroma_url
        self.lock_timeout = lock_timeout
        self._clients = clients or client_factory(self.root, chroma_url)
        self._local = clients is None and not chroma_url
        self.model = model_id(embedder)
        digest = hashlib.sha256(self.model.encode()).hexdigest()[:12]
        self.collection_name = f"{collection_prefix}-{digest}"

    # ------------------------------------------------------------ reading

    def current_version(self) -> str | None:
        """kb_version of the serving index; None if there is none. Raises IndexError_ if
        the manifest is unreadable."""
        manifest = self._read_manifest()
        return manifest.kb_version if manifest else None

    def manifest(self) -> Manifest | None:
        return self._read_manifest()

    def open_retriever(self) -> HybridRetriever:
        """A retriever over the serving version; raises IndexError_ if there is none or
        it cannot be read."""
        return HybridRetriever(self.embedder, _ServingSource(self))

    def _unreadable(self, detail: object) -> IndexError_:
        return IndexError_(f"index at {self.root} is unreadable: {detail}; "
                           "run 'kbassist index' to rebuild")

    def _read_manifest(self) -> Manifest | None:
        path = self.root / MANIFEST
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise self._unreadable(f"{MANIFEST}: {error}") from error
        try:
            return Manifest.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError) as error:
            raise self._unreadable(f"{MANIFEST}: {error}") from error

    def _serving(self) -> Manifest:
        manifest = self._read_manifest()
        if manifest is None:
            raise IndexError_(f"no index at {self.root}; run 'kbassist index' first")
        if manifest.embedding_model != self.model:
            raise IndexError_(
                f"index at {self.root} was built with {manifest.embedding_model}, not "
                f"{self.model}; run 'kbassist index' to rebuild")
        return manifest

    def _load_snapshot(self) -> Snapshot:
        manifest = self._serving()
        where = manifest.version_dir
        try:
            ids: list[str] = []
            records: list[dict[str, Any]] = []
            for source in sorted(manifest.files):
                entry = manifest.files[source]
                if not entry.ids:
                    continue
                where = f"{RECORDS}/{entry.key}.json"
                data = json.loads((self.root / where).read_text(encoding="utf-8"))
                if data["ids"] != list(entry.ids):
                    raise ValueError("its ids differ from the manifest's")
                ids.extend(data["ids"])
                records.extend(data["chunks"])
            where = manifest.version_dir
            bm25 = None
            if ids:
                bm25 = bm25s.BM25.load(str(self.root / where / BM25_DIR), mmap=False)
                if bm25.scores["num_docs"] != len(ids):
                    raise ValueError("the BM25 index does not match the chunk list")
        except Exception as error:
            raise self._unreadable(f"{where}: {error}") from error
        return Snapshot(manifest.generation, manifest.kb_version, ids, records, bm25)

    def _open_dense(self) -> ChromaDense:
        manifest = self._serving()
        try:
            client = self._clients()
        except Exception as error:
            if not self._local:
                raise IndexError_(f"cannot reach the Chroma server at {self.chroma_url}: "
                                  f"{_first_line(error)}") from error
            raise self._unreadable(f"cannot open Chroma: {error}") from error
        try:
            collection = client.get_collection(manifest.collection, embedding_function=None)
            count = _probe(collection, self.embedder.dimension)
        except Exception as error:
            _close(client)
            if not self._local and not _is_missing_collection(error):
                raise IndexError_(f"cannot reach the Chroma server at {self.chroma_url}: "
                                  f"{_first_line(error)}") from error
            raise self._unreadable(f"Chroma collection {manifest.collection}: {error}"
                                   ) from error
        if count < manifest.chunks:
            _close(client)
            raise self._unreadable(f"Chroma holds {count} vectors, the manifest lists "
                                   f"{manifest.chunks}")
        return ChromaDense(client, collection)

    # ------------------------------------------------------------ building

    def build(self, package: KnowledgePackage, *, progress: bool = False,
              force: bool = False) -> IndexSummary:
        """Make ``package`` the serving version, re-embedding only changed files
        (every file with ``force``, which also starts the vector store afresh)."""
        started = time.perf_counter()
        self.root.mkdir(parents=True, exist_ok=True)
        with self._write_lock():
            serving = self._previous_for_build()
            client, collection, previous = self._open_for_build(None if force else serving)
            try:
                build = _Build(self, client, collection, previous, progress)
                build.last_generation = serving.generation if serving else 0
                return build.run(package, started)
            finally:
                _close(client)

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        """One build at a time: two Chroma writer processes on one directory can hang."""
        lock = FileLock(str(self.root / LOCK))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(f"kbassist: another index build is running (lock {lock.lock_file}); "
                  f"waiting up to {self.lock_timeout:.0f}s", file=sys.stderr, flush=True)
            try:
                lock.acquire(timeout=self.lock_timeout)
            except Timeout as error:
                raise IndexError_(
                    f"another 'kbassist index' still holds {lock.lock_file} after "
                    f"{self.lock_timeout:.0f}s; try again when it has finished") from error
        try:
            yield
        finally:
            lock.release()

    def _previous_for_build(self) -> Manifest | None:
        try:
            previous = self._read_manifest()
        except IndexError_ as error:
            print(f"kbassist: {error}; rebuilding from scratch", file=sys.stderr, flush=True)
            return None
        if previous and (previous.embedding_model != self.model
                         or previous.collection != self.collection_name):
            return None  # another embedding space: everything is re-embedded
        return previous

    def _open_for_build(self, previous: Manifest | None
                        ) -> tuple[ClientAPI, Collection, Manifest | None]:
        try:
            return self._try_open_for_build(previous)
        except Exception as error:
            if not self._local:
                raise IndexError_(f"cannot use the Chroma server at {self.chroma_url}: "
                                  f"{_first_line(error)}") from error
        # A local store that cannot be opened serves nobody: start it again.
        print(f"kbassist: the vector store in {self.root / CHROMA_DIR} is unreadable; "
              "rebuilding it", file=sys.stderr, flush=True)
        shutil.rmtree(self.root / CHROMA_DIR, ignore_errors=True)
        try:
            return self._try_open_for_build(None)
        except Exception as error:
            raise IndexError_(f"cannot create a vector store in {self.root}: {error}"
                              ) from error

    def _try_open_for_build(self, previous: Manifest | None
                            ) -> tuple[ClientAPI, Collection, Manifest | None]:
        client = self._clients()
        try:
            names = {c.name for c in client.list_collections()}
            if previous is None and self.collection_name in names:
                client.delete_collection(self.collection_name)  # nothing serves from it
            collection = client.get_or_create_collection(
                self.collection_name, configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None)
            count = _probe(collection, self.embedder.dimension)
            if previous is not None and count < previous.chunks:
                print(f"kbassist: the vector store holds {count} vectors but the index lists "
                      f"{previous.chunks}; re-embedding everything", file=sys.stderr)
                _close(client)
                return self._try_open_for_build(None)
            return client, collection, previous
        except Exception:
            _close(client)
            raise


class _Build:
    """One build, under the write lock."""

    def __init__(self, index: KnowledgeIndex, client: ClientAPI, collection: Collection,
                 previous: Manifest | None, progress: bool) -> None:
        self.index, self.client, self.collection = index, client, collection
        self.root = index.root
        self.previous, self.progress = previous, progress
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.store = ChromaVectorStore(chroma_collection=collection)
        self.max_batch = max_batch_size(client)
        self.last_generation = previous.generation if previous else 0

    def run(self, package: KnowledgePackage, started: float) -> IndexSummary:
        previous = self.previous
        self._recover()
        plans = _plan(package, previous, self.root / RECORDS)
        kb_version = _kb_version(package, plans)
        changed = [p for p in plans if p.changed]
        removed = sorted(set(previous.files) - {p.source for p in plans}) if previous else []
        summary = partial(IndexSummary, kb_version=kb_version,
                          chunks=sum(len(p.ids) for p in plans), files_total=len(plans),
                          files_reembedded=sum(1 for p in changed if p.ids),
                          files_removed=len(removed))
        for plan in plans:  # also restores the records of a damaged version
            if plan.chunks:
                self._write_records(plan)
        if (previous is not None and not changed and not removed
                and previous.kb_version == kb_version
                and self._complete(previous)):
            return summary(chunks_embedded=0, unchanged=True, generation=previous.generation,
                           seconds=time.perf_counter() - started)
        new_ids = {cid for p in changed for cid in p.ids}
        retired = (previous.all_ids() if previous else set()) - {
            cid for p in plans for cid in p.ids}
        _write_json_atomic(self.root / PENDING, {"ids": sorted(new_ids | retired)})
        embedded = self._embed_and_add([(cid, chunk) for p in changed
                                        for cid, chunk in zip(p.ids, p.chunks or [],
                                                              strict=True)])
        manifest = self._write_version(plans, kb_version)
        _write_json_atomic(self.root / MANIFEST, manifest.to_json())  # the switch-over
        self._delete(sorted(retired))
        (self.root / PENDING).unlink(missing_ok=True)
        self._prune(manifest)
        return summary(chunks_embedded=embedded, unchanged=False,
                       generation=manifest.generation, seconds=time.perf_counter() - started)

    def _complete(self, manifest: Manifest) -> bool:
        folder = self.root / manifest.version_dir
        return (folder / POSTINGS).is_file() and (
            not manifest.chunks or (folder / BM25_DIR).is_dir())

    def _recover(self) -> None:
        """Delete what an interrupted build may have left: journaled ids not serving."""
        pending = self.root / PENDING
        try:
            ids = json.loads(pending.read_text(encoding="utf-8"))["ids"]
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("ignoring unreadable %s: %s", pending, error)
            ids = []
        serving = self.previous.all_ids() if self.previous else set()
        self._delete([cid for cid in ids if cid not in serving])
        pending.unlink(missing_ok=True)

    def _delete(self, ids: Sequence[str]) -> None:
        for batch in _batches(ids, self.max_batch):
            self.store.delete_nodes(node_ids=list(batch))

    def _embed_and_add(self, items: list[tuple[str, Chunk]]) -> int:
        """Embed in length order (less padding), add in batches Chroma accepts."""
        if not items:
            return 0
        items.sort(key=lambda item: len(index_text(item[1])))
        if self.collection.count():  # ids of an interrupted run must not be reused as-is
            self._delete([cid for cid, _ in items])
        show = self.progress and sys.stderr.isatty()
        waiting: list[TextNode] = []
        with tqdm(total=len(items), desc="Embedding", unit="chunk", file=sys.stderr,
                  disable=not show, leave=False) as bar:
            for batch in _batches(items, EMBED_BATCH):
                vectors = self.index.embedder.embed_batch([index_text(c) for _, c in batch])
                if len(vectors) != len(batch):
                    raise IndexError_(f"the embedder returned {len(vectors)} vectors for "
                                      f"{len(batch)} texts")
                waiting.extend(_node(cid, chunk, vector)
                               for (cid, chunk), vector in zip(batch, vectors, strict=True))
                bar.update(len(batch))
                if len(waiting) >= self.max_batch:
                    self._add(waiting[:self.max_batch])
                    del waiting[:self.max_batch]
            self._add(waiting)
        return len(items)

    def _add(self, nodes: list[TextNode]) -> None:
        # ChromaVectorStore.add sends everything in one call, which can exceed Chroma's
        # limit (5,461 locally), so never hand it more than max_batch nodes.
        for batch in _batches(nodes, self.max_batch):
            self.store.add(list(batch))

    def _write_version(self, plans: list[_FilePlan], kb_version: str) -> Manifest:
        previous = self.previous
        generation = self.last_generation + 1
        version_dir = f"{VERSIONS}/{generation:06d}-{uuid.uuid4().hex[:8]}"
        folder = self.root / version_dir
        folder.mkdir(parents=True)
        files = {p.source: FileEntry(p.sha256, p.key, tuple(p.ids)) for p in plans}
        ids = _row_ids(files)
        old = _Postings.load(self.root / previous.version_dir) if previous else None
        old_ids = _row_ids(previous.files) if previous else []
        postings = update_postings(old, old_ids, ids, self._text_lookup(plans))
        postings.save(folder)
        if ids:
            bm25_from_postings(postings).save(str(folder / BM25_DIR), show_progress=False)
        return Manifest(
            kb_version=kb_version, generation=generation, version_dir=version_dir,
            embedding_model=self.index.model, collection=self.index.collection_name,
            chunker=CHUNKER_VERSION, created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            chunks=len(ids), files=files)

    def _write_records(self, plan: _FilePlan) -> None:
        """Chunk records are stored per file under their content key, shared by every
        version that contains that file, so an unchanged file is never rewritten."""
        path = self.root / RECORDS / f"{plan.key}.json"
        if path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        records = [chunk_to_dict(chunk) for chunk in plan.chunks or []]
        _write_json_atomic(path, {"source": plan.source, "ids": plan.ids, "chunks": records},
                           durable=False)

    def _text_lookup(self, plans: list[_FilePlan]) -> Callable[[int], str]:
        """Index text of a row: from memory for re-chunked files, else from its records
        (only needed when the previous postings cannot be reused)."""
        starts: list[int] = []
        total = 0
        for plan in plans:
            starts.append(total)
            total += len(plan.ids)
        loaded: dict[int, list[str]] = {}

        def text_of(row: int) -> str:
            n = bisect.bisect_right(starts, row) - 1
            if n not in loaded:
                plan = plans[n]
                if plan.chunks is not None:
                    loaded[n] = [index_text(chunk) for chunk in plan.chunks]
                else:
                    data = json.loads((self.root / RECORDS / f"{plan.key}.json").read_text(
                        encoding="utf-8"))
                    loaded[n] = [index_text(chunk_from_dict(r)) for r in data["chunks"]]
            return loaded[n][row - starts[n]]

        return text_of

    def _prune(self, manifest: Manifest) -> None:
        """Keep the new version and the one before it (a reader may be loading it)."""
        keep = [manifest] + ([self.previous] if self.previous else [])
        folders = {m.version_dir for m in keep}
        versions = self.root / VERSIONS
        for folder in versions.iterdir() if versions.is_dir() else ():
            if f"{VERSIONS}/{folder.name}" not in folders:
                shutil.rmtree(folder, ignore_errors=True)
        keys = {f"{e.key}.json" for m in keep for e in m.files.values()}
        records = self.root / RECORDS
        for path in records.iterdir() if records.is_dir() else ():
            if path.name not in keys:
                path.unlink(missing_ok=True)


def max_batch_size(client: ClientAPI) -> int:
    return int(client.get_max_batch_size())


class _ServingSource:
    """Gives a retriever the serving version and tells it when a new one lands."""

    def __init__(self, index: KnowledgeIndex) -> None:
        self.index = index

    def stamp(self) -> object:
        try:
            info = os.stat(self.index.root / MANIFEST)
        except OSError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def load_snapshot(self) -> Snapshot:
        last: IndexError_ | None = None
        for _ in range(2):  # a build may prune the folder between our two reads
            try:
                return self.index._load_snapshot()
            except IndexError_ as error:
                last = error
        assert last is not None
        raise last

    def open_dense(self) -> ChromaDense:
        return self.index._open_dense()
