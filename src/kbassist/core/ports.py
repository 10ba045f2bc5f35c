"""The small interfaces the core and the use cases are written against.

Adapters implement them (``adapters.embeddings.MiniLMEmbedder``, ``adapters.index``,
``adapters.llm``); tests use the shipped fakes in
``kbassist.testing``. The LLM interface lives in ``core.llm``, the audit sink's in
``core.results``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

# A function from texts to an (n, dimension) array of L2-normalised float32 vectors.
Embed = Callable[[Sequence[str]], np.ndarray]


class Embedder(Protocol):
    """The one method an embedding backend writes; everything else is built on it."""

    dimension: int

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dimension), L2-normalised, float32."""
        ...


def memoize_embed(embed: Embed, maxsize: int = 4096) -> Embed:
    """Wrap an embedder so repeated texts (a package's pains, claims, sentences checked over
    and over) are embedded once. The one embedding cache between the use cases and the model."""
    cache: dict[str, np.ndarray] = {}

    def cached(texts: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in cache))
        if todo:
            if len(cache) + len(todo) > maxsize:
                cache.clear()
            cache.update(zip(todo, np.asarray(embed(todo), dtype=np.float32), strict=True))
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 0), np.float32)

    return cached
