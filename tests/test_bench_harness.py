"""Smoke tests of the benchmark harness (benchmarks/) at tiny sizes: it runs end to end and
its report is well formed. No timing is asserted here; `make bench` measures."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import embed_cache  # noqa: E402
import run  # noqa: E402
import synth  # noqa: E402

from kbassist.adapters.package.loader import load_package  # noqa: E402
from kbassist.core.chunking import chunk_package  # noqa: E402


class CountingEmbedder:
    dimension = 384

    def __init__(self) -> None:
        self.calls = 0

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        rng = np.random.default_rng(len(texts))
        vectors = rng.normal(size=(len(texts), 384)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("chunks", [300, 1200])
def test_synthetic_packages_are_valid_and_near_their_size(tmp_path: Path, chunks: int) -> None:
    package = load_package(synth.generate(chunks, tmp_path / "kb"))
    count = len(chunk_package(package))
    assert abs(count - chunks) <= 0.1 * chunks + 30
    assert len(package.claims) > 38 and len(package.roadmap) >= 10  # sample + generated


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = synth.generate(400, tmp_path / "a")
    second = synth.generate(400, tmp_path / "b")
    files = sorted(p.relative_to(first) for p in first.rglob("*.md"))
    assert files == sorted(p.relative_to(second) for p in second.rglob("*.md"))
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)


def test_the_vector_cache_embeds_each_text_once_and_persists(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    cache = embed_cache.CachedEmbedder(tmp_path / "cache.npz", inner=inner)  # type: ignore[arg-type]
    first = cache.embed_batch(["a", "b", "a"])
    assert inner.calls == 2 and np.allclose(first[0], first[2])
    cache.save()
    again = embed_cache.CachedEmbedder(tmp_path / "cache.npz", inner=inner)  # type: ignore[arg-type]
    assert np.allclose(again.embed_batch(["b"]), first[1:2]) and inner.calls == 2
    again.passthrough = True  # queries are always embedded for real
    again.embed_batch(["b"])
    assert inner.calls == 3


def test_stand_in_vectors_are_unit_length_and_counted(tmp_path: Path) -> None:
    cache = embed_cache.CachedEmbedder(None, inner=CountingEmbedder())  # type: ignore[arg-type]
    cache.embed_batch(["a", "b"])
    cache.substitute = True
    vectors = cache.embed_batch(["a", "new one", "another"])
    assert cache.substituted == 2 and cache.inner.calls == 2  # type: ignore[attr-defined]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_one_tiny_size_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """kbassist, peer and limit at ~250 chunks, then the report."""
    monkeypatch.setattr(run, "DATA", tmp_path)
    monkeypatch.setattr(run, "CACHE", tmp_path / "embed-cache.npz")
    result = run.bench_size("250", queries=6, peer=True)
    result["derived"] = run.derive(result)
    kb = result["kbassist"]
    assert kb["chunks"] > 200 and kb["index_embedded_for_real"] == kb["chunks"]
    assert kb["reindex_files_reembedded"] == 1
    assert 0 <= kb["hit_at_5"]["rate"] <= 1 and kb["hit_at_5"]["cases"] > 10
    assert result["peer"]["chunks"] > 0 and result["limit"]["search_ms"]["p50"] >= 0
    results = {"machine": "test", "date": "today", "wall_s": 1.0, "sizes": {"250": result},
               "cold_start": []}
    results["targets"] = run.targets(results)
    results["notes"] = run.notes(results)
    report = run.to_markdown(results)
    assert "| 250 |" in report and "re-index one file at 250" in report


def test_sizes_parse() -> None:
    assert [run.size_chunks(s) for s in ("sample", "1k", "10k", "250")] == [0, 1000, 10000, 250]
    with pytest.raises(ValueError):
        run.size_chunks("lots")


def test_the_large_size_path_uses_real_seeds_and_stand_ins(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """What 100k does, at 250 chunks: real vectors for the sample package and a seed sample,
    stand-ins for the rest, saved cache of real vectors only."""
    monkeypatch.setattr(run, "DATA", tmp_path)
    monkeypatch.setattr(run, "CACHE", tmp_path / "embed-cache.npz")
    monkeypatch.setattr(run, "CACHED_FROM", 200)
    monkeypatch.setattr(run, "SEED_VECTORS", 40)
    result = run.bench_size("250", queries=4, peer=False)
    kb = result["kbassist"]
    assert kb["index_embedded_for_real"] == 0 and kb["index_vectors_substituted"] > 0
    assert kb["index_vectors_from_cache"] + kb["index_vectors_substituted"] == kb["chunks"]
    saved = embed_cache.CachedEmbedder(tmp_path / "embed-cache.npz")
    assert 40 <= len(saved) < kb["chunks"]
