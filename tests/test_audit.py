"""The audit store: completeness, append-only, retention, gap events, exports, redaction and
concurrent writers (threads and processes). Real SQLite in tmp_path; no fakes."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kbassist.adapters.audit import LOW_CONFIDENCE, REDACTED, SCHEMA_VERSION, AuditLog
from kbassist.core.errors import KbassistError, UsageError
from kbassist.core.results import OutputRecord

T0 = datetime(2026, 10, 5, 9, 30, tzinfo=UTC)
SECRET_QUESTION = "Can Halden Dispatch replace ServiceTitan for Acme Widgets next quarter?"


class Clock:
    """A settable clock, so timestamps and retention are deterministic."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_record(**overrides: Any) -> OutputRecord:
    base = OutputRecord(
        workflow="ask",
        inputs={"question": "How is Halden Dispatch priced?", "persona": "cfo", "segment": None},
        output="Halden Dispatch is priced per active technician per month.",
        citations=["per-technician-pricing", "reference/pricing-guide.pdf#p1"],
        checks={
            "status": "revised",
            "violations": [{"rule": "banned-phrase", "detail": "'guarantee'", "span": [0, 9],
                            "excerpt": "guarantee"}],
            "changes": ["removed banned phrase 'guarantee'"],
            "remaining": [],
        },
        backend="openai",
        model="gpt-4o-mini",
        prompt={"id": "ask", "version": 3},
        kb_version="kb-7f3a",
        latency_ms=812.5,
        channel="ui",
        user="dana@halden.example",
        persona="cfo",
    )
    return replace(base, **overrides)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(tmp_path: Path, clock: Clock) -> AuditLog:
    return AuditLog(tmp_path / "audit.sqlite3", clock=clock)


# -- schema and completeness ------------------------------------------------------------------


def test_schema_is_versioned_and_in_wal_mode(log: AuditLog) -> None:
    with sqlite3.connect(log.path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"outputs", "feedback", "gap_events"} <= tables


def test_a_newer_schema_is_refused_with_an_actionable_message(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    AuditLog(path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(KbassistError, match="newer than this kbassist"):
        AuditLog(path)


def test_a_file_that_is_not_a_database_is_an_actionable_error(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    path.write_bytes(b"not a database at all, just some text that is long enough" * 20)
    with pytest.raises(KbassistError, match="cannot open the audit log .*not a database"):
        AuditLog(path)


@pytest.mark.parametrize(
    ("workflow", "inputs"),
    [
        ("ask", {"question": "How is it priced?", "persona": "cfo", "segment": "hvac-service"}),
        ("draft", {"kind": "email", "persona": "coo", "segment": None, "account": "Acme",
                   "contact": "Ana", "context": "met at FieldOps"}),
        ("rfp", {"question": "Do you support SSO?", "file": "rfp.xlsx", "row": 4}),
        ("fit", {"prospect": "UK HVAC contractor with 300 technicians"}),
    ],
)
def test_every_field_of_an_output_is_recorded(
    log: AuditLog, workflow: str, inputs: dict[str, Any]
) -> None:
    record = make_record(workflow=workflow, inputs=inputs, roadmap=(
        {"id": "dynamics-connector", "status": "next"},), confidence=0.82)
    output_id = log.record(record)
    [row] = log.outputs()
    assert row["id"] == output_id
    assert row["ts"] == "2026-10-05T09:30:00.000000Z"
    expected = {
        "channel": "ui", "user": "dana@halden.example", "workflow": workflow,
        "kb_version": "kb-7f3a", "backend": "openai", "model": "gpt-4o-mini",
        "prompt_id": "ask", "prompt_version": "3", "inputs": inputs,
        "question": inputs.get("question"), "output": record.output,
        "citations": record.citations, "roadmap": [{"id": "dynamics-connector",
                                                    "status": "next"}],
        "persona": "cfo", "status": "revised", "violations": record.checks["violations"],
        "changes": record.checks["changes"], "remaining": [], "unknown": False,
        "confidence": 0.82, "latency_ms": 812.5, "redacted": False,
    }
    assert {k: row[k] for k in expected} == expected
    json.dumps(row)  # JSON-ready


def test_persona_and_segment_fall_back_to_the_inputs(log: AuditLog) -> None:
    log.record(make_record(persona=None, inputs={"question": "q?", "persona": "coo",
                                                 "segment": "lift-maintenance"}))
    [row] = log.outputs()
    assert (row["persona"], row["segment"]) == ("coo", "lift-maintenance")


def test_record_is_usable_as_an_assistant_listener(log: AuditLog) -> None:
    listeners: list[Callable[[OutputRecord], object]] = [log.record]
    for listener in listeners:
        listener(make_record())
    assert len(log.outputs()) == 1


# -- append-only and retention -----------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE outputs SET output = 'rewritten'",
        "UPDATE feedback SET rating = 'up'",
        "UPDATE gap_events SET kind = 'unknown'",
        "DELETE FROM outputs",
        "DELETE FROM feedback",
        "DELETE FROM gap_events",
    ],
)
def test_rows_cannot_be_changed_or_deleted_outside_retention(log: AuditLog, statement: str) -> None:
    output_id = log.record(make_record(unknown=True))
    log.record_feedback(output_id, "down", "wrong")
    with sqlite3.connect(log.path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute(statement)
    assert len(log.outputs()) == 1 and len(log.feedback()) == 1 and len(log.gap_events()) == 2


def test_retention_deletes_old_outputs_with_their_feedback_and_gaps(
    tmp_path: Path, clock: Clock
) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3", retention_days=30, clock=clock)
    old = log.record(make_record(unknown=True))
    log.record_feedback(old, "down", "no answer")
    clock.advance(days=20)
    recent = log.record(make_record(unknown=True))
    log.record_feedback(recent, "up")
    clock.advance(days=15)  # `old` is now 35 days old, `recent` 15
    assert log.apply_retention() == 1
    assert [r["id"] for r in log.outputs()] == [recent]
    assert [f["output_id"] for f in log.feedback()] == [recent]
    assert {g["output_id"] for g in log.gap_events()} == {recent}
    assert log.apply_retention() == 0


def test_retention_runs_when_the_log_is_opened(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "audit.sqlite3"
    AuditLog(path, clock=clock).record(make_record())
    clock.advance(days=8)
    assert AuditLog(path, retention_days=7, clock=clock).outputs() == []


def test_without_retention_nothing_is_deleted(log: AuditLog, clock: Clock) -> None:
    log.record(make_record())
    clock.advance(days=3650)
    assert log.apply_retention() == 0 and len(log.outputs()) == 1


def test_retention_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="at least 1 day"):
        AuditLog(tmp_path / "a.sqlite3", retention_days=0)


# -- gap events ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, []),
        ({"unknown": True}, [("unknown", None)]),
        ({"confidence": LOW_CONFIDENCE - 0.01}, [("low_confidence", None)]),
        ({"confidence": LOW_CONFIDENCE}, []),
        ({"unknown": True, "confidence": 0.1}, [("unknown", None)]),
        ({"roadmap": ({"id": "payroll", "status": "never"},
                      {"id": "fedramp", "status": "later"},
                      {"id": "van-stock", "status": "next"},
                      {"id": "erp-sync", "status": "available"},
                      {"id": "payroll", "status": "never"})},
         [("roadmap_request", "payroll"), ("roadmap_request", "fedramp"),
          ("roadmap_request", "van-stock")]),
        ({"workflow": "draft", "unknown": True, "inputs": {"persona": "coo"}}, []),
        ({"workflow": "rfp", "unknown": True,
          "inputs": {"question": "Do you hold FedRAMP?"}}, [("unknown", None)]),
    ],
)
def test_gap_events_derived_at_record_time(
    log: AuditLog, overrides: dict[str, Any], expected: list[tuple[str, str | None]]
) -> None:
    log.record(make_record(segment="hvac-service", **overrides))
    events = log.gap_events()
    assert [(e["kind"], e["item_id"]) for e in events] == expected
    for event in events:
        assert event["question"] and event["persona"] == "cfo"
        assert event["segment"] == "hvac-service"


def test_thumbs_down_is_a_gap_with_its_comment_and_thumbs_up_is_not(log: AuditLog) -> None:
    output_id = log.record(make_record())
    up = log.record_feedback(output_id, "up", user="rep1")
    down = log.record_feedback(output_id, "down", "quoted the old price", user="rep2")
    assert [f["id"] for f in log.feedback()] == [up, down]
    [gap] = log.gap_events()
    assert gap["kind"] == "thumbs_down" and gap["comment"] == "quoted the old price"
    assert gap["question"] == "How is Halden Dispatch priced?"
    assert gap["citations"] == ["per-technician-pricing", "reference/pricing-guide.pdf#p1"]


@pytest.mark.parametrize(("output_id", "rating", "message"), [
    (999, "down", "no audited output with id 999"),
    (1, "meh", "must be 'up' or 'down'"),
])
def test_bad_feedback_is_a_usage_error(
    log: AuditLog, output_id: int, rating: Any, message: str
) -> None:
    log.record(make_record())
    with pytest.raises(UsageError, match=message):
        log.record_feedback(output_id, rating)


# -- reading and export -------------------------------------------------------------------------


def test_since_filters_by_date_and_datetime(log: AuditLog, clock: Clock) -> None:
    first = log.record(make_record())
    clock.advance(days=2)
    second = log.record(make_record())
    assert [r["id"] for r in log.outputs()] == [first, second]
    assert [r["id"] for r in log.outputs(since=date(2026, 10, 6))] == [second]
    assert [r["id"] for r in log.outputs(since=T0 + timedelta(seconds=1))] == [second]
    assert [r["id"] for r in log.outputs(since=datetime(2026, 10, 5, 9, 30))] == [first, second]


def test_json_export_nests_feedback(log: AuditLog) -> None:
    output_id = log.record(make_record())
    log.record_feedback(output_id, "down", "too long")
    [row] = json.loads(log.export("json"))
    assert row["citations"] == ["per-technician-pricing", "reference/pricing-guide.pdf#p1"]
    assert [(f["rating"], f["comment"]) for f in row["feedback"]] == [("down", "too long")]


def test_csv_export_is_parseable_and_defuses_formulas(log: AuditLog) -> None:
    log.record(make_record(output="=HYPERLINK(\"http://evil\")", citations=["a", "b"]))
    [row] = list(csv.DictReader(io.StringIO(log.export("csv"))))
    assert row["output"].startswith("'=")
    assert json.loads(row["citations"]) == ["a", "b"]
    assert row["workflow"] == "ask" and row["question"] == "How is Halden Dispatch priced?"


def test_export_of_an_empty_log_and_a_bad_format(log: AuditLog) -> None:
    assert json.loads(log.export("json")) == [] and log.export("csv") == ""
    with pytest.raises(UsageError):
        log.export("xml")  # type: ignore[arg-type]


# -- redaction ----------------------------------------------------------------------------------


def _bytes_on_disk(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.is_file())


def test_redaction_keeps_questions_out_of_the_database_files(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3", redact_questions=True)
    context = "Their COO Marta Lindgren hates long contracts"
    output_id = log.record(make_record(
        inputs={"question": SECRET_QUESTION, "context": context, "persona": "cfo"},
        output=f"You asked: {SECRET_QUESTION} Halden Dispatch is priced per technician.",
        unknown=True, roadmap=({"id": "payroll", "status": "never"},)))
    log.record_feedback(output_id, "down", "no answer")
    on_disk = _bytes_on_disk(log.path)  # the database, its WAL and the key file
    for secret in (SECRET_QUESTION, "ServiceTitan", "Acme Widgets", "Marta Lindgren"):
        assert secret.encode() not in on_disk
        assert secret not in log.export("json") and secret not in log.export("csv")
    [row] = log.outputs()
    assert row["question"] == REDACTED and row["redacted"] is True
    assert row["inputs"] == {"question": REDACTED, "context": REDACTED, "persona": "cfo"}
    assert row["output"].startswith(f"You asked: {REDACTED}")
    assert {g["question"] for g in log.gap_events()} == {REDACTED}


def test_redacted_questions_still_group_by_keyed_hash(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3", redact_questions=True)
    for question in ("Do you integrate with HubSpot?", "do you integrate with hubspot",
                     "Do you integrate with Salesforce?"):
        log.record(make_record(inputs={"question": question}, unknown=True))
    hashes = [g["question_hash"] for g in log.gap_events()]
    assert hashes[0] == hashes[1] != hashes[2]
    reopened = AuditLog(tmp_path / "audit.sqlite3", redact_questions=True)
    assert reopened.question_hash("Do you integrate with HubSpot?") == hashes[0]
    other_db = AuditLog(tmp_path / "other" / "audit.sqlite3")
    assert other_db.question_hash("Do you integrate with HubSpot?") != hashes[0]  # keyed


def test_without_redaction_the_question_is_stored(log: AuditLog) -> None:
    log.record(make_record(inputs={"question": SECRET_QUESTION}))
    assert SECRET_QUESTION.encode() in _bytes_on_disk(log.path)


# -- concurrency --------------------------------------------------------------------------------


def test_eight_threads_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3")
    threads, per_thread = 8, 200
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []
    ids: list[int] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                record = make_record(inputs={"question": f"t{n}-q{i}"}, unknown=i % 10 == 0)
                output_id = log.record(record)
                ids.append(output_id)
                if i % 20 == 0:
                    log.record_feedback(output_id, "down", f"t{n}-c{i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    assert not errors
    rows = log.outputs()
    assert len(rows) == len(set(ids)) == threads * per_thread
    assert {r["question"] for r in rows} == {
        f"t{n}-q{i}" for n in range(threads) for i in range(per_thread)}
    assert len(log.feedback()) == threads * per_thread // 20
    assert len(log.gap_events()) == threads * (per_thread // 10 + per_thread // 20)
    print(f"8 threads x 200 writes: {elapsed:.2f}s")


_WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from types import SimpleNamespace
    from kbassist.adapters.audit import AuditLog

    path, name, count, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    log = AuditLog(path)
    while not go.exists():
        time.sleep(0.005)
    for i in range(count):
        log.record(SimpleNamespace(
            workflow="ask", inputs={"question": f"{name}-q{i}"}, output="answer",
            citations=["c1"], checks={"status": "pass", "violations": [], "changes": []},
            backend="offline", model="composer", prompt={"id": "offline-composer", "version": 1},
            kb_version="kb-1", latency_ms=1.0, channel="cli", user=None, persona=None,
            segment=None, roadmap=(), unknown=i % 2 == 0, confidence=None))
        time.sleep(0.001)  # requests arrive spaced, not back to back: lets the writers interleave
""")


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path, go, count = tmp_path / "audit.sqlite3", tmp_path / "go", 200
    AuditLog(path)
    workers = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(path), name, str(count), str(go)],
                         stderr=subprocess.PIPE, text=True)
        for name in ("p1", "p2")
    ]
    go.touch()
    for worker in workers:
        _, stderr = worker.communicate(timeout=60)
        assert worker.returncode == 0, stderr
    rows = AuditLog(path).outputs()
    assert {r["question"] for r in rows} == {
        f"{name}-q{i}" for name in ("p1", "p2") for i in range(count)}
    assert len(rows) == 2 * count
    assert len(AuditLog(path).gap_events()) == count
    interleaved = [r["question"].split("-")[0] for r in rows]
    switches = sum(a != b for a, b in zip(interleaved, interleaved[1:], strict=False))
    assert switches > 10, "the two writers did not actually interleave"
    print(f"2 processes x {count} writes: {switches} switches between writers")
