"""The audit trail: every output of ask, draft, rfp and fit, in one embedded SQLite file.

Concurrency: the UI answers from several worker threads and the CLI may run beside it in
another process. WAL lets readers and one writer work at once; each ``AuditLog`` keeps one
connection (``check_same_thread=False``) behind a lock, so its threads queue on the lock, and
other processes queue on ``busy_timeout`` instead of failing. Writes take ``BEGIN IMMEDIATE``
so two writers never deadlock upgrading a read lock. A forked child opens its own connection.
Gap events are derived in the same transaction as their output, so neither is ever missing.

Append-only is enforced by the database, not by convention: triggers abort any UPDATE of
``outputs``, ``feedback`` or ``gap_events``, and any DELETE of a row that is not older than the
retention cutoff that ``apply_retention`` writes first. ``apply_retention`` is the only delete
path.

Redaction (``redact_questions=True``): the question and the free-text inputs named in
``REDACTED_INPUTS`` are replaced by ``[redacted]`` before anything reaches SQLite, and any
verbatim copy of them in the output is masked too. What is kept is ``question_hash``: an
HMAC-SHA256 of the normalised question under a random key kept beside the database
(``<db>.key``, mode 0600), so repeats of one question can still be counted without the text.
The key is outside the database so that a copy of the database alone cannot be brute-forced
against guessed questions; deleting the key makes the hashes unlinkable. Rows written before
redaction was switched on stay as written (the log is never updated).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from kbassist.core.errors import KbassistError, UsageError
from kbassist.core.results import LOW_CONFIDENCE, OutputRecord, Rating

SCHEMA_VERSION = 1
ROADMAP_REQUEST_STATUSES = ("next", "later", "never")
QUESTION_WORKFLOWS = ("ask", "rfp")  # workflows whose inputs carry a rep's or buyer's question
REDACTED = "[redacted]"
REDACTED_INPUTS = ("question", "context", "description", "prospect", "contact")
BUSY_TIMEOUT_S = 30.0

GapKind = Literal["unknown", "low_confidence", "roadmap_request", "thumbs_down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outputs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    channel TEXT NOT NULL,
    user TEXT,
    workflow TEXT NOT NULL,
    kb_version TEXT NOT NULL,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_id TEXT,
    prompt_version TEXT,
    inputs_json TEXT NOT NULL,
    question TEXT,
    question_hash TEXT,
    output TEXT NOT NULL,
    citations_json TEXT NOT NULL,
    roadmap_json TEXT NOT NULL,
    persona TEXT,
    segment TEXT,
    status TEXT,
    violations_json TEXT NOT NULL,
    remaining_json TEXT NOT NULL,
    changes_json TEXT NOT NULL,
    unknown INTEGER NOT NULL,
    confidence REAL,
    latency_ms REAL NOT NULL,
    redacted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outputs_ts ON outputs (ts);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    output_id INTEGER NOT NULL REFERENCES outputs (id),
    ts TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL,
    user TEXT
);
CREATE INDEX IF NOT EXISTS feedback_output ON feedback (output_id);
CREATE TABLE IF NOT EXISTS gap_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL
        CHECK (kind IN ('unknown', 'low_confidence', 'roadmap_request', 'thumbs_down')),
    output_id INTEGER NOT NULL REFERENCES outputs (id),
    question TEXT,
    question_hash TEXT,
    item_id TEXT,
    item_status TEXT,
    persona TEXT,
    segment TEXT,
    comment TEXT,
    ts TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gap_events_ts ON gap_events (ts);
CREATE TRIGGER IF NOT EXISTS outputs_append_only BEFORE UPDATE ON outputs
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS feedback_append_only BEFORE UPDATE ON feedback
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS gap_events_append_only BEFORE UPDATE ON gap_events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS outputs_retention_only BEFORE DELETE ON outputs
WHEN old.ts >= COALESCE((SELECT value FROM meta WHERE key = 'retention_cutoff'), '')
BEGIN SELECT RAISE(ABORT, 'audit rows are only deleted by retention'); END;
CREATE TRIGGER IF NOT EXISTS feedback_retention_only BEFORE DELETE ON feedback
WHEN COALESCE((SELECT ts FROM outputs WHERE id = old.output_id), '9999')
    >= COALESCE((SELECT value FROM meta WHERE key = 'retention_cutoff'), '')
BEGIN SELECT RAISE(ABORT, 'audit rows are only deleted by retention'); END;
CREATE TRIGGER IF NOT EXISTS gap_events_retention_only BEFORE DELETE ON gap_events
WHEN COALESCE((SELECT ts FROM outputs WHERE id = old.output_id), '9999')
    >= COALESCE((SELECT value FROM meta WHERE key = 'retention_cutoff'), '')
BEGIN SELECT RAISE(ABORT, 'audit rows are only deleted by retention'); END;
"""

# Migrations from version N to N+1, applied in order by _migrate; none yet.
_MIGRATIONS: dict[int, str] = {}

_JSON_COLUMNS = {
    "inputs_json": "inputs",
    "citations_json": "citations",
    "roadmap_json": "roadmap",
    "violations_json": "violations",
    "remaining_json": "remaining",
    "changes_json": "changes",
}
_BOOL_COLUMNS = ("unknown", "redacted")
_CSV_INJECTION = ("=", "+", "-", "@", "\t", "\r")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """One fixed-width UTC format, so timestamps compare correctly as text in SQL."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_utc(since: datetime | date | None) -> datetime | None:
    """A date means its midnight UTC; a naive datetime is taken as UTC."""
    if since is None:
        return None
    if not isinstance(since, datetime):
        return datetime.combine(since, time(0), tzinfo=UTC)
    return since if since.tzinfo else since.replace(tzinfo=UTC)


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def normalise_question(text: str) -> str:
    """Case, spacing and trailing punctuation don't make a different question."""
    return re.sub(r"\s+", " ", text).strip().strip("?!. ").lower()


class AuditLog:
    """Append-only audit trail; ``record`` is usable directly as an ``Assistant`` listener."""

    # FULL: an output, once recorded, survives a power cut too (one fsync per commit, about
    # 2 ms on a cloud disk). NORMAL would only survive an app crash; an audit trail can't.
    synchronous: Literal["NORMAL", "FULL"] = "FULL"

    def __init__(
        self,
        path: Path,
        *,
        retention_days: int | None = None,
        redact_questions: bool = False,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if retention_days is not None and retention_days < 1:
            raise UsageError(f"audit retention must be at least 1 day, not {retention_days}")
        self.path = Path(path)
        self.retention_days = retention_days
        self.redact_questions = redact_questions
        self.clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._key = _load_or_create_key(self.path.with_name(self.path.name + ".key"))
        self._create_schema()
        if retention_days is not None:
            self.apply_retention()

    # -- connections ---------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        except sqlite3.Error as exc:
            raise KbassistError(f"cannot open the audit log {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        return conn

    def _connection(self) -> sqlite3.Connection:
        """The log's connection, reopened in a forked child (a connection never crosses a fork).

        Long-lived on purpose: closing the last connection to a WAL database checkpoints and
        deletes the WAL, which would cost an fsync per output."""
        if self._conn is None or self._pid != os.getpid():
            self._conn, self._pid = self._open(), os.getpid()
        return self._conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short IMMEDIATE transaction. Threads queue on the lock (no busy sleeps);
        other processes queue on ``busy_timeout``."""
        with self._lock, self._errors():
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors():
            yield self._connection()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite failures (disk full, locked past the timeout) as one actionable line."""
        try:
            yield
        except sqlite3.Error as exc:
            raise KbassistError(f"audit log {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def _create_schema(self) -> None:
        conn = self._open()
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                conn.execute("ROLLBACK")
                raise KbassistError(
                    f"{self.path}: audit log schema v{version} is newer than this kbassist "
                    f"(v{SCHEMA_VERSION}); upgrade kbassist"
                )
            if version == 0:
                for statement in _statements(_SCHEMA):
                    conn.execute(statement)
            else:
                _migrate(conn, version)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise KbassistError(f"cannot open the audit log {self.path}: {exc}") from exc
        finally:
            conn.close()

    # -- writing -------------------------------------------------------------------------

    def question_hash(self, question: str) -> str:
        """Keyed hash of the normalised question: groups repeats without storing the text."""
        digest = hmac.new(self._key, normalise_question(question).encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def record(self, record: OutputRecord) -> int:
        """Store one output and the gap events it implies; return the output id."""
        row = self._output_row(record)
        with self._write() as conn:
            output_id = _insert(conn, "outputs", row)
            for event in _gap_events(record, row):
                _insert(conn, "gap_events", {**event, "output_id": output_id})
        return output_id

    def _output_row(self, record: OutputRecord) -> dict[str, Any]:
        inputs = dict(record.inputs)
        question = inputs.get("question")
        question = question if isinstance(question, str) and question.strip() else None
        output = record.output
        if self.redact_questions:
            secrets_seen = [str(inputs[k]) for k in REDACTED_INPUTS if inputs.get(k)]
            inputs = {k: (REDACTED if k in REDACTED_INPUTS and v else v) for k, v in inputs.items()}
            output = _mask(output, secrets_seen)
        checks = record.checks or {}
        return {
            "ts": iso(self.clock()),
            "channel": record.channel,
            "user": record.user,
            "workflow": record.workflow,
            "kb_version": record.kb_version,
            "backend": record.backend,
            "model": record.model,
            "prompt_id": _text_or_none(record.prompt.get("id")),
            "prompt_version": _text_or_none(record.prompt.get("version")),
            "inputs_json": _dumps(inputs),
            "question": (REDACTED if self.redact_questions else question) if question else None,
            "question_hash": self.question_hash(question) if question else None,
            "output": output,
            "citations_json": _dumps(list(record.citations)),
            "roadmap_json": _dumps([dict(item) for item in record.roadmap]),
            "persona": record.persona or _text_or_none(record.inputs.get("persona")),
            "segment": record.segment or _text_or_none(record.inputs.get("segment")),
            "status": checks.get("status"),
            "violations_json": _dumps(checks.get("violations", [])),
            "remaining_json": _dumps(checks.get("remaining", [])),
            "changes_json": _dumps(checks.get("changes", [])),
            "unknown": int(record.unknown),
            "confidence": record.confidence,
            "latency_ms": round(float(record.latency_ms), 3),
            "redacted": int(self.redact_questions),
        }

    def record_feedback(
        self, output_id: int, rating: Rating, comment: str = "", user: str | None = None
    ) -> int:
        """Store a thumbs up or down on an output; a thumbs-down is also a gap event."""
        if rating not in ("up", "down"):
            raise UsageError(f"feedback rating must be 'up' or 'down', not {rating!r}")
        ts = iso(self.clock())
        with self._write() as conn:
            output = conn.execute(
                "SELECT question, question_hash, persona, segment FROM outputs WHERE id = ?",
                (output_id,),
            ).fetchone()
            if output is None:
                raise UsageError(f"no audited output with id {output_id}")
            feedback_id = _insert(conn, "feedback", {
                "output_id": output_id, "ts": ts, "rating": rating, "comment": comment,
                "user": user})
            if rating == "down":
                _insert(conn, "gap_events", {
                    "kind": "thumbs_down", "output_id": output_id, "ts": ts,
                    "question": output["question"], "question_hash": output["question_hash"],
                    "persona": output["persona"], "segment": output["segment"],
                    "comment": comment})
        return feedback_id

    def apply_retention(self) -> int:
        """Delete outputs older than the retention window, with their feedback and gap events.

        Returns the number of outputs deleted. The only delete path in the app."""
        if self.retention_days is None:
            return 0
        cutoff = iso(self.clock() - timedelta(days=self.retention_days))
        old = "SELECT id FROM outputs WHERE ts < ?"
        with self._write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('retention_cutoff', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (cutoff,))
            conn.execute(f"DELETE FROM gap_events WHERE output_id IN ({old})", (cutoff,))
            conn.execute(f"DELETE FROM feedback WHERE output_id IN ({old})", (cutoff,))
            deleted = conn.execute("DELETE FROM outputs WHERE ts < ?", (cutoff,)).rowcount
        return int(deleted)

    # -- reading -------------------------------------------------------------------------

    def outputs(self, since: datetime | date | None = None) -> list[dict[str, Any]]:
        """JSON-ready output rows, oldest first; ``*_json`` columns come back decoded."""
        return [_decode(row) for row in self._select("outputs", since)]

    def feedback(self, since: datetime | date | None = None) -> list[dict[str, Any]]:
        return [dict(row) for row in self._select("feedback", since)]

    def gap_events(self, since: datetime | date | None = None) -> list[dict[str, Any]]:
        """Gap events, each with its output's workflow and citations (to find an owner)."""
        query = (
            "SELECT g.*, o.workflow, o.citations_json FROM gap_events g "
            "JOIN outputs o ON o.id = g.output_id"
        )
        start = as_utc(since)
        params: tuple[str, ...] = ()
        if start is not None:
            query += " WHERE g.ts >= ?"
            params = (iso(start),)
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY g.ts, g.id", params).fetchall()
        return [_decode(row) for row in rows]

    def _select(self, table: str, since: datetime | date | None) -> list[sqlite3.Row]:
        start = as_utc(since)
        with self._read() as conn:
            if start is None:
                return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            return conn.execute(
                f"SELECT * FROM {table} WHERE ts >= ? ORDER BY id", (iso(start),)
            ).fetchall()

    def export(self, fmt: Literal["json", "csv"], since: datetime | date | None = None) -> str:
        """Outputs since ``since``, each with its feedback nested, as JSON or CSV.

        CSV cells holding lists or objects are JSON; cells a spreadsheet would run as a formula
        are prefixed with a quote (CSV injection)."""
        outputs = self.outputs(since)
        by_output: dict[int, list[dict[str, Any]]] = {}
        for item in self.feedback():
            by_output.setdefault(item["output_id"], []).append(
                {k: item[k] for k in ("id", "ts", "rating", "comment", "user")})
        rows = [{**row, "feedback": by_output.get(row["id"], [])} for row in outputs]
        if fmt == "json":
            return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
        if fmt == "csv":
            return _to_csv(rows)
        raise UsageError(f"audit export format must be json or csv, not {fmt!r}")


# -- helpers -----------------------------------------------------------------------------


def _gap_events(record: OutputRecord, row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The gaps one output reveals: unknown, low confidence, asks about roadmap items."""
    if record.workflow not in QUESTION_WORKFLOWS or not row["question"]:
        return []
    base = {
        "ts": row["ts"], "question": row["question"], "question_hash": row["question_hash"],
        "persona": row["persona"], "segment": row["segment"],
    }
    events: list[dict[str, Any]] = []
    if record.unknown:
        events.append({**base, "kind": "unknown"})
    elif record.confidence is not None and record.confidence < LOW_CONFIDENCE:
        events.append({**base, "kind": "low_confidence"})
    seen: set[str] = set()
    for item in record.roadmap:
        item_id, status = item.get("id"), item.get("status")
        if item_id and status in ROADMAP_REQUEST_STATUSES and item_id not in seen:
            seen.add(item_id)
            events.append(
                {**base, "kind": "roadmap_request", "item_id": item_id, "item_status": status})
    return events


def _insert(conn: sqlite3.Connection, table: str, row: Mapping[str, Any]) -> int:
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cursor = conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for key in row.keys():  # noqa: SIM118 - sqlite3.Row is not iterable by key
        value = row[key]
        if key in _JSON_COLUMNS:
            decoded[_JSON_COLUMNS[key]] = json.loads(value)
        elif key in _BOOL_COLUMNS:
            decoded[key] = bool(value)
        else:
            decoded[key] = value
    return decoded


def _to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    if not rows:
        return ""
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(_CSV_INJECTION):
        return "'" + value
    return value


def _mask(text: str, secrets_seen: Sequence[str]) -> str:
    for secret in sorted(secrets_seen, key=len, reverse=True):
        if secret.strip():
            text = text.replace(secret, REDACTED)
    return text


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _statements(script: str) -> list[str]:
    """Split the schema script; triggers hold ';' inside BEGIN ... END."""
    statements, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    while version < SCHEMA_VERSION:
        for statement in _statements(_MIGRATIONS[version]):
            conn.execute(statement)
        version += 1


def _load_or_create_key(path: Path) -> bytes:
    """The HMAC key for question hashes; created once, atomically, readable only by its owner."""
    if not path.exists():
        temp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(temp, path)  # fails if another process won the race: use theirs
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    return bytes.fromhex(path.read_text().strip())
