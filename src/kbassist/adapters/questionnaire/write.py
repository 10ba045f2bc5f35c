"""Writing the answered questionnaire: the input's columns, then kbassist's output columns,
formula-looking cells kept as text, the file replaced atomically."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kbassist.adapters.files import write_atomic
from kbassist.adapters.questionnaire.read import (
    _ANSWER_WORD,
    _NOT_ANSWER,
    OUTPUT_COLUMNS,
    WRITE_SUFFIXES,
    XLSX_CELL_LIMIT,
    Questionnaire,
    _norm,
)
from kbassist.core.errors import InputFileError
from kbassist.core.results import RowAnswer

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

@dataclass(frozen=True)
class Layout:
    headers: list[str]
    target: dict[str, int]  # output column -> index in the output row


def plan_columns(q: Questionnaire) -> Layout:
    names = [_norm(h) for h in q.headers]
    previous = _previous_output_columns(names)
    if previous is not None:  # a kbassist output fed back in: update it in place
        return Layout(list(q.headers), previous)
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
    return Layout(headers, target)


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
    q: Questionnaire, layout: Layout, results: dict[int, RowAnswer], kb_version: str
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


_Writer = Callable[[IO[bytes], Questionnaire, Layout, list[list[str | float]]], None]


def output_writer(out_path: Path) -> _Writer:
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
    q: Questionnaire, layout: Layout, table: list[list[str | float]]
) -> list[Sequence[str | float]]:
    return [*q.preamble, layout.headers, *table]


def _write_csv(
    fh: IO[bytes], q: Questionnaire, layout: Layout, table: list[list[str | float]]
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=q.delimiter if q.sheet is None else ",")
    for row in _all_rows(q, layout, table):
        writer.writerow([f"{c:.2f}" if isinstance(c, float) else csv_safe(c) for c in row])
    fh.write(buffer.getvalue().encode("utf-8-sig"))  # the BOM tells Excel it is UTF-8


def _write_xlsx(
    fh: IO[bytes], q: Questionnaire, layout: Layout, table: list[list[str | float]]
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


def write_answered(out_path: Path, q: Questionnaire, layout: Layout,
                   results: dict[int, RowAnswer], kb_version: str) -> None:
    """Write OUT in one step (format from its suffix): a failure never leaves a half-written
    OUT or disturbs an older one."""
    write = output_writer(out_path)
    table = _output_rows(q, layout, results, kb_version)
    try:
        write_atomic(out_path, lambda fh: write(fh, q, layout, table))
    except OSError as exc:  # disk full, OUT open and locked in Excel on Windows, ...
        raise InputFileError(f"cannot write {out_path}: {exc.strerror or exc}") from exc
