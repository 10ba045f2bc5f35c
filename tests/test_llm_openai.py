"""The OpenAI-compatible backend against a loopback stub: answers, streams, retries, and the
one-line errors a rep or an admin can act on."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from kbassist.adapters.llm import LLMBackend
from kbassist.adapters.llm.local import free_loopback_port
from kbassist.adapters.llm.openai_backend import LOOPBACK_DUMMY_KEY, OpenAIBackend, is_loopback_url
from kbassist.core.chunks import Chunk
from kbassist.core.errors import BackendError
from kbassist.core.models import RoadmapItem
from kbassist.core.prompts import format_evidence, load_prompt
from openai_stub import OpenAIStub, Reply

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello."},
]


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make(stub: OpenAIStub, sleeps: list[float], **options: object) -> OpenAIBackend:
    settings: dict[str, object] = {"timeout": 5, "max_retries": 2, "sleep": sleeps.append}
    settings.update(options)
    return OpenAIBackend(stub.url, None, stub.model, **settings)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- answers


def test_complete_returns_the_answer_and_sends_the_request(
    stub: OpenAIStub, sleeps: list[float]
) -> None:
    stub.queue("Hello there.")
    backend = make(stub, sleeps)

    assert isinstance(backend, LLMBackend)
    assert backend.complete(MESSAGES, max_tokens=64, temperature=0.0) == "Hello there."
    [request] = stub.chat_requests
    assert request.body["model"] == "stub-model"
    assert request.messages == MESSAGES
    assert request.body["max_tokens"] == 64
    assert request.body["temperature"] == 0.0
    assert not request.body.get("stream")
    assert request.headers["authorization"] == f"Bearer {LOOPBACK_DUMMY_KEY}"


def test_stream_yields_pieces_that_join_to_the_answer(
    stub: OpenAIStub, sleeps: list[float]
) -> None:
    stub.queue("One two three four.")

    pieces = list(make(stub, sleeps).stream(MESSAGES))

    assert len(pieces) > 1
    assert "".join(pieces) == "One two three four."
    assert stub.chat_requests[0].body["stream"] is True


def test_the_given_api_key_is_sent() -> None:
    with OpenAIStub(["Fine."], api_key="sk-right") as stub:
        backend = OpenAIBackend(stub.url, "sk-right", stub.model)
        assert backend.complete(MESSAGES) == "Fine."


def test_an_empty_answer_is_an_error(stub: OpenAIStub, sleeps: list[float]) -> None:
    stub.queue("")
    with pytest.raises(BackendError, match="returned an empty answer"):
        make(stub, sleeps).complete(MESSAGES)


def test_the_stub_records_what_the_model_was_shown(stub: OpenAIStub, sleeps: list[float]) -> None:
    """The recorded prompt is how tests prove an internal roadmap note never reached a model."""
    item = RoadmapItem(
        id="crane-orchestration",
        title="Crane orchestration",
        status="later",
        say="We're exploring this; it has no committed date.",
        internal="Blocked on the partner contract.",
    )
    chunk = Chunk(
        node_id="roadmap:crane-orchestration",
        kind="roadmap",
        ref_id=item.id,
        source="roadmap.yaml",
        title=item.title,
        text=item.public_text(),
        status=item.status,
    )
    prompt = load_prompt("ask")
    messages = prompt.render(
        company="Acme",
        product="Acme Insight",
        tone="plain",
        banned_phrases='"guarantee"',
        roadmap_disclaimer="Plans, not commitments.",
        unknown_answer="Not covered yet.",
        audience="not specified",
        question="Do you do crane orchestration?",
        evidence=format_evidence([chunk]),
    )

    make(stub, sleeps).complete(messages)

    shown = stub.chat_requests[0].prompt_text
    assert "We're exploring this" in shown
    assert "partner contract" not in shown


# ---------------------------------------------------------------------- retries


def test_a_server_error_is_retried_with_backoff(stub: OpenAIStub, sleeps: list[float]) -> None:
    stub.queue(Reply.server_error(), "Recovered.")

    assert make(stub, sleeps).complete(MESSAGES) == "Recovered."
    assert len(stub.chat_requests) == 2
    [delay] = sleeps
    assert 0.375 <= delay <= 0.5  # 0.5 s less up to 25% jitter


def test_retries_stop_after_max_retries_with_growing_waits(
    stub: OpenAIStub, sleeps: list[float]
) -> None:
    stub.queue(*[Reply.server_error(503, "overloaded")] * 3)

    with pytest.raises(BackendError) as caught:
        make(stub, sleeps, max_retries=2).complete(MESSAGES)

    assert str(caught.value) == (
        f"the LLM endpoint at {stub.url} answered HTTP 503 after 2 retries: overloaded"
    )
    assert len(stub.chat_requests) == 3
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0]


def test_a_429_waits_as_long_as_retry_after_says(stub: OpenAIStub, sleeps: list[float]) -> None:
    stub.queue(Reply.rate_limited(retry_after=1.5), "After the wait.")

    assert make(stub, sleeps).complete(MESSAGES) == "After the wait."
    assert sleeps == [1.5]


def test_retry_after_really_sleeps_by_default(stub: OpenAIStub) -> None:
    stub.queue(Reply(status=429, headers={"Retry-After-Ms": "300"}, error={}), "Done.")
    backend = OpenAIBackend(stub.url, None, stub.model, timeout=5)

    started = time.monotonic()
    assert backend.complete(MESSAGES) == "Done."
    assert time.monotonic() - started >= 0.3


def test_a_retry_after_beyond_the_cap_fails_at_once(stub: OpenAIStub, sleeps: list[float]) -> None:
    stub.queue(Reply.rate_limited(retry_after=600))

    with pytest.raises(BackendError, match=r"asks to wait 600s; try again later"):
        make(stub, sleeps).complete(MESSAGES)
    assert sleeps == []
    assert len(stub.chat_requests) == 1


def test_persistent_rate_limiting_is_reported(stub: OpenAIStub, sleeps: list[float]) -> None:
    stub.queue(*[Reply.rate_limited(retry_after=None)] * 2)

    with pytest.raises(BackendError, match=r"rate limiting requests \(HTTP 429\) after 1 retries"):
        make(stub, sleeps, max_retries=1).complete(MESSAGES)


def test_an_exhausted_quota_is_not_retried(stub: OpenAIStub, sleeps: list[float]) -> None:
    stub.queue(Reply.rate_limited(retry_after=None, code="insufficient_quota"))

    with pytest.raises(BackendError, match="no quota left"):
        make(stub, sleeps).complete(MESSAGES)
    assert sleeps == []


def test_opening_a_stream_is_retried(stub: OpenAIStub, sleeps: list[float]) -> None:
    stub.queue(Reply.server_error(), "Streamed after a retry.")

    assert "".join(make(stub, sleeps).stream(MESSAGES)) == "Streamed after a retry."
    assert len(sleeps) == 1


# ---------------------------------------------------------------------- errors


def test_a_rejected_key_says_to_check_openai_api_key() -> None:
    with OpenAIStub(api_key="sk-right") as stub:
        backend = OpenAIBackend(stub.url, "sk-wrong", stub.model)
        with pytest.raises(BackendError) as caught:
            backend.complete(MESSAGES)
    assert str(caught.value) == "the LLM endpoint rejected the API key (check OPENAI_API_KEY)"


def test_an_unknown_model_says_to_check_kbassist_model(
    stub: OpenAIStub, sleeps: list[float]
) -> None:
    backend = OpenAIBackend(stub.url, None, "gpt-nope", sleep=sleeps.append)

    with pytest.raises(BackendError) as caught:
        backend.complete(MESSAGES)

    assert str(caught.value) == f"model 'gpt-nope' not found at {stub.url} (check KBASSIST_MODEL)"
    assert sleeps == []


def test_an_unreachable_endpoint_is_named(sleeps: list[float]) -> None:
    url = f"http://127.0.0.1:{free_loopback_port()}/v1"  # nothing listens there
    backend = OpenAIBackend(url, None, "m", timeout=2, max_retries=2, sleep=sleeps.append)

    with pytest.raises(BackendError) as caught:
        backend.complete(MESSAGES)

    assert str(caught.value) == f"cannot reach the LLM endpoint at {url}"
    assert len(sleeps) == 2  # connection errors are retried


def test_a_slow_server_times_out_without_retrying(stub: OpenAIStub, sleeps: list[float]) -> None:
    stub.queue(Reply.slow(5))
    backend = make(stub, sleeps, timeout=0.5)

    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        backend.complete(MESSAGES)

    assert str(caught.value) == f"the LLM endpoint at {stub.url} timed out after 0.5s"
    assert time.monotonic() - started < 3
    assert len(stub.chat_requests) == 1 and sleeps == []


def test_errors_opening_a_stream_raise_before_iteration() -> None:
    with OpenAIStub(api_key="sk-right") as stub:
        backend = OpenAIBackend(stub.url, "sk-wrong", stub.model)
        with pytest.raises(BackendError, match="rejected the API key"):
            backend.stream(MESSAGES)


def test_a_stream_cut_mid_answer_raises(stub: OpenAIStub, sleeps: list[float]) -> None:
    stub.queue(Reply.cut("one two three four five six", after_chunks=2))
    received: list[str] = []

    with pytest.raises(BackendError, match="cut off mid-answer"):
        for piece in make(stub, sleeps).stream(MESSAGES):
            received.append(piece)

    assert "".join(received) == "one two "
    assert sleeps == []  # a half-delivered answer is never retried


def test_a_stream_that_ends_without_finishing_raises(stub: OpenAIStub, sleeps: list[float]) -> None:
    stub.queue(Reply(text="half an answer", finish_reason=""))

    with pytest.raises(BackendError, match="ended before the answer was complete"):
        list(make(stub, sleeps).stream(MESSAGES))


def test_a_stream_that_stalls_times_out(stub: OpenAIStub, sleeps: list[float]) -> None:
    stub.queue(Reply(text="slow words arrive here", chunk_delay=2))

    with pytest.raises(BackendError, match=r"timed out after 0.5s mid-answer"):
        list(make(stub, sleeps, timeout=0.5).stream(MESSAGES))


def test_other_http_errors_show_the_servers_message(stub: OpenAIStub, sleeps: list[float]) -> None:
    stub.queue(Reply(status=400, error={"message": "context length exceeded"}))

    with pytest.raises(BackendError, match=r"answered HTTP 400: context length exceeded"):
        make(stub, sleeps).complete(MESSAGES)


@pytest.mark.parametrize("streaming", [False, True])
def test_a_server_that_is_not_the_api_is_named(
    stub: OpenAIStub, sleeps: list[float], streaming: bool
) -> None:
    stub.queue(Reply.not_openai())
    backend = make(stub, sleeps)

    with pytest.raises(BackendError) as caught:
        if streaming:
            list(backend.stream(MESSAGES))
        else:
            backend.complete(MESSAGES)

    assert str(caught.value) == (
        f"the endpoint at {stub.url} did not answer like an OpenAI-compatible API"
        " (check OPENAI_BASE_URL; it usually ends in /v1)"
    )


# ---------------------------------------------------------------------- configuration


def test_a_remote_endpoint_without_a_key_is_refused_before_any_call() -> None:
    with pytest.raises(BackendError) as caught:
        OpenAIBackend(None, None, "gpt-4o-mini")
    assert str(caught.value) == (
        "OPENAI_API_KEY is not set; the LLM endpoint at https://api.openai.com/v1 needs one"
    )


def test_a_url_without_a_scheme_is_refused() -> None:
    with pytest.raises(BackendError, match="must start with http:// or https://"):
        OpenAIBackend("localhost:11434/v1", None, "llama3")


def test_a_missing_model_is_refused() -> None:
    with pytest.raises(BackendError, match="set KBASSIST_MODEL"):
        OpenAIBackend("http://127.0.0.1:1/v1", None, "")


def test_the_key_never_shows_in_repr() -> None:
    backend = OpenAIBackend("https://example.invalid/v1", "sk-secret", "m")
    assert "sk-secret" not in repr(backend)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://localhost:8000/v1", True),
        ("http://127.0.0.1:8000/v1", True),
        ("http://127.5.6.7/v1", True),
        ("http://[::1]:8000/v1", True),
        ("https://api.openai.com/v1", False),
        ("http://10.0.0.5:8000/v1", False),
        ("http://localhost.example.com/v1", False),
    ],
)
def test_loopback_urls_are_recognised(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback
