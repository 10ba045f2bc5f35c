"""The app's API, called the way an integration would: ``gradio_client`` against the running
app. Stable endpoint names, the CLI's JSON shapes, one-line errors, and sign-in when a users
file is configured."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client

from e2e.support import serve
from kbassist.assistant import Assistant, build_assistant
from kbassist.auth import hash_password
from kbassist.embeddings import MiniLMEmbedder
from kbassist.settings import Settings
from kbfactory import make_package

# Gradio's own queue code trips pandas 3 deprecation warnings; not ours to fix.
pytestmark = [pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting':Warning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning"),
              pytest.mark.filterwarnings("ignore:Type a question first")]
TODAY = date(2026, 11, 22)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    root = tmp_path_factory.mktemp("api")
    settings = Settings(kb=make_package(root / "kb"), data_dir=root / "data")
    assistant = build_assistant(settings, embedder=MiniLMEmbedder(), today=TODAY, channel="ui")
    assistant.reindex()
    return assistant


@pytest.fixture(scope="module")
def client(assistant: Assistant) -> Iterator[Client]:
    with serve(assistant) as url:
        yield Client(url, verbose=False)


def test_only_the_stable_endpoints_are_public(client: Client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/ask", "/draft", "/fit"}


def test_ask_returns_the_cli_json_shape(client: Client) -> None:
    result = client.predict(question="How is Nordlicht Fleet priced?", api_name="/ask")
    assert {"answer", "citations", "roadmap", "checks", "backend", "kb_version"} <= set(result)
    assert "per robot per month" in result["answer"]
    assert result["checks"]["status"] == "pass"
    assert any(c["id"] == "per-robot-pricing" and c["kind"] == "claim"
               for c in result["citations"])


def test_ask_with_persona_and_roadmap_status(client: Client) -> None:
    result = client.predict(question="Do you have battery prediction?",
                            persona="ops-director", segment="", api_name="/ask")
    assert {"id": "battery-forecast", "status": "next"}.items() <= result["roadmap"][0].items()


def test_draft_returns_the_cli_json_shape(client: Client) -> None:
    result = client.predict(channel="email", persona="ops-director", account="Harbor Logistics",
                            contact="Ana", rep_name="Sam", api_name="/draft")
    assert {"subject", "body", "citations", "checks", "backend", "kb_version"} <= set(result)
    assert result["subject"] and "Ana" in result["body"]
    assert result["checks"]["status"] in {"pass", "revised"}


def test_fit_returns_a_verdict(client: Client) -> None:
    result = client.predict(description="A 2,000-person logistics company in Germany",
                            api_name="/fit")
    assert result["verdict"] in {"fit", "partial"} and result["segment"] == "third-party-logistics"


@pytest.mark.parametrize("endpoint, kwargs, message", [
    ("/ask", {"question": "  "}, "the question is empty"),
    ("/draft", {"channel": "fax", "persona": "ops-director"}, "unknown channel"),
    ("/draft", {"channel": "email", "persona": "nobody"}, "nobody"),
])
def test_errors_are_one_line_messages(client: Client, endpoint: str, kwargs: dict[str, str],
                                      message: str) -> None:
    with pytest.raises(Exception, match=message) as caught:
        client.predict(**kwargs, api_name=endpoint)
    assert "Traceback" not in str(caught.value)


def test_one_slow_answer_does_not_block_other_reps(client: Client, assistant: Assistant,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Gradio runs one event per listener at a time unless told otherwise."""
    real_ask = assistant.ask

    def slow_ask(question: str, **kwargs: Any) -> Any:
        time.sleep(1.5)
        return real_ask(question, **kwargs)

    monkeypatch.setattr(assistant, "ask", slow_ask)
    started = time.perf_counter()
    jobs = [client.submit(question=f"How is Nordlicht Fleet priced? ({i})", api_name="/ask")
            for i in range(3)]
    assert all("per robot" in job.result()["answer"] for job in jobs)
    assert time.perf_counter() - started < 3.5  # side by side, not 3 x 1.5 s in a row


def test_sign_in_is_required_with_a_users_file(assistant: Assistant, tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text(f'dana: "{hash_password("pw-dana", iterations=1000)}"\n', encoding="utf-8")
    settings = assistant.settings.model_copy(update={"auth_file": users})
    guarded = build_assistant(settings, embedder=assistant.embedder, today=TODAY, channel="ui")
    with serve(guarded) as url:
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do
            Client(url, verbose=False)
        signed_in = Client(url, auth=("dana", "pw-dana"), verbose=False)
        result = signed_in.predict(question="How is Nordlicht Fleet priced?", api_name="/ask")
        assert "per robot per month" in result["answer"]
