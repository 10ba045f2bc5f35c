"""A backend for any OpenAI-compatible chat endpoint: OpenAI, Azure OpenAI (v1 API via
``base_url``), vLLM, Ollama, llama.cpp.

Retries are ours, not the client's (the client is built with ``max_retries=0``): we want
Retry-After capped at a wait a person will sit through, no silent retries of timeouts (a
slow server stays slow), and the sleep injectable so tests don't wait.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import openai

from kbassist.core.errors import BackendError
from kbassist.core.llm import Message
from kbassist.core.net import is_loopback_url

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
LOOPBACK_DUMMY_KEY = "sk-no-key-needed"  # local servers ignore the key, the client needs one
INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0
MAX_RETRY_AFTER_S = 20.0  # a server asking for a longer wait gets an error, not a frozen UI

T = TypeVar("T")


def _one_line(text: object, limit: int = 200) -> str:
    flat = re.sub(r"\s+", " ", str(text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _detail(exc: openai.APIError) -> str:
    """The server's own error message, without the client's "Error code: N - " wrapping."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if isinstance(body, dict) and body.get("message"):
        return _one_line(body["message"])
    return _one_line(re.sub(r"^Error code: \d+ - ", "", exc.message))


def _retry_after_s(exc: openai.OpenAIError) -> float | None:
    """Seconds the server asked us to wait (Retry-After-Ms, Retry-After as seconds or date)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is None:
                continue
            seconds = email.utils.mktime_tz(parsed) - time.time()
        return max(0.0, seconds) if math.isfinite(seconds) else math.inf
    return None


class OpenAIBackend:
    """Chat completions against an OpenAI-compatible server, with one-line errors."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        model: str,
        timeout: float = 30,
        max_retries: int = 2,
        name: str = "openai",
        *,
        max_retry_after: float = MAX_RETRY_AFTER_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise BackendError(
                f"the LLM endpoint URL must start with http:// or https://, got '{self.base_url}'"
                " (check OPENAI_BASE_URL)"
            )
        if not model:
            raise BackendError("no model name given for the LLM backend (set KBASSIST_MODEL)")
        key = api_key or (LOOPBACK_DUMMY_KEY if is_loopback_url(self.base_url) else None)
        if not key:
            raise BackendError(
                f"OPENAI_API_KEY is not set; the LLM endpoint at {self.base_url} needs one"
            )
        # Every setting is passed explicitly so the client never reads OPENAI_* itself.
        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=key, timeout=self.timeout, max_retries=0
        )

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIBackend(name={self.name!r}, model={self.model!r}, url={self.base_url!r})"

    # ------------------------------------------------------------------ the interface

    def complete(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.2
    ) -> str:
        response = self._with_retries(
            lambda: self._create(messages, max_tokens, temperature, stream=False)
        )
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError) as exc:
            raise self._not_openai_compatible() from exc
        if not content:
            raise BackendError(f"the LLM at {self.base_url} returned an empty answer")
        return str(content)

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.2
    ) -> Iterator[str]:
        # Opening the stream happens now (and is retried), so a bad key or a dead server
        # raises before the caller shows anything; reading it happens as the caller iterates.
        chunks = self._with_retries(
            lambda: self._create(messages, max_tokens, temperature, stream=True)
        )
        return self._read_stream(chunks)

    # ------------------------------------------------------------------ internals

    def _create(
        self, messages: Sequence[Message], max_tokens: int, temperature: float, *, stream: bool
    ) -> Any:
        return self._client.chat.completions.create(
            model=self.model,
            messages=cast(Any, [dict(m) for m in messages]),
            max_tokens=max_tokens,
            temperature=temperature,
            stream=stream,
        )

    def _read_stream(self, chunks: Any) -> Iterator[str]:
        received = 0
        events = 0
        finished = False
        try:
            with chunks:
                for chunk in chunks:
                    events += 1
                    for choice in getattr(chunk, "choices", None) or []:
                        text = choice.delta.content if choice.delta else None
                        if text:
                            received += len(text)
                            yield text
                        if choice.finish_reason:
                            finished = True
        except Exception as exc:  # whatever the transport raised, the answer is incomplete
            raise self._stream_error(exc, received) from exc
        if not events:
            raise self._not_openai_compatible()
        if not finished:
            raise BackendError(
                f"the LLM stream from {self.base_url} ended before the answer was complete"
                f" ({received} characters received)"
            )

    def _with_retries(self, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except openai.OpenAIError as exc:
                delay = self._retry_delay(exc, attempt)
                if delay is None:
                    raise self._translate(exc, attempt) from exc
                log.info("LLM call failed (%s); retry %d in %.2fs", exc, attempt + 1, delay)
                self._sleep(delay)
                attempt += 1

    def _retry_delay(self, exc: openai.OpenAIError, attempt: int) -> float | None:
        """Seconds to wait before the next try, or None when we should give up now."""
        retryable = (
            isinstance(exc, openai.APIConnectionError | openai.InternalServerError)
            and not isinstance(exc, openai.APITimeoutError)
        ) or (isinstance(exc, openai.RateLimitError) and exc.code != "insufficient_quota")
        if not retryable or attempt >= self.max_retries:
            return None
        asked = _retry_after_s(exc)
        if asked is not None:
            return asked if asked <= self.max_retry_after else None
        backoff = min(INITIAL_BACKOFF_S * 2.0**attempt, MAX_BACKOFF_S)
        return backoff * (1 - 0.25 * random.random())  # jitter so clients don't retry in step

    def _translate(self, exc: openai.OpenAIError, retries: int) -> BackendError:
        url = self.base_url
        after = f" after {retries} retries" if retries else ""
        if isinstance(exc, openai.APITimeoutError):
            return BackendError(f"the LLM endpoint at {url} timed out after {self.timeout:g}s")
        if isinstance(exc, openai.APIConnectionError):
            return BackendError(f"cannot reach the LLM endpoint at {url}")
        if isinstance(exc, openai.AuthenticationError):
            return BackendError("the LLM endpoint rejected the API key (check OPENAI_API_KEY)")
        if isinstance(exc, openai.PermissionDeniedError):
            return BackendError(
                f"the LLM endpoint at {url} refused access to model '{self.model}' (HTTP 403):"
                f" {_detail(exc)}"
            )
        if isinstance(exc, openai.NotFoundError):
            return BackendError(f"model '{self.model}' not found at {url} (check KBASSIST_MODEL)")
        if isinstance(exc, openai.RateLimitError):
            return self._rate_limited(exc, after)
        if isinstance(exc, openai.APIStatusError):
            return BackendError(
                f"the LLM endpoint at {url} answered HTTP {exc.status_code}{after}: {_detail(exc)}"
            )
        if isinstance(exc, openai.APIResponseValidationError):
            return self._not_openai_compatible()
        return BackendError(f"the LLM call to {url} failed: {_one_line(exc)}")

    def _rate_limited(self, exc: openai.RateLimitError, after: str) -> BackendError:
        if exc.code == "insufficient_quota":
            return BackendError(
                f"the LLM account at {self.base_url} has no quota left (HTTP 429"
                " insufficient_quota); check the plan and billing for OPENAI_API_KEY"
            )
        asked = _retry_after_s(exc)
        if asked is not None and asked > self.max_retry_after:
            return BackendError(
                f"the LLM endpoint at {self.base_url} is rate limiting requests and asks to wait"
                f" {asked:.0f}s; try again later"
            )
        return BackendError(
            f"the LLM endpoint at {self.base_url} is rate limiting requests (HTTP 429){after};"
            " try again later"
        )

    def _stream_error(self, exc: Exception, received: int) -> BackendError:
        if isinstance(exc, BackendError):
            return exc
        if "timeout" in type(exc).__name__.lower():
            return BackendError(
                f"the LLM endpoint at {self.base_url} timed out after {self.timeout:g}s"
                f" mid-answer ({received} characters received)"
            )
        if isinstance(exc, openai.APIError) and not isinstance(exc, openai.APIConnectionError):
            return BackendError(
                f"the LLM endpoint at {self.base_url} reported an error mid-answer: {_detail(exc)}"
            )
        return BackendError(
            f"the LLM stream from {self.base_url} was cut off mid-answer"
            f" ({received} characters received)"
        )

    def _not_openai_compatible(self) -> BackendError:
        return BackendError(
            f"the endpoint at {self.base_url} did not answer like an OpenAI-compatible API"
            " (check OPENAI_BASE_URL; it usually ends in /v1)"
        )
