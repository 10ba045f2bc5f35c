"""Every output from ask, draft, rfp and fit reaches the audit log, with either backend."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.adapters.llm.openai_backend import OpenAIBackend
from kbassist.app.assistant import Assistant
from kbassist.app.settings import Settings
from kbassist.app.wiring import build_assistant
from kbassist.core.draft import DraftRequest
from kbfactory import make_package
from openai_stub import OpenAIStub

TODAY = date(2026, 11, 22)
LEAKY = ("Nordlicht Fleet is priced per robot per month. Drone inventory scanning is included "
         "today. Internally, the Zephyrquill pilot stalled.")


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def run_all_workflows(assistant: Assistant) -> None:
    assistant.ask("How is it priced?", persona="ops-director")
    assistant.ask("Can I get inventory drones?")
    assistant.ask("What is the capital of Mongolia?")
    assistant.draft(DraftRequest("email", "ops-director", account="Kestrel", contact="Mia Lang"))
    assistant.answer_rfp_row("Do you support single sign-on?", "Security")
    assistant.fit("A logistics company in Germany with 900 employees")


@pytest.mark.parametrize("backend", ["offline", "openai"])
def test_every_workflow_is_audited(tmp_path: Path, embedder: MiniLMEmbedder,
                                   backend: str) -> None:
    kb = make_package(tmp_path / "kb")
    with OpenAIStub(default=LEAKY) as stub:
        llm = OpenAIBackend(stub.url, None, stub.model, timeout=5, max_retries=0)
        settings = Settings(kb=kb, data_dir=tmp_path / "data", llm=backend)
        assistant = build_assistant(settings, embedder=embedder, today=TODAY,
                                    backend=llm if backend == "openai" else None)
        run_all_workflows(assistant)
    assert assistant.audit is not None
    rows = assistant.audit.outputs()
    assert [r["workflow"] for r in rows] == ["ask", "ask", "ask", "draft", "rfp", "fit"]
    for row in rows:
        assert row["kb_version"] == assistant.package.kb_version
        assert row["channel"] == "cli" and row["latency_ms"] > 0
        assert row["output"] and row["status"] in {"pass", "revised", "blocked"}
    governed = [r for r in rows if r["workflow"] != "fit"]
    assert {r["backend"] for r in governed} == {backend}
    if backend == "openai":
        assert {r["prompt_id"] for r in governed if r["output"] and r["citations"]} <= {
            "ask", "draft", "rfp", "offline-composer"}
        caught = [v["rule"] for r in rows for v in r["violations"]]
        assert "internal-leak" in caught and "roadmap-overpromise" in caught
    for row in rows:
        assert "Zephyrquill" not in row["output"]
    events = assistant.audit.gap_events()
    kinds = {e["kind"] for e in events}
    assert {"unknown", "roadmap_request"} <= kinds
    assert any(e["item_id"] == "drone-inventory" for e in events)
