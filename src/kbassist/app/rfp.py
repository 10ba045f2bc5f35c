"""The RFP use case: answer every question of a buyer's questionnaire with the governed
answer function and write the answered file. Reading, the journal and writing are the
questionnaire adapter's (``kbassist.adapters.questionnaire``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbassist.adapters.questionnaire import (
    Journal,
    Questionnaire,
    journal_header,
    journal_path,
    parse,
    plan_columns,
    read_bytes,
    write_answered,
)
from kbassist.adapters.questionnaire.write import output_writer
from kbassist.core.results import RowAnswer


@dataclass(frozen=True)
class RfpSummary:
    rows: int  # data rows below the header, blank ones included
    answered: int  # answer-function calls made by this run
    resumed: int  # rows taken from the journal of an earlier, interrupted or finished run
    skipped_blank: int  # rows whose question cell is blank: kept, not answered
    needs_review: int
    seconds: float
    output: Path


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
    output_writer(out_path)  # a bad OUT fails before any question is answered
    data = read_bytes(in_path)
    q = parse(in_path, data, question_col=question_col, sheet=sheet)
    header = journal_header(data, q, kb_version)
    with Journal(journal_path(checkpoint_dir, header), header) as journal:
        results, resumed, skipped = _answer_rows(q, answer, journal, progress)
    layout = plan_columns(q)
    write_answered(out_path, q, layout, results, kb_version)
    return RfpSummary(
        rows=len(q.rows), answered=len(results) - resumed, resumed=resumed,
        skipped_blank=skipped, needs_review=sum(a.needs_review for a in results.values()),
        seconds=time.perf_counter() - started, output=out_path,
    )


def _answer_rows(
    q: Questionnaire,
    answer: Callable[[str, str | None], RowAnswer],
    journal: Journal,
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
