"""Hybrid retrieval over one serving index version: dense (Chroma) + BM25 (bm25s), fused
with reciprocal rank fusion, plus an exact-name boost for roadmap titles and aliases.

Filters run in Python on the over-fetched candidates, never as Chroma ``where`` clauses on
the hot path: a filtered Chroma query is 50-100x slower at 100k vectors. Everything the
filters and hits need (texts, metadata, BM25) is loaded once per version (see index.py),
so a query usually touches Chroma once.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, TypeVar

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from kbassist.adapters.embeddings import Embedder
from kbassist.core.chunking import chunk_from_dict
from kbassist.core.chunks import Chunk, Hit
from kbassist.core.errors import IndexError_
from kbassist.core.roadmap_policy import names_pattern

log = logging.getLogger(__name__)
_T = TypeVar("_T")

RRF_K = 60
KINDS = ("claim", "roadmap", "icp", "messaging", "reference")
BOOST = 1.0  # added to a named roadmap item's fused score; RRF scores stay below 0.04

_TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default splitter
_STOPWORDS = frozenset(STOPWORDS_EN)


def bm25_tokens(text: str) -> list[str]:
    """Lower-cased words of two or more characters, English stopwords removed. The same
    function tokenizes chunks at index time and queries at search time."""
    return [t for t in _TOKEN_PATTERN.findall(text.lower()) if t not in _STOPWORDS]


class DenseSearch(Protocol):
    """The vector store as retrieval sees it (Chroma, via a thin adapter in index.py)."""

    def query(self, vector: np.ndarray, n: int, kinds: Sequence[str] | None = None
              ) -> tuple[list[str], list[float]]:
        """Ids and cosine similarities of the ``n`` nearest vectors, best first."""
        ...

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...


class SnapshotSource(Protocol):
    """Where a retriever gets the serving version from, and how it notices a new one."""

    def stamp(self) -> object:
        """Changes whenever a new version starts serving (cheap: one stat)."""
        ...

    def load_snapshot(self) -> Snapshot: ...

    def open_dense(self) -> DenseSearch: ...


@dataclass
class Snapshot:
    """One serving version, in memory: rows are chunks in index order."""

    generation: int
    kb_version: str
    ids: list[str]  # vector-store ids, one per row
    records: list[dict[str, Any]]  # chunk records (chunking.chunk_to_dict)
    bm25: bm25s.BM25 | None
    row_of: dict[str, int] = field(init=False)
    kind_codes: np.ndarray = field(init=False)
    expires_ord: np.ndarray = field(init=False)
    for_all_personas: np.ndarray = field(init=False)
    for_all_segments: np.ndarray = field(init=False)
    persona_rows: dict[str, list[int]] = field(init=False)
    segment_rows: dict[str, list[int]] = field(init=False)
    name_patterns: list[tuple[int, re.Pattern[str]]] = field(init=False)
    _chunks: dict[int, Chunk] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        records = self.records
        self.row_of = {cid: row for row, cid in enumerate(self.ids)}
        codes = {kind: code for code, kind in enumerate(KINDS)}
        self.kind_codes = np.array([codes.get(r["kind"], -1) for r in records], dtype=np.int8)
        self.expires_ord = np.array(
            [date.fromisoformat(r["expires"]).toordinal() if r.get("expires") else 0
             for r in records], dtype=np.int64)
        self.for_all_personas = np.array([not r.get("personas") for r in records], dtype=bool)
        self.for_all_segments = np.array([not r.get("segments") for r in records], dtype=bool)
        self.persona_rows, self.segment_rows = {}, {}
        self.name_patterns = []
        for row, record in enumerate(records):
            for persona in record.get("personas", ()):
                self.persona_rows.setdefault(persona, []).append(row)
            for segment in record.get("segments", ()):
                self.segment_rows.setdefault(segment, []).append(row)
            if record["kind"] == "roadmap":
                aliases = record.get("extra", {}).get("aliases", "")
                pattern = names_pattern([record["title"], *aliases.split("\n")])
                if pattern is not None:
                    self.name_patterns.append((row, pattern))

    def __len__(self) -> int:
        return len(self.ids)

    def chunk(self, row: int) -> Chunk:
        chunk = self._chunks.get(row)
        if chunk is None:
            chunk = self._chunks[row] = chunk_from_dict(self.records[row])
        return chunk

    def mask(self, kinds: Collection[str] | None, persona: str | None, segment: str | None,
             exclude_expired_on: date | None) -> np.ndarray | None:
        """Rows that pass every filter, or None when there is no filter."""
        mask: np.ndarray | None = None

        def both(part: np.ndarray) -> np.ndarray:
            return part if mask is None else mask & part

        if kinds is not None:
            codes = [KINDS.index(kind) for kind in kinds if kind in KINDS]
            mask = both(np.isin(self.kind_codes, codes))
        if persona:
            mask = both(self._members(self.for_all_personas, self.persona_rows.get(persona)))
        if segment:
            mask = both(self._members(self.for_all_segments, self.segment_rows.get(segment)))
        if exclude_expired_on is not None:
            today = exclude_expired_on.toordinal()
            mask = both((self.expires_ord == 0) | (self.expires_ord >= today))
        return mask

    @staticmethod
    def _members(for_all: np.ndarray, rows: list[int] | None) -> np.ndarray:
        members = for_all.copy()
        if rows:
            members[rows] = True
        return members

    def bm25_search(self, query: str, n: int, mask: np.ndarray | None
                    ) -> tuple[list[int], list[float]]:
        if self.bm25 is None:
            return [], []
        vocab = self.bm25.vocab_dict
        token_ids = [vocab[t] for t in bm25_tokens(query) if t in vocab]
        if not token_ids:
            return [], []
        scores = self.bm25.get_scores_from_ids(token_ids)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return top.tolist(), scores[top].tolist()

    def named_roadmap_rows(self, query: str, mask: np.ndarray | None) -> list[int]:
        return [row for row, pattern in self.name_patterns
                if (mask is None or mask[row]) and pattern.search(query)]


class HybridRetriever:
    """Answers queries from the serving version and follows new versions as they land.

    Thread-safe: Gradio may call ``retrieve`` from several threads at once.
    """

    def __init__(self, embedder: Embedder, source: SnapshotSource, *,
                 overfetch: int = 4, min_fetch: int = 32) -> None:
        self.embedder = embedder
        self.overfetch = overfetch
        self.min_fetch = min_fetch
        self.last_timings: dict[str, float] = {}
        self._source = source
        self._lock = threading.Lock()
        self._stamp = source.stamp()
        self._failed_stamp: object = None
        self._snapshot = source.load_snapshot()
        self._dense = source.open_dense()

    @property
    def kb_version(self) -> str:
        return self._snapshot.kb_version

    @property
    def generation(self) -> int:
        return self._snapshot.generation

    def __len__(self) -> int:
        return len(self._snapshot)

    def close(self) -> None:
        with self._lock:
            self._dense.close()

    def refresh(self) -> bool:
        """Switch to a newer serving version if one landed; True if it switched. A version
        that cannot be loaded is logged and the current one keeps serving."""
        stamp = self._source.stamp()
        if stamp == self._stamp or stamp == self._failed_stamp:
            return False
        with self._lock:
            if stamp == self._stamp:
                return False
            try:
                snapshot = self._source.load_snapshot()
            except Exception as error:  # keep serving the version we have
                log.warning("new index version not loaded, keeping generation %s: %s",
                            self._snapshot.generation, error)
                self._failed_stamp = stamp
                return False
            # Reopen the store: a local Chroma client only sees another process's writes
            # once its shared system has been released and started again.
            self._dense.close()
            self._dense = self._source.open_dense()
            self._snapshot, self._stamp = snapshot, stamp
            return True

    def retrieve(self, query: str, k: int = 8, *, kinds: Collection[str] | None = None,
                 persona: str | None = None, segment: str | None = None,
                 exclude_expired_on: date | None = None) -> list[Hit]:
        """The ``k`` best chunks for ``query`` that pass the filters. A chunk with no
        personas (segments) applies to every persona (segment)."""
        self.refresh()
        snapshot = self._snapshot
        timings = {"embed_ms": 0.0, "dense_ms": 0.0, "bm25_ms": 0.0, "fuse_ms": 0.0}
        self.last_timings = timings
        if not query.strip() or k <= 0 or not len(snapshot):
            return []
        started = time.perf_counter()
        vector = np.asarray(self.embedder.embed_batch([query])[0], dtype=np.float32)
        mark = _lap(timings, "embed_ms", started)
        mask = snapshot.mask(kinds, persona, segment, exclude_expired_on)
        fetch = max(self.overfetch * k, self.min_fetch)
        dense_rows, dense_scores = self._dense_search(snapshot, vector, fetch, k, mask, kinds)
        mark = _lap(timings, "dense_ms", mark)
        bm25_rows, bm25_scores = snapshot.bm25_search(query, fetch, mask)
        mark = _lap(timings, "bm25_ms", mark)
        hits = self._fuse(snapshot, vector, query, k, mask, dense_rows, dense_scores,
                          bm25_rows, bm25_scores)
        _lap(timings, "fuse_ms", mark)
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        return hits

    def retrieve_ids(self, query: str, k: int = 8, **filters: Any) -> list[str]:
        """Node ids of the hits, best first (for evals and benchmarks)."""
        return [hit.chunk.node_id for hit in self.retrieve(query, k, **filters)]

    def _dense_search(self, snapshot: Snapshot, vector: np.ndarray,
                      fetch: int, k: int, mask: np.ndarray | None,
                      kinds: Collection[str] | None) -> tuple[list[int], list[float]]:
        """Unfiltered nearest neighbours, filtered here. When the filters leave fewer
        than ``k``, fetch 8x more; as a last resort ask Chroma to filter by kind."""
        n = fetch
        rows: list[int] = []
        scores: list[float] = []
        for attempt in range(3):
            if attempt < 2:
                ids, similarities = self._query(vector, n)
            elif kinds:
                ids, similarities = self._query(vector, fetch, sorted(kinds))
            else:
                break
            rows, scores = _keep(snapshot, mask, ids, similarities)
            if mask is None or len(rows) >= k or len(ids) < n:
                break
            n *= 8
        return rows, scores

    def _query(self, vector: np.ndarray, n: int,
               kinds: Sequence[str] | None = None) -> tuple[list[str], list[float]]:
        return self._dense_call(lambda dense: dense.query(vector, n, kinds))

    def _dense_call(self, call: Callable[[DenseSearch], _T]) -> _T:
        """Run ``call`` on the vector store; if it fails (a Chroma server restarting, a
        stale client), reopen the store once and retry, so the app recovers without a
        restart. Still failing: one IndexError_ line, and the next call tries again."""
        with self._lock:
            try:
                return call(self._dense)
            except Exception as error:
                log.info("vector store call failed (%s); reopening it", error)
            try:
                self._dense.close()
            except Exception as error:  # closing must never hide the real outcome
                log.debug("closing the vector store failed: %s", error)
            try:
                self._dense = self._source.open_dense()
                return call(self._dense)
            except Exception as error:
                detail = str(error).strip().splitlines()[0] if str(error).strip() else (
                    type(error).__name__)
                raise IndexError_(f"the vector store is unavailable: {detail}") from error

    def _fuse(self, snapshot: Snapshot, vector: np.ndarray, query: str,
              k: int, mask: np.ndarray | None, dense_rows: list[int],
              dense_scores: list[float], bm25_rows: list[int],
              bm25_scores: list[float]) -> list[Hit]:
        fused: dict[int, float] = {}
        for rows in (dense_rows, bm25_rows):
            for rank, row in enumerate(rows, start=1):
                fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank)
        cosine = dict(zip(dense_rows, dense_scores, strict=True))
        lexical = dict(zip(bm25_rows, bm25_scores, strict=True))
        order = sorted(fused, key=lambda row: (-fused[row], row))
        named = snapshot.named_roadmap_rows(query, mask)
        if named:
            named.sort(key=lambda row: (-fused.get(row, 0.0), row))
            for row in named:
                fused[row] = fused.get(row, 0.0) + BOOST
            order = named + [row for row in order if row not in set(named)]
        top = order[:k]
        self._fill_cosine(snapshot, vector, top, cosine)
        return [Hit(chunk=snapshot.chunk(row), score=fused[row], dense_score=cosine.get(row),
                    bm25_score=lexical.get(row), rank=rank)
                for rank, row in enumerate(top, start=1)]

    def _fill_cosine(self, snapshot: Snapshot, vector: np.ndarray,
                     rows: list[int], cosine: dict[int, float]) -> None:
        """Hits found by BM25 or by name alone get their cosine too (one small Chroma get),
        so confidence checks can rely on ``dense_score``."""
        missing = [snapshot.ids[row] for row in rows if row not in cosine]
        if not missing:
            return
        vectors = self._dense_call(lambda dense: dense.vectors(missing))
        norm = float(np.linalg.norm(vector)) or 1.0
        for cid, stored in vectors.items():
            row = snapshot.row_of.get(cid)
            if row is None:
                continue
            similarity = float(np.dot(stored, vector)) / ((float(np.linalg.norm(stored)) or 1.0)
                                                          * norm)
            cosine[row] = min(1.0, max(-1.0, similarity))


def _keep(snapshot: Snapshot, mask: np.ndarray | None, ids: list[str],
          similarities: list[float]) -> tuple[list[int], list[float]]:
    """Rows of the serving version that pass the mask; ids of other versions are skipped."""
    rows: list[int] = []
    scores: list[float] = []
    row_of = snapshot.row_of
    for cid, similarity in zip(ids, similarities, strict=True):
        row = row_of.get(cid)
        if row is not None and (mask is None or mask[row]):
            rows.append(row)
            scores.append(similarity)
    return rows, scores


def _lap(timings: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    timings[name] = (now - since) * 1000
    return now
