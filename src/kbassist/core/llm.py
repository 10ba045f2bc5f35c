"""The one interface every generating backend implements: ``complete`` and ``stream``.

Everything else (prompt rendering, governance checks, regeneration, fallbacks) is built on
these two methods in the core, so a new provider only has to turn messages into text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"  # KBASSIST_MODEL unset, KBASSIST_LLM=openai
Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@runtime_checkable
class LLMBackend(Protocol):
    """A chat model. Implementations raise ``BackendError`` with a one-line message."""

    name: str  # "openai" | "local" | a test double's name
    model: str

    def complete(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.2
    ) -> str:
        """The whole answer at once."""
        ...

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.2
    ) -> Iterator[str]:
        """The answer in pieces; a stream cut before the model finished raises BackendError."""
        ...
