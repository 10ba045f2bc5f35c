"""The app's API, called the way an integration would: ``gradio_client`` against the running
app. Stable endpoint names, the CLI's JSON shapes, one-line errors, and sign-in when a users
file is configured."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from gradio_client import Client

from e2e.support import serve
from kbassist.app.assistant import Assistant
from kbassist.app.auth import hash_password
from kbassist.app.wiring import build_assistant
from kbassist.ui.app import Api
from kbfactory import indexed_ui_assistant

# Gradio's own queue code trips pandas 3 deprecation warnings; not ours to fix.
pytestmark = [pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting':Warning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning"),
              pytest.mark.filterwarnings("ignore:Type a question first")]
TODAY = date(2026, 11, 22)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return indexed_ui_assistant(tmp_path_factory.mktemp("api"), TODAY)


@pytest.fixture(scope="module")
def client(assistant: Assistant) -> Iterator[Client]:
    with serve(assistant) as url:
        yield Client(url, verbose=False)


def test_only_the_stable_endpoints_are_public(client: Client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/ask", "/draft", "/fit", "/feedback"}


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


def test_results_carry_their_audit_output_id(client: Client, assistant: Assistant) -> None:
    assert assistant.audit is not None
    answer = client.predict(question="How is Nordlicht Fleet priced?", api_name="/ask")
    draft = client.predict(channel="linkedin", persona="ops-director", api_name="/draft")
    rows = {row["id"]: row for row in assistant.audit.outputs()}
    assert rows[answer["output_id"]]["output"] == answer["answer"]
    assert rows[draft["output_id"]]["workflow"] == "draft"


def test_feedback_round_trip_lands_in_the_audit_log(client: Client,
                                                     assistant: Assistant) -> None:
    assert assistant.audit is not None
    answer = client.predict(question="Do you have battery prediction?", api_name="/ask")
    draft = client.predict(channel="email", persona="ops-director", contact="Ana",
                           api_name="/draft")
    up = client.predict(output_id=draft["output_id"], rating="up", api_name="/feedback")
    down = client.predict(output_id=answer["output_id"], rating="down",
                          comment="  needs the pilot date  ", api_name="/feedback")
    assert up == {"feedback_id": up["feedback_id"], "output_id": draft["output_id"],
                  "rating": "up"}
    stored = {row["id"]: row for row in assistant.audit.feedback()}
    assert {k: stored[up["feedback_id"]][k] for k in ("output_id", "rating", "comment")} == {
        "output_id": draft["output_id"], "rating": "up", "comment": ""}
    assert {k: stored[down["feedback_id"]][k] for k in ("output_id", "rating", "comment")} == {
        "output_id": answer["output_id"], "rating": "down", "comment": "needs the pilot date"}
    gaps = [g for g in assistant.audit.gap_events() if g["kind"] == "thumbs_down"]
    assert [g["comment"] for g in gaps if g["output_id"] == answer["output_id"]] == [
        "needs the pilot date"]


@pytest.mark.parametrize("kwargs, message", [
    ({"rating": "meh"}, "rating must be 'up' or 'down'"),
    ({"rating": "up", "comment": "x" * 2001}, "at most 2000"),
    ({"rating": "down", "output_id": 10**9}, "no audited output with id 1000000000"),
    ({"rating": "down", "output_id": -3}, "output_id must be the positive integer"),
])
def test_bad_feedback_is_a_one_line_error_and_writes_nothing(
        client: Client, assistant: Assistant, kwargs: dict[str, Any], message: str) -> None:
    assert assistant.audit is not None
    output_id = client.predict(question="How is Nordlicht Fleet priced?",
                               api_name="/ask")["output_id"]
    feedback, gaps = len(assistant.audit.feedback()), len(assistant.audit.gap_events())
    with pytest.raises(Exception, match=message) as caught:
        client.predict(**{"output_id": output_id, **kwargs}, api_name="/feedback")
    assert "Traceback" not in str(caught.value) and "\n" not in str(caught.value)
    assert len(assistant.audit.feedback()) == feedback
    assert len(assistant.audit.gap_events()) == gaps


def test_feedback_without_an_audit_log_says_so(assistant: Assistant) -> None:
    settings = assistant.settings.model_copy(update={"audit": False})
    unaudited = build_assistant(settings, embedder=assistant.embedder, today=TODAY,
                                channel="ui")
    api = Api(unaudited)
    assert api.ask("How is Nordlicht Fleet priced?")["output_id"] is None
    with pytest.raises(gr.Error, match="the audit log is off"):
        api.feedback(1, "up")


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
    together = threading.Barrier(3, timeout=20)  # breaks unless all three run at once

    def slow_ask(question: str, **kwargs: Any) -> Any:
        together.wait()
        return real_ask(question, **kwargs)

    monkeypatch.setattr(assistant, "ask", slow_ask)
    jobs = [client.submit(question=f"How is Nordlicht Fleet priced? ({i})", api_name="/ask")
            for i in range(3)]
    assert all("per robot" in job.result()["answer"] for job in jobs)
    assert not together.broken


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
        thumb = signed_in.predict(output_id=result["output_id"], rating="up",
                                  api_name="/feedback")
        assert guarded.audit is not None
        stored = {row["id"]: row for row in guarded.audit.feedback()}
        assert stored[thumb["feedback_id"]]["user"] == "dana"
