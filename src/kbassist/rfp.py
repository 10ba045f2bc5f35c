"""RFP and security-questionnaire spreadsheets: spreadsheet in, answered spreadsheet out.

The answer function belongs to the caller (retrieval + governance); this module owns the IO
around it, which has to survive what real questionnaires do to a tool:

* odd layouts: title rows above the header, a question column called "Requirement" or
  "Query", semicolon CSVs from a European Excel, the questions on the second sheet;
* long runs that get interrupted: every answered row is appended to a journal keyed by the
  input's bytes, its question column and the kb_version, so a rerun resumes where it stopped
  and a finished run's rerun answers nothing again;
* hostile or broken files: a PNG renamed .xlsx, a binary .csv, an oversized export, and cells
  a spreadsheet would run as formulas (OWASP "CSV injection") in the input we echo or in answers.

OUT is written only after every row has an answer, through a temporary file in the same folder
and ``os.replace``, so a failure never leaves a half-written OUT or disturbs an older one.

Output columns: the input's columns, in order, then ``answer``, ``sources``, ``confidence``,
``needs_review``, ``review_reason``, ``status`` and ``kb_version``. Two cases reuse a column
instead of appending one: an existing answer column ("Answer", "Vendor response", ...) that is
empty in every row is filled in place (a non-empty one is the vendor's own work and is kept
as it is, with ``answer`` appended), and an input that already has all seven columns (a previous
kbassist output fed back in) is updated in place. Any other name clash gets a " (kbassist)"
suffix, so no header is ever duplicated.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import IO, Any

from kbassist.errors import InputFileError, KbassistError

MAX_INPUT_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_COLUMNS = 1_000
HEADER_SCAN_ROWS = 20  # title and instruction rows tolerated above the header
XLSX_CELL_LIMIT = 32_767  # Excel refuses longer cell text
READ_SUFFIXES = (".csv", ".xlsx", ".xlsm")
WRITE_SUFFIXES = (".csv", ".xlsx")
OUTPUT_COLUMNS = (
    "answer", "sources", "confidence", "needs_review", "review_reason", "status", "kb_version",
)
JOURNAL_FOLDER = "rfp-journals"
JOURNAL_FORMAT = 1
JOURNAL_MAX_AGE_DAYS = 30  # untouched journals older than this are pruned
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0", "a legacy Office file (.xls or .doc)"),
    (b"PK\x03\x04", "a ZIP archive, such as an .xlsx workbook"),
    (b"\x1f\x8b", "a gzip archive"),
)


@dataclass(frozen=True)
class RowAnswer:
    """What the answer function returns for one question."""

    answer: str
    sources: list[str]
    confidence: float
    needs_review: bool
    review_reason: str
    status: str  # pass | revised | blocked | unknown


@dataclass(frozen=True)
class RfpSummary:
    rows: int  # data rows below the header, blank ones included
    answered: int  # answer-function calls made by this run
    resumed: int  # rows taken from the journal of an earlier, interrupted or finished run
    skipped_blank: int  # rows whose question cell is blank: kept, not answered
    needs_review: int
    seconds: float
    output: Path


@dataclass(frozen=True)
class Questionnaire:
    """One sheet of questions. Every row is padded to ``len(headers)`` cells of text."""

    path: Path
    headers: list[str]
    rows: list[list[str]]
    question_index: int
    section_index: int | None = None
    id_index: int | None = None
    sheet: str | None = None  # the XLSX sheet read; None for CSV
    preamble: list[list[str]] = field(default_factory=list)  # rows above the header
    delimiter: str = ","  # the CSV input's delimiter, reused for CSV output

    @property
    def question_header(self) -> str:
        return self.headers[self.question_index]

    def question(self, row: list[str]) -> str:
        return row[self.question_index].strip()

    def section(self, row: list[str]) -> str | None:
        if self.section_index is None:
            return None
        return row[self.section_index].strip() or None


class _NoQuestions(InputFileError):
    """A sheet without a question column or without questions (another sheet may have them)."""


# ------------------------------------------------------------------------------ reading


def read_questionnaire(
    path: Path, *, question_col: str | None = None, sheet: str | None = None
) -> Questionnaire:
    """Read the questions of a CSV or XLSX file; raises InputFileError with one clear line."""
    return _parse(path, _read_bytes(path), question_col=question_col, sheet=sheet)


def _read_bytes(path: Path) -> bytes:
    suffix = path.suffix.lower()
    if suffix not in READ_SUFFIXES:
        raise InputFileError(
            f"{path.name}: unsupported file type '{suffix or '(none)'}'; use a .csv or .xlsx file"
        )
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputFileError(
                f"{path.name} is {size / 1_048_576:.1f} MB; the limit is "
                f"{MAX_INPUT_BYTES / 1_048_576:.0f} MB (split the questionnaire into smaller files)"
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InputFileError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputFileError(f"{path} is a folder, not a spreadsheet") from exc
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _parse(
    path: Path, data: bytes, *, question_col: str | None, sheet: str | None
) -> Questionnaire:
    if path.suffix.lower() == ".csv":
        if sheet is not None:
            raise InputFileError(f"{path.name}: --sheet applies to .xlsx files, not CSV")
        rows, delimiter = _csv_table(path, data)
        return _build(path, rows, question_col, sheet=None, delimiter=delimiter)
    first_problem: _NoQuestions | None = None
    with closing(_xlsx_tables(path, data, sheet)) as tables:
        for title, rows in tables:
            try:
                return _build(path, rows, question_col, sheet=title)
            except _NoQuestions as exc:  # an instructions sheet? try the next; report the first
                first_problem = first_problem or exc
    if first_problem is not None:
        raise first_problem
    raise InputFileError(f"{path.name} is empty: no sheet has any cells")


def _binary_kind(data: bytes) -> str | None:
    return next((kind for magic, kind in _SIGNATURES if data.startswith(magic)), None)


def _csv_table(path: Path, data: bytes) -> tuple[list[list[str]], str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputFileError(f"{path.name} is UTF-16 text; save it as 'CSV UTF-8' and try again")
    kind = _binary_kind(data)
    if kind is not None or b"\x00" in data:
        raise InputFileError(
            f"{path.name} is not a CSV text file (it looks like {kind or 'binary data'})"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{path.name} is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as 'CSV UTF-8' and try again"
        ) from exc
    text, delimiter = _excel_sep_line(text)
    delimiter = delimiter or _sniff_delimiter(text)
    table = _Table(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            table.add(cells)
    except csv.Error as exc:
        raise InputFileError(f"{path.name}:{reader.line_num}: not a valid CSV row ({exc})") from exc
    return table.finish(), delimiter


def _excel_sep_line(text: str) -> tuple[str, str | None]:
    """Excel's ``sep=;`` first line names the delimiter; it is not part of the table."""
    match = re.match(r"sep=([,;\t|])\r?\n", text)
    return (text[match.end():], match.group(1)) if match else (text, None)


def _sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab: the one that splits most rows of the sample into the same
    number (> 1) of fields. More robust than csv.Sniffer on question text full of commas."""
    sample = text[:65_536]
    if len(text) > len(sample):
        sample = sample[: sample.rfind("\n") + 1] or sample
    best, best_score = ",", (0, 0)
    for delimiter in (",", ";", "\t"):
        widths = [len(r) for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
                  if any(c.strip() for c in r)]
        wide = [w for w in widths if w > 1]
        if not wide:
            continue
        mode = max(set(wide), key=wide.count)
        score = (wide.count(mode), mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _xlsx_tables(
    path: Path, data: bytes, sheet: str | None
) -> Generator[tuple[str, list[list[str]]], None, None]:
    """Yield (title, rows) for the named sheet, or for each worksheet that has any cells."""
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputFileError(f"{path.name} is an old binary Office file (.xls), not XLSX; "
                             "open it in Excel and save it as .xlsx")
    if not data.startswith(b"PK\x03\x04"):
        kind = _binary_kind(data) or "another kind of file"
        raise InputFileError(f"{path.name} is not an XLSX workbook (it looks like {kind})")
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises a dozen types for a damaged workbook
        raise InputFileError(f"{path.name} is not a readable XLSX workbook ({exc})") from exc
    try:
        for worksheet in _candidate_sheets(path, workbook, sheet):
            rows = _sheet_rows(path, worksheet)
            if rows:
                yield worksheet.title, rows
            elif sheet is not None:
                raise InputFileError(f"{path.name}: sheet '{sheet}' is empty")
    finally:
        workbook.close()


def _candidate_sheets(path: Path, workbook: Any, sheet: str | None) -> list[Any]:
    if sheet is None:
        return list(workbook.worksheets)
    if sheet not in workbook.sheetnames:
        names = ", ".join(f"'{n}'" for n in workbook.sheetnames)
        raise InputFileError(f"{path.name} has no sheet named '{sheet}'; sheets: {names}")
    chosen = workbook[sheet]
    if chosen not in workbook.worksheets:
        raise InputFileError(f"{path.name}: sheet '{sheet}' is a chart, not a table")
    return [chosen]


def _sheet_rows(path: Path, worksheet: Any) -> list[list[str]]:
    worksheet.reset_dimensions()  # don't trust the stored size: pad nothing, read what's there
    table = _Table(path)
    try:
        for values in worksheet.iter_rows(min_row=1, min_col=1, values_only=True):
            table.add([_cell_text(v) for v in values])
    except InputFileError:
        raise
    except Exception as exc:  # malformed sheet XML surfaces while iterating
        raise InputFileError(
            f"{path.name}: sheet '{worksheet.title}' cannot be read ({exc})"
        ) from exc
    return table.finish()


class _Table:
    """Rows as read, trailing empty cells and rows dropped, with the size limits enforced.

    Empty rows are counted, not stored, until a row with data follows, so a sheet with a
    million formatted but empty rows at the bottom costs nothing.
    """

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[list[str]] = []
        self._blank = 0

    def add(self, cells: list[str]) -> None:
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            self._blank += 1
            return
        if len(cells) > MAX_COLUMNS:
            raise InputFileError(f"{self.path.name}: row {len(self.rows) + self._blank + 1} has "
                                 f"{len(cells)} columns; the limit is {MAX_COLUMNS}")
        self.rows.extend([] for _ in range(self._blank))
        self._blank = 0
        self.rows.append(cells)
        if len(self.rows) > MAX_ROWS:
            raise InputFileError(f"{self.path.name} has more than {MAX_ROWS:,} rows; split it")

    def finish(self) -> list[list[str]]:
        while self.rows and not any(c.strip() for c in self.rows[-1]):
            self.rows.pop()
        return self.rows


def _cell_text(value: object) -> str:
    """XLSX values as the text a reader sees (1.0 -> "1"; dates without a time -> ISO date)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == dtime() else value.isoformat(sep=" ")
    if isinstance(value, (date, dtime)):
        return value.isoformat()
    return str(value)


# ------------------------------------------------------------------ header detection

_QUESTION_EXACT = frozenset({
    "question", "questions", "question text", "requirement", "requirements", "requirement text",
    "requirement description", "query", "queries",
})
_QUESTION_WORD = re.compile(r"\b(question|questions|requirement|requirements|query|queries)\b")
_QUESTION_WEAK = frozenset({
    "item", "items", "description", "item description", "detail", "details", "criteria",
    "criterion", "request", "control", "control description", "specification", "text",
})
_NOT_QUESTION = re.compile(
    r"#|\b(answer|answers|response|responses|reply|comment|comments|note|notes|id|ref|no|num|"
    r"number|type|status|owner|score|weight|weighting|priority|mandatory|section|category|"
    r"domain|guidance|instruction|instructions)\b"
)
_SECTION_EXACT = frozenset({
    "section", "sections", "section name", "section title", "category", "categories", "domain",
    "control domain", "area", "functional area", "topic", "theme", "group", "module", "chapter",
    "heading", "capability", "subject",
})
_SECTION_WORD = re.compile(r"\b(section|category|domain)\b")
_ID = re.compile(
    r"((question|requirement|req|item|control|ques|q|line|row|criteria|criterion)\s*)?"
    r"(id|ref\.?|reference|#|no\.?|nr\.?|num|number)"
)
_ID_WORDS = re.compile(r"#|\b(id|ref|no|num|number|nr)\b")
_ANSWER_WORD = re.compile(r"\b(answer|answers|response|responses|reply)\b")
_NOT_ANSWER = re.compile(
    r"\b(comment|comments|note|notes|guidance|instruction|instructions|type|time|date|id|"
    r"format|options|expected|required)\b"
)


def _norm(header: str) -> str:
    text = re.sub(r"\s+", " ", header.replace("_", " ").strip().lower())
    return text.strip(" :*")


def _question_score(header: str) -> int:
    name = _norm(header)
    if name in _QUESTION_EXACT:
        return 3
    if len(name) > 60 or _NOT_QUESTION.search(name):  # a long cell is an instruction, not a header
        return 0
    if _QUESTION_WORD.search(name):
        return 2
    return 1 if name in _QUESTION_WEAK else 0


def _best_question_column(headers: list[str]) -> int | None:
    scores = [_question_score(h) for h in headers]
    best = max(scores, default=0)
    return scores.index(best) if best else None


def _is_section(header: str) -> bool:
    name = _norm(header)
    if name in _SECTION_EXACT:
        return True
    return bool(_SECTION_WORD.search(name)) and not _ID_WORDS.search(name)


def _first_match(headers: list[str], match: Callable[[str], bool], taken: set[int]) -> int | None:
    return next((i for i, h in enumerate(headers) if i not in taken and match(h)), None)


def _locate_header(path: Path, rows: list[list[str]], question_col: str | None) -> tuple[int, int]:
    """(index of the header row, index of the question column)."""
    filled = [i for i, row in enumerate(rows) if any(c.strip() for c in row)]
    if not filled:
        raise InputFileError(f"{path.name} is empty")
    scan = filled[:HEADER_SCAN_ROWS]
    if question_col is not None:
        return _locate_named(path, rows, scan, question_col)
    for i in scan:
        column = _best_question_column(rows[i])
        if column is not None:
            return i, column
    raise _NoQuestions(
        f"{path.name}: no question column found; headers found: {_list_headers(rows[scan[0]])}; "
        "name the column with --question-col"
    )


def _locate_named(
    path: Path, rows: list[list[str]], scan: list[int], question_col: str
) -> tuple[int, int]:
    wanted = _norm(question_col)
    for i in scan:
        names = [_norm(c) for c in rows[i]]
        if wanted in names:
            return i, names.index(wanted)
    header = rows[scan[0]]
    column = _column_number(question_col)
    if column is not None and column < len(header):
        return scan[0], column
    raise _NoQuestions(
        f"{path.name}: no column '{question_col}'; headers found: {_list_headers(header)}"
    )


def _column_number(spec: str) -> int | None:
    """0-based index from a 1-based number ("3") or a spreadsheet column letter ("C")."""
    spec = spec.strip()
    if spec.isdigit():
        return int(spec) - 1 if int(spec) > 0 else None
    if re.fullmatch(r"[A-Za-z]{1,3}", spec):
        number = 0
        for letter in spec.upper():
            number = number * 26 + ord(letter) - ord("A") + 1
        return number - 1
    return None


def _list_headers(header: list[str]) -> str:
    names = [f"'{h.strip()}'" for h in header if h.strip()]
    return ", ".join(names[:30]) + (" ..." if len(names) > 30 else "") if names else "(none)"


def _build(
    path: Path,
    table: list[list[str]],
    question_col: str | None,
    *,
    sheet: str | None,
    delimiter: str = ",",
) -> Questionnaire:
    header_at, question_index = _locate_header(path, table, question_col)
    body = table[header_at + 1:]
    width = max([len(table[header_at]), *(len(r) for r in body)])
    headers = table[header_at] + [""] * (width - len(table[header_at]))
    rows = [row + [""] * (width - len(row)) for row in body]
    where = f"{path.name}" + (f" (sheet '{sheet}')" if sheet else "")
    if not rows:
        raise _NoQuestions(f"{where} has a header row but no questions below it")
    if not any(row[question_index].strip() for row in rows):
        raise _NoQuestions(f"{where}: column '{headers[question_index]}' has no questions")
    taken = {question_index}
    section_index = _first_match(headers, _is_section, taken)
    if section_index is not None:
        taken.add(section_index)
    id_index = _first_match(headers, lambda h: bool(_ID.fullmatch(_norm(h))), taken)
    return Questionnaire(
        path=path, headers=headers, rows=rows, question_index=question_index,
        section_index=section_index, id_index=id_index, sheet=sheet,
        preamble=table[:header_at], delimiter=delimiter,
    )


# ------------------------------------------------------------------------------ journal


class _Journal:
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

    def __enter__(self) -> _Journal:
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


def _journal_header(data: bytes, q: Questionnaire, kb_version: str) -> dict[str, Any]:
    return {
        "journal": JOURNAL_FORMAT,
        "input_sha256": hashlib.sha256(data).hexdigest(),
        "sheet": q.sheet,
        "question_col": [q.question_index, q.question_header],
        "kb_version": kb_version,
    }


def _journal_path(checkpoint_dir: Path, header: dict[str, Any]) -> Path:
    key = hashlib.sha256(json.dumps(header, sort_keys=True).encode()).hexdigest()[:32]
    return checkpoint_dir / JOURNAL_FOLDER / f"{key}.jsonl"


# ---------------------------------------------------------------------------- answering


def run_rfp(
    in_path: Path,
    out_path: Path,
    answer: Callable[[str, str | None], RowAnswer],
    *,
    kb_version: str,
    checkpoint_dir: Path,
    question_col: str | None = None,
    sheet: str | None = None,
    progress: bool = False,
) -> RfpSummary:
    """Answer every question of ``in_path`` and write ``out_path`` (format from its suffix).

    An exception from ``answer`` propagates after the rows answered so far are journaled;
    OUT is then not written. Rerunning with the same input and kb_version resumes.
    """
    started = time.perf_counter()
    write = _writer_for(out_path)
    data = _read_bytes(in_path)
    q = _parse(in_path, data, question_col=question_col, sheet=sheet)
    header = _journal_header(data, q, kb_version)
    with _Journal(_journal_path(checkpoint_dir, header), header) as journal:
        results, resumed, skipped = _answer_rows(q, answer, journal, progress)
    layout = _plan_columns(q)
    table = _output_rows(q, layout, results, kb_version)
    _write_atomic(out_path, lambda fh: write(fh, q, layout, table))
    return RfpSummary(
        rows=len(q.rows), answered=len(results) - resumed, resumed=resumed,
        skipped_blank=skipped, needs_review=sum(a.needs_review for a in results.values()),
        seconds=time.perf_counter() - started, output=out_path,
    )


def _answer_rows(
    q: Questionnaire,
    answer: Callable[[str, str | None], RowAnswer],
    journal: _Journal,
    progress: bool,
) -> tuple[dict[int, RowAnswer], int, int]:
    """Answer the rows the journal lacks. Returns (answers by row, resumed, skipped blank)."""
    results: dict[int, RowAnswer] = {}
    pending: list[tuple[int, str, str | None]] = []
    skipped = 0
    section: str | None = None
    for i, row in enumerate(q.rows):
        section = q.section(row) or section  # a section named once covers the rows below it
        question = q.question(row)
        prior = journal.entries.get(i)
        if not question:
            skipped += 1
        elif prior is not None and prior[0] == question:
            results[i] = prior[1]
        else:
            pending.append((i, question, section))
    resumed = len(results)
    with _progress_bar(len(pending) + resumed, resumed, progress) as bar:
        for i, question, row_section in pending:
            result = answer(question, row_section)
            if not isinstance(result, RowAnswer):
                raise TypeError(f"the answer function returned {type(result).__name__}, "
                                "not RowAnswer")
            journal.append(i, question, result)
            results[i] = result
            bar.update()
    return results, resumed, skipped


def _progress_bar(total: int, initial: int, progress: bool) -> Any:
    from tqdm import tqdm

    shown = progress and sys.stderr.isatty()
    return tqdm(total=total, initial=initial, disable=not shown, file=sys.stderr,
                unit="q", desc="Answering", dynamic_ncols=True)


# ------------------------------------------------------------------------------ writing


@dataclass(frozen=True)
class _Layout:
    headers: list[str]
    target: dict[str, int]  # output column -> index in the output row


def _plan_columns(q: Questionnaire) -> _Layout:
    names = [_norm(h) for h in q.headers]
    previous = _previous_output_columns(names)
    if previous is not None:  # a kbassist output fed back in: update it in place
        return _Layout(list(q.headers), previous)
    headers = list(q.headers)
    target: dict[str, int] = {}
    existing = _empty_answer_column(q)
    if existing is not None:
        target["answer"] = existing
    taken = set(names)
    for column in OUTPUT_COLUMNS:
        if column in target:
            continue
        label = column if _norm(column) not in taken else f"{column} (kbassist)"
        target[column] = len(headers)
        headers.append(label)
        taken.add(_norm(label))
    return _Layout(headers, target)


def _previous_output_columns(names: list[str]) -> dict[str, int] | None:
    """Our seven columns, when all are present (``answer (kbassist)`` before ``answer``, so a
    vendor's own "Answer" column is never overwritten)."""
    found: dict[str, int] = {}
    for column in OUTPUT_COLUMNS:
        labels = [_norm(f"{column} (kbassist)"), _norm(column)]
        index = next((names.index(n) for n in labels if n in names), None)
        if index is None:
            return None
        found[column] = index
    return found


def _empty_answer_column(q: Questionnaire) -> int | None:
    """The input's answer column ("Answer", "Vendor response"), if it is empty in every row."""
    skip = {q.question_index, q.section_index, q.id_index}
    for i, header in enumerate(q.headers):
        name = _norm(header)
        if i in skip or not _ANSWER_WORD.search(name) or _NOT_ANSWER.search(name):
            continue
        return i if not any(row[i].strip() for row in q.rows) else None
    return None


def _output_rows(
    q: Questionnaire, layout: _Layout, results: dict[int, RowAnswer], kb_version: str
) -> list[list[str | float]]:
    width = len(layout.headers)
    target = layout.target
    table: list[list[str | float]] = []
    for i, row in enumerate(q.rows):
        out: list[str | float] = [*row, *([""] * (width - len(row)))]
        result = results.get(i)
        if result is not None:
            out[target["answer"]] = result.answer
            out[target["sources"]] = "; ".join(result.sources)
            out[target["confidence"]] = round(float(result.confidence), 2)
            out[target["needs_review"]] = "yes" if result.needs_review else "no"
            out[target["review_reason"]] = result.review_reason
            out[target["status"]] = result.status
            out[target["kb_version"]] = kb_version
        table.append(out)
    return table


_Writer = Callable[[IO[bytes], Questionnaire, _Layout, list[list[str | float]]], None]


def _writer_for(out_path: Path) -> _Writer:
    suffix = out_path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise InputFileError(
            f"{out_path.name}: unsupported output type '{suffix or '(none)'}'; "
            "use a .csv or .xlsx file"
        )
    if not out_path.parent.is_dir():
        raise InputFileError(f"cannot write {out_path}: folder {out_path.parent} does not exist")
    return _write_csv if suffix == ".csv" else _write_xlsx


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_PREFIXES)


def csv_safe(text: str) -> str:
    """OWASP CSV-injection defence: a leading quote makes a spreadsheet show the cell as text."""
    return "'" + text if is_formula_like(text) else text


def _all_rows(
    q: Questionnaire, layout: _Layout, table: list[list[str | float]]
) -> list[Sequence[str | float]]:
    return [*q.preamble, layout.headers, *table]


def _write_csv(
    fh: IO[bytes], q: Questionnaire, layout: _Layout, table: list[list[str | float]]
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=q.delimiter if q.sheet is None else ",")
    for row in _all_rows(q, layout, table):
        writer.writerow([f"{c:.2f}" if isinstance(c, float) else csv_safe(c) for c in row])
    fh.write(buffer.getvalue().encode("utf-8-sig"))  # the BOM tells Excel it is UTF-8


def _write_xlsx(
    fh: IO[bytes], q: Questionnaire, layout: _Layout, table: list[list[str | float]]
) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(q.sheet or "Responses")
    wide = {q.question_index, layout.target["answer"]}
    for index in range(len(layout.headers)):
        width = 60 if index in wide else 16
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    sheet.freeze_panes = f"A{len(q.preamble) + 2}"

    def cell(value: str | float) -> Any:
        if isinstance(value, float):
            return value
        if not value:
            return None  # an empty cell, not an empty string
        text = ILLEGAL_CHARACTERS_RE.sub("", value)[:XLSX_CELL_LIMIT]
        if not is_formula_like(text):
            return text
        guarded = WriteOnlyCell(sheet, value=text)
        guarded.data_type = "s"  # stored as text, never as a formula
        guarded.quotePrefix = True  # and Excel keeps it text when someone edits the cell
        return guarded

    for row in _all_rows(q, layout, table):
        sheet.append([cell(c) for c in row])
    workbook.save(fh)


def _write_atomic(out_path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write to a temporary file beside OUT, fsync, then rename over OUT in one step."""
    temp = out_path.with_name(f".{out_path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(temp, flags, 0o666)  # the umask applies, as for any new file
    except OSError as exc:
        raise InputFileError(f"cannot write {out_path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(descriptor, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, out_path)
    except OSError as exc:  # disk full, OUT open and locked in Excel on Windows, ...
        temp.unlink(missing_ok=True)
        raise InputFileError(f"cannot write {out_path}: {exc.strerror or exc}") from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
