"""Whatever an LLM writes, what reaches the rep has passed governance. The stub below speaks
the OpenAI API on loopback and answers with deliberately ungoverned text."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.adapters.llm.openai_backend import OpenAIBackend
from kbassist.app.assistant import Assistant
from kbassist.app.settings import Settings
from kbassist.app.wiring import build_assistant
from kbassist.core.draft import DraftRequest
from kbassist.core.governance import check
from kbassist.core.governance.types import WITHHELD
from kbfactory import make_package
from openai_stub import OpenAIStub, Reply

TODAY = date(2026, 11, 22)

# Banned phrase, a `later` item sold as included, invented stats, an unapproved customer
# and a pasted internal note, all in one answer.
UNGOVERNED = (
    "Nordlicht Fleet is priced per robot per month [claim:per-robot-pricing]. "
    "We guarantee best-in-class results. "
    "Drone inventory scanning is included in every plan today. "
    "Customers see a 73% drop in picking errors and a 5x return within 30 days. "
    "Acme Megastores uses Nordlicht Fleet across 400 sites. "
    "Internally, the Zephyrquill pilot stalled pending the Obsidianmoor partnership."
)
EXPECTED_RULES = {"banned-phrase", "roadmap-overpromise", "unapproved-number",
                  "unapproved-customer", "internal-leak"}


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def llm_assistant(tmp_path: Path, stub: OpenAIStub, embedder: MiniLMEmbedder,
                  max_revisions: int = 2) -> Assistant:
    kb = make_package(tmp_path / "kb")
    settings = Settings(kb=kb, data_dir=tmp_path / "data", llm="openai",
                        max_revisions=max_revisions)
    backend = OpenAIBackend(stub.url, None, stub.model, timeout=5, max_retries=0)
    return build_assistant(settings, embedder=embedder, backend=backend, today=TODAY)


def assert_clean(assistant: Assistant, text: str) -> None:
    state = assistant._ensure_state()
    remaining = check(text, state.governance, check_support=False)
    assert remaining.violations == (), remaining.violations
    for word in ("Zephyrquill", "Obsidianmoor", "guarantee", "73%", "Acme Megastores"):
        assert word not in text


def test_ask_catches_everything_a_misbehaving_model_writes(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    with OpenAIStub(default=UNGOVERNED) as stub:
        assistant = llm_assistant(tmp_path, stub, embedder)
        result = assistant.ask("How is it priced?").to_json()
    caught = {v["rule"] for v in result["checks"]["violations"]}
    assert caught >= EXPECTED_RULES, caught
    assert result["checks"]["status"] in {"revised", "blocked"}
    assert result["checks"]["remaining"] == []
    assert result["checks"]["changes"]
    assert result["backend"] == "openai" and result["prompt"]["id"] == "ask"
    assert_clean(assistant, result["answer"])
    for request in stub.chat_requests:  # not even the model's own leak is sent back to it
        assert "Zephyrquill" not in request.prompt_text
    assert_no_note_anywhere(result, tmp_path)


def assert_no_note_anywhere(result: dict[str, object], data: Path) -> None:
    """The checks panel and the audit show what governance did, never the leak it removed:
    excerpts overlapping the leak are withheld and the rule's reason names no note word."""
    shown = json.dumps(result)
    assert "Zephyrquill" not in shown and "Obsidianmoor" not in shown
    assert WITHHELD in shown
    audit = data / "data" / "audit.sqlite3"
    assert audit.exists() and b"Zephyrquill" not in audit.read_bytes()


def test_a_good_revision_is_accepted(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    fixed = "Nordlicht Fleet is priced per robot per month, with no upfront licence fee " \
            "[claim:per-robot-pricing]."
    with OpenAIStub([UNGOVERNED, fixed]) as stub:
        assistant = llm_assistant(tmp_path, stub, embedder)
        result = assistant.ask("How is it priced?")
        revise_prompt = stub.chat_requests[1].prompt_text
    assert result.governed.status == "revised"
    assert result.answer == fixed.replace(" [claim:per-robot-pricing]", "")
    assert [c.ref_id for c in result.citations] == ["per-robot-pricing"]
    assert "unapproved-number" in revise_prompt and "Zephyrquill" not in revise_prompt


def test_draft_through_a_misbehaving_model(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    email = "Subject: 5x ROI guaranteed for Kestrel\n\nHi Mia,\n\n" + UNGOVERNED
    with OpenAIStub(default=email) as stub:
        assistant = llm_assistant(tmp_path, stub, embedder)
        result = assistant.draft(DraftRequest("email", "ops-director", account="Kestrel",
                                              contact="Mia Lang")).to_json()
    caught = {v["rule"] for v in result["checks"]["violations"]}
    assert caught >= EXPECTED_RULES, caught
    assert result["checks"]["remaining"] == []
    assert_clean(assistant, result["subject"] + "\n" + result["body"])
    assert_no_note_anywhere(result, tmp_path)


@pytest.mark.parametrize("fault", [
    Reply.server_error(500), Reply.rate_limited(retry_after=0.1), Reply(delay=8.0),
], ids=["500", "429", "timeout"])
def test_endpoint_failure_falls_back_to_the_offline_answer(
    tmp_path: Path, embedder: MiniLMEmbedder, fault: Reply
) -> None:
    with OpenAIStub(default=fault) as stub:
        assistant = llm_assistant(tmp_path, stub, embedder)
        result = assistant.ask("How is it priced?")
    assert "priced per robot per month" in result.answer
    assert any("answered offline" in change for change in result.governed.changes)
    assert result.governed.remaining == ()
