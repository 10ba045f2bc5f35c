"""Test doubles for ``LLMBackend``, shipped in the package so every test suite can use them
(in the spirit of pydantic-ai's ``TestModel`` and ``FunctionModel``).

``FunctionBackend`` answers with a function of the messages; ``ScriptedBackend`` answers
from a list, in order, and raises ``BackendError`` for scripted failures. Both record the
messages they were sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from kbassist.core.errors import BackendError
from kbassist.core.llm import Message


class FunctionBackend:
    """Answers ``fn(messages)``; streams it word by word."""

    def __init__(
        self, fn: Callable[[list[Message]], str], *, name: str = "function", model: str = "fn"
    ) -> None:
        self.fn = fn
        self.name = name
        self.model = model
        self.calls: list[list[Message]] = []

    def complete(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.2
    ) -> str:
        sent = [dict(m) for m in messages]
        self.calls.append(sent)
        return self.fn(sent)

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.2
    ) -> Iterator[str]:
        text = self.complete(messages, max_tokens=max_tokens, temperature=temperature)
        words = text.split(" ")
        for index, word in enumerate(words):
            yield word if index == len(words) - 1 else word + " "


class ScriptedBackend(FunctionBackend):
    """Answers each call with the next scripted item; a ``BackendError`` item is raised."""

    def __init__(
        self,
        replies: Iterable[str | BackendError],
        *,
        name: str = "scripted",
        model: str = "script",
    ) -> None:
        self.replies = list(replies)
        super().__init__(self._next, name=name, model=model)

    def _next(self, messages: list[Message]) -> str:
        if not self.replies:
            raise BackendError(f"{self.name}: no scripted reply left")
        reply = self.replies.pop(0)
        if isinstance(reply, BackendError):
            raise reply
        return reply
