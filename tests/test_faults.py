"""Fault injection: what a rep sees, and what the audit records, when things break.

LLM endpoint faults run against the loopback OpenAI stub (down, slow, 500, 429 with
Retry-After, a stream cut mid-answer): the rep gets the offline answer with a note, and the
audit row's checks say what happened. Index and package faults go through the CLI: exit 2,
one line per problem, and the previous index keeps answering. (SIGKILL at each point of an
index build is tested in tests/test_index.py::test_a_killed_build_leaves_a_serving_index_and_
the_next_run_completes; RFP writer faults and 10,000 rows in tests/test_rfp_io.py.)
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest

from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.adapters.llm.local import free_loopback_port
from kbassist.adapters.llm.openai_backend import OpenAIBackend
from kbassist.app.assistant import Assistant
from kbassist.app.settings import Settings
from kbassist.app.wiring import build_assistant
from kbassist.cli import main
from kbassist.core.errors import BackendError
from kbassist.core.llm import Message
from kbfactory import make_package
from openai_stub import OpenAIStub, Reply

TODAY = date(2026, 11, 22)
BIN = Path(sys.executable).with_name("kbassist")
QUESTION = "How is Nordlicht Fleet priced?"
OFFLINE = "priced per robot per month"


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


class StreamingBackend(OpenAIBackend):
    """Completes by reading the stream, as a streaming UI does: a cut surfaces mid-answer."""

    def complete(self, messages: Sequence[Message], *, max_tokens: int = 512,
                 temperature: float = 0.2) -> str:
        return "".join(self.stream(messages, max_tokens=max_tokens, temperature=temperature))


def audited(tmp_path: Path, embedder: MiniLMEmbedder, backend: OpenAIBackend) -> Assistant:
    settings = Settings(kb=make_package(tmp_path / "kb"), data_dir=tmp_path / "data",
                        llm="openai", max_revisions=0)
    return build_assistant(settings, embedder=embedder, backend=backend, today=TODAY)


def last_audit_changes(assistant: Assistant) -> list[str]:
    assert assistant.audit is not None
    rows = assistant.audit.outputs()
    assert rows, "the output was not audited"
    row = rows[-1]
    changes = row.get("changes", row.get("changes_json"))
    return list(json.loads(changes) if isinstance(changes, str) else changes)


FAULTS = {
    "500": (Reply.server_error(500), "answered HTTP 500"),
    "429-retry-after": (Reply.rate_limited(retry_after=60), "rate limiting"),
    "slow-timeout": (Reply.slow(3.0), "timed out after 1s"),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_llm_fault_gives_the_offline_answer_and_an_audited_note(
        tmp_path: Path, embedder: MiniLMEmbedder, name: str) -> None:
    fault, said = FAULTS[name]
    with OpenAIStub(default=fault) as stub:
        backend = OpenAIBackend(stub.url, None, stub.model, timeout=1, max_retries=1,
                                sleep=lambda s: None)
        assistant = audited(tmp_path, embedder, backend)
        result = assistant.ask(QUESTION)
    assert OFFLINE in result.answer
    note = next(c for c in result.governed.changes if "answered offline" in c)
    assert said in note, note
    assert note in last_audit_changes(assistant)


def test_llm_endpoint_down(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    port = free_loopback_port()  # nothing listens there
    backend = OpenAIBackend(f"http://127.0.0.1:{port}/v1", None, "m", timeout=1, max_retries=1,
                            sleep=lambda s: None)
    assistant = audited(tmp_path, embedder, backend)
    result = assistant.ask(QUESTION)
    assert OFFLINE in result.answer
    assert any("cannot reach the LLM endpoint" in c for c in last_audit_changes(assistant))


def test_429_with_a_short_retry_after_is_retried_and_answered(
        tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    waits: list[float] = []
    answer = "Nordlicht Fleet is priced per robot per month, with no upfront licence fee " \
             "[claim:per-robot-pricing]."
    with OpenAIStub([Reply.rate_limited(retry_after=2), answer]) as stub:
        backend = OpenAIBackend(stub.url, None, stub.model, timeout=5, max_retries=2,
                                sleep=waits.append)
        result = audited(tmp_path, embedder, backend).ask(QUESTION)
    assert waits == [2.0] and len(stub.chat_requests) == 2
    assert result.governed.status == "pass" and result.backend == "openai"


def test_a_stream_cut_mid_answer(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    with OpenAIStub(default=Reply.cut("Nordlicht Fleet is priced per robot and", 3)) as stub:
        backend = StreamingBackend(stub.url, None, stub.model, timeout=5, max_retries=0)
        with pytest.raises(BackendError, match="cut off mid-answer"):
            "".join(backend.stream([{"role": "user", "content": "hi"}]))
        assistant = audited(tmp_path, embedder, backend)
        result = assistant.ask(QUESTION)
    assert OFFLINE in result.answer
    assert any("cut off mid-answer" in c for c in last_audit_changes(assistant))


# -- index and package faults, through the CLI -------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def indexed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[list[str]]:
    kb, data = make_package(tmp_path / "kb"), tmp_path / "data"
    flags = ["--kb", str(kb), "--data-dir", str(data)]
    assert cli(capsys, "index", *flags)[0] == 0
    yield flags


def still_answers(capsys: pytest.CaptureFixture[str], flags: list[str]) -> None:
    code, out, err = cli(capsys, "ask", *flags, QUESTION)
    assert code == 0 and OFFLINE in out, err


def _big_pdf(kb: Path) -> None:
    with (kb / "reference").joinpath("huge.pdf").open("wb") as out:
        out.write(b"%PDF-1.4\n" + b"0" * (50 * 1024 * 1024))


def _outside_link(kb: Path) -> None:
    secret = kb.parent / "secret.md"
    secret.write_text("---\ntitle: Secret\n---\n# Secret\n\nPayroll of every employee.\n")
    (kb / "reference" / "linked.md").symlink_to(secret)


PACKAGE_FAULTS = {
    "bad-yaml": lambda kb: (kb / "claims.yaml").write_text("claims:\n  - id: [unclosed\n"),
    "missing-file": lambda kb: (kb / "kb.yaml").unlink(),
    "non-utf8": lambda kb: (kb / "messaging" / "latin1.md").write_bytes(
        "---\ntitle: Caf\xe9\n---\n# Caf\xe9\n\nPr\xe9cis.\n".encode("latin-1")),
    "50mb-pdf": _big_pdf,
    "symlink-outside": _outside_link,
}


@pytest.mark.parametrize("name", list(PACKAGE_FAULTS))
def test_a_broken_package_is_one_line_per_problem_and_the_old_index_answers(
        capsys: pytest.CaptureFixture[str], indexed: list[str], name: str) -> None:
    kb = Path(indexed[1])
    (kb / "reference").mkdir(exist_ok=True)
    PACKAGE_FAULTS[name](kb)
    code, _, err = cli(capsys, "index", *indexed)
    assert code == 2, err
    assert "Traceback" not in err
    problems = [line for line in err.splitlines() if line.strip()]
    assert problems and all(len(line) < 400 for line in problems), err
    still_answers(capsys, indexed)


def test_a_half_written_index_is_reported_and_one_reindex_fixes_it(
        capsys: pytest.CaptureFixture[str], indexed: list[str]) -> None:
    data = Path(indexed[3])
    manifest = next(data.rglob("manifest.json"))
    manifest.write_text(manifest.read_text()[:40])
    code, _, err = cli(capsys, "ask", *indexed, QUESTION)
    assert code == 2 and "run 'kbassist index'" in err and "Traceback" not in err
    assert cli(capsys, "index", *indexed)[0] == 0
    still_answers(capsys, indexed)


def test_kill_9_during_kbassist_index_keeps_serving_and_the_next_run_completes(
        capsys: pytest.CaptureFixture[str], indexed: list[str]) -> None:
    kb = Path(indexed[1])
    (kb / "messaging" / "more.md").write_text(
        "---\ntitle: More\n---\n# More\n\n" + "\n\n".join(
            f"## Topic {i}\n\nNordlicht Fleet keeps robots busy in aisle {i}." for i in range(60)))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen([str(BIN), "index", *indexed], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.uniform(1.0, 4.0))  # somewhere in start-up, load, embed or swap
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.wait()
    still_answers(capsys, indexed)
    code, out, err = cli(capsys, "index", *indexed)
    assert code == 0, err
    still_answers(capsys, indexed)


# -- unbounded input (OWASP LLM10) ------------------------------------------------------------

HUGE = "How is Nordlicht Fleet priced? " * 400  # 12,400 characters


@pytest.mark.parametrize("argv", [
    ["ask", HUGE],
    ["fit", HUGE],
    ["draft", "email", "--persona", "ops-director", "--context", HUGE],
    ["draft", "email", "--persona", "ops-director", "--account", "A" * 201],
], ids=["ask", "fit", "draft-context", "draft-account"])
def test_oversized_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                                indexed: list[str], argv: list[str]) -> None:
    code, out, err = cli(capsys, argv[0], *indexed, *argv[1:])
    assert code == 2 and out == "" and err.count("\n") == 1, (code, err)
    assert "characters long; at most" in err and "Traceback" not in err
    assert "How is Nordlicht" not in err  # the input isn't echoed back


def test_an_oversized_rfp_row_is_flagged_and_the_batch_completes(
        capsys: pytest.CaptureFixture[str], indexed: list[str], tmp_path: Path) -> None:
    source, answered = tmp_path / "q.csv", tmp_path / "a.csv"
    source.write_text(f'question\n{QUESTION}\n"{HUGE}"\n', encoding="utf-8")
    code, _, err = cli(capsys, "rfp", *indexed, str(source), "-o", str(answered), "--no-progress")
    assert code == 0, err
    rows = list(csv.DictReader(answered.open(encoding="utf-8")))
    assert OFFLINE in rows[0]["answer"] and rows[0]["status"] != "unknown"
    assert rows[1]["status"] == "unknown" and rows[1]["needs_review"].lower() in {"true", "yes"}
    assert "longer than 4,000 characters" in rows[1]["review_reason"]
