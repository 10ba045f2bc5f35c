"""The answering journal: every answered row appended as it is answered, so an interrupted
run resumes and a finished run's rerun answers nothing again."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import IO, Any

from kbassist.adapters.questionnaire.read import Questionnaire
from kbassist.core.errors import InputFileError, KbassistError
from kbassist.core.results import RowAnswer

JOURNAL_FOLDER = "rfp-journals"
JOURNAL_FORMAT = 1
JOURNAL_MAX_AGE_DAYS = 30  # untouched journals older than this are pruned

class Journal:
    """Answered rows, one JSON line each, appended and flushed as they are answered.

    A kill can tear the last line; loading drops it (and truncates it away so the next append
    starts on a fresh line). A row is reused only while its question text is unchanged.
    """

    def __init__(self, path: Path, header: dict[str, Any]):
        from filelock import FileLock, Timeout

        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _prune_journals(path.parent, keep=path)
        except OSError as exc:
            raise self._error(exc) from exc
        self._lock = FileLock(str(path) + ".lock", timeout=0)
        try:
            self._lock.acquire()
        except Timeout as exc:
            raise InputFileError(
                f"another kbassist rfp run is answering this file right now ({path.name})"
            ) from exc
        try:
            self.entries = self._load(header)
            self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (see close)
            if path.stat().st_size == 0:
                self._write(header)
        except OSError as exc:
            self._lock.release()
            raise self._error(exc) from exc
        except BaseException:
            self._lock.release()
            raise

    def _error(self, exc: OSError) -> KbassistError:
        return KbassistError(f"cannot use the resume journal {self.path}: {exc.strerror or exc}")

    def _load(self, header: dict[str, Any]) -> dict[int, tuple[str, RowAnswer]]:
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        lines = data[:end].splitlines()
        if not lines or _json_line(lines[0]) != header:
            end = 0  # not our journal (or an older format): start again
        if end < len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(end)
        entries: dict[int, tuple[str, RowAnswer]] = {}
        for line in lines[1:] if end else []:
            record = _json_line(line)
            parsed = _journal_entry(record) if isinstance(record, dict) else None
            if parsed is not None:
                entries[parsed[0]] = parsed[1]
        return entries

    def append(self, row: int, question: str, answer: RowAnswer) -> None:
        self._write({  # coerced: the answer function may hand back numpy floats and bools
            "row": row, "question": question, "answer": str(answer.answer),
            "sources": [str(s) for s in answer.sources], "confidence": float(answer.confidence),
            "needs_review": bool(answer.needs_review), "review_reason": str(answer.review_reason),
            "status": str(answer.status),
        })

    def _write(self, record: dict[str, Any]) -> None:
        try:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()  # a kill loses at most the row being answered
        except OSError as exc:
            raise self._error(exc) from exc

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._lock.release()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _prune_journals(folder: Path, keep: Path) -> None:
    cutoff = time.time() - JOURNAL_MAX_AGE_DAYS * 86_400
    for old in folder.glob("*.jsonl"):
        if old != keep and old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
            Path(str(old) + ".lock").unlink(missing_ok=True)


def _json_line(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


_ENTRY_TYPES: dict[str, type | tuple[type, ...]] = {
    "row": int, "question": str, "answer": str, "sources": list, "confidence": (int, float),
    "needs_review": bool, "review_reason": str, "status": str,
}


def _journal_entry(record: dict[str, Any]) -> tuple[int, tuple[str, RowAnswer]] | None:
    """(row, (question, answer)) from a journal line, or None when the line is damaged."""
    valid = (
        all(isinstance(record.get(k), t) for k, t in _ENTRY_TYPES.items())
        and not isinstance(record["confidence"], bool) and not isinstance(record["row"], bool)
        and record["row"] >= 0 and all(isinstance(s, str) for s in record["sources"])
    )
    if not valid:
        return None
    answer = RowAnswer(
        answer=record["answer"], sources=list(record["sources"]),
        confidence=float(record["confidence"]), needs_review=record["needs_review"],
        review_reason=record["review_reason"], status=record["status"],
    )
    return record["row"], (record["question"], answer)


def journal_header(data: bytes, q: Questionnaire, kb_version: str) -> dict[str, Any]:
    return {
        "journal": JOURNAL_FORMAT,
        "input_sha256": hashlib.sha256(data).hexdigest(),
        "sheet": q.sheet,
        "question_col": [q.question_index, q.question_header],
        "kb_version": kb_version,
    }


def journal_path(checkpoint_dir: Path, header: dict[str, Any]) -> Path:
    key = hashlib.sha256(json.dumps(header, sort_keys=True).encode()).hexdigest()[:32]
    return checkpoint_dir / JOURNAL_FOLDER / f"{key}.jsonl"
