"""LLM backends: one small interface (``complete``, ``stream``) and a factory.

The backends themselves are imported lazily so that importing ``kbassist.adapters.llm`` (for the
``Message`` type or the test doubles) never loads the OpenAI client or starts anything.
"""

from __future__ import annotations

from kbassist.core.errors import BackendError
from kbassist.core.llm import DEFAULT_OPENAI_MODEL, LLMBackend, Message

__all__ = ["BACKEND_KINDS", "LLMBackend", "Message", "make_backend"]

BACKEND_KINDS = ("offline", "openai", "local")


def make_backend(
    kind: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float = 30,
    max_retries: int = 2,
) -> LLMBackend | None:
    """The backend for ``KBASSIST_LLM``: None for "offline" (the deterministic composer).

    "local" starts a llama.cpp server on the packaged SmolLM2 model (stopped at exit); its
    ``base_url`` and ``api_key`` are ignored, and ``model`` is used only when it names a
    ``.gguf`` file (so a ``KBASSIST_MODEL`` meant for OpenAI doesn't break it).
    """
    choice = (kind or "offline").strip().lower()
    if choice == "offline":
        return None
    if choice == "openai":
        from kbassist.adapters.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(
            base_url,
            api_key,
            model or DEFAULT_OPENAI_MODEL,
            timeout=timeout,
            max_retries=max_retries,
        )
    if choice == "local":
        from kbassist.adapters.llm.local import local_backend

        gguf = model if model and model.lower().endswith(".gguf") else None
        return local_backend(model_path=gguf, timeout=timeout, max_retries=max_retries)
    raise BackendError(
        f"unknown LLM backend '{kind}' (KBASSIST_LLM must be one of {', '.join(BACKEND_KINDS)})"
    )
