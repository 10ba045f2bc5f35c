"""Reading a buyer's questionnaire (CSV or XLSX): find the sheet, the header row and the
question, section and id columns, and refuse files that are not what their name says."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

from kbassist.core.errors import InputFileError

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
    return parse(path, read_bytes(path), question_col=question_col, sheet=sheet)


def read_bytes(path: Path) -> bytes:
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


def parse(
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
