"""The RFP spreadsheet pipeline's IO: what goes in, what comes out, and what survives a crash.

These tests are about our own logic (parsing, column layout, journal, atomic output, formula
injection), so the answer function is a small deterministic fake; retrieval and governance
are tested elsewhere.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from kbassist.adapters import questionnaire as rfp
from kbassist.adapters.questionnaire import OUTPUT_COLUMNS, read_questionnaire
from kbassist.app.rfp import RfpSummary, run_rfp
from kbassist.core.errors import InputFileError, KbassistError, UsageError
from kbassist.core.results import RowAnswer

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "knowledge" / "samples"
Table = Sequence[Sequence[object]]

HEADER = ["ID", "Category", "Question", "Notes"]
ROWS = [
    ["Q1", "Security", "Do you support SSO?", "must"],
    ["Q2", "", "Is data encrypted at rest?", ""],  # section carried down from Q1
    ["Q3", "Pricing", "", "blank question: kept, not answered"],
    ["Q4", "Pricing", "How are you priced?", "n/a"],
]


# ------------------------------------------------------------------------------ helpers


class FakeAnswers:
    """Deterministic answers; records every call; raises on the Nth call when asked to."""

    def __init__(self, fail_on_call: int | None = None, answer_prefix: str = "A: "):
        self.calls: list[tuple[str, str | None]] = []
        self.fail_on_call = fail_on_call
        self.answer_prefix = answer_prefix

    def __call__(self, question: str, section: str | None) -> RowAnswer:
        self.calls.append((question, section))
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise RuntimeError(f"answer backend failed on call {len(self.calls)}")
        review = "roadmap" in question.lower()
        return RowAnswer(
            answer=f"{self.answer_prefix}{question}",
            sources=["claims.yaml#sso-mfa", "reference/security-overview.docx#encryption"],
            confidence=0.25 if review else 0.875,
            needs_review=review,
            review_reason="roadmap item" if review else "",
            status="pass",
        )


def write_csv(path: Path, rows: Table, *, delimiter: str = ",", encoding: str = "utf-8",
              prefix: str = "") -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    path.write_bytes((prefix + buffer.getvalue()).encode(encoding))
    return path


def write_xlsx(path: Path, rows: Table, *, title: str = "Questions",
               extra_sheets: Sequence[tuple[str, Table]] = ()) -> Path:
    workbook = Workbook()
    sheets = [(title, rows), *extra_sheets]
    for index, (name, table) in enumerate(sheets):
        sheet = workbook.active if index == 0 else workbook.create_sheet()
        sheet.title = name
        for r, row in enumerate(table, start=1):
            for c, value in enumerate(row, start=1):
                if value in ("", None):
                    continue
                cell = sheet.cell(row=r, column=c, value=value)
                if isinstance(value, str) and value.startswith("="):
                    cell.data_type = "s"  # text that looks like a formula, as pasted
    workbook.save(path)
    return path


def write_input(path: Path, rows: Table) -> Path:
    return write_xlsx(path, rows) if path.suffix == ".xlsx" else write_csv(path, rows)


def read_output(path: Path) -> list[list[str]]:
    """Every row of OUT as text ('' for an empty cell)."""
    if path.suffix == ".csv":
        text = path.read_bytes().decode("utf-8-sig")
        return [row for row in csv.reader(io.StringIO(text, newline=""))]
    sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def column(table: list[list[str]], header: str) -> list[str]:
    index = table[0].index(header)
    return [row[index] if index < len(row) else "" for row in table[1:]]


def run(in_path: Path, out_path: Path, answer: Callable[[str, str | None], RowAnswer],
        data_dir: Path, kb_version: str = "kb-1", **kwargs: object) -> RfpSummary:
    return run_rfp(in_path, out_path, answer, kb_version=kb_version, checkpoint_dir=data_dir,
                   **kwargs)  # type: ignore[arg-type]


def numbered_questions(count: int) -> list[list[str]]:
    return [["Ref", "Section", "Question"]] + [
        [f"R{i}", f"S{i // 10}", f"Question number {i}?"] for i in range(1, count + 1)
    ]


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("in_suffix,out_suffix", [
    (".csv", ".csv"), (".xlsx", ".xlsx"), (".csv", ".xlsx"), (".xlsx", ".csv"),
])
def test_round_trip_keeps_columns_in_order_and_appends_answers(
    tmp_path: Path, in_suffix: str, out_suffix: str
) -> None:
    source = write_input(tmp_path / f"in{in_suffix}", [HEADER, *ROWS])
    out = tmp_path / f"out{out_suffix}"
    answers = FakeAnswers()

    summary = run(source, out, answers, tmp_path / "data")

    table = read_output(out)
    assert table[0] == HEADER + list(OUTPUT_COLUMNS)
    assert [row[:4] for row in table[1:]] == [row + [""] * (4 - len(row)) for row in ROWS]
    assert column(table, "answer") == [
        "A: Do you support SSO?", "A: Is data encrypted at rest?", "", "A: How are you priced?",
    ]
    assert column(table, "sources")[0] == (
        "claims.yaml#sso-mfa; reference/security-overview.docx#encryption"
    )
    assert column(table, "confidence")[0] in {"0.88", "0.875"}  # CSV text / XLSX number
    assert column(table, "needs_review") == ["no", "no", "", "no"]
    assert column(table, "status") == ["pass", "pass", "", "pass"]
    assert column(table, "kb_version") == ["kb-1", "kb-1", "", "kb-1"]
    assert answers.calls == [
        ("Do you support SSO?", "Security"),
        ("Is data encrypted at rest?", "Security"),
        ("How are you priced?", "Pricing"),
    ]
    assert (summary.rows, summary.answered, summary.resumed, summary.skipped_blank) == (4, 3, 0, 1)
    assert summary.output == out


def test_xlsx_output_keeps_confidence_numeric_and_preamble_rows(tmp_path: Path) -> None:
    rows = [["Vendor questionnaire 2026"], [], ["Ref", "Requirement"], [1.5, "Do you do X?"]]
    source = write_xlsx(tmp_path / "in.xlsx", rows)
    out = tmp_path / "out.xlsx"
    run(source, out, FakeAnswers(), tmp_path / "data")

    sheet = load_workbook(out).worksheets[0]
    assert sheet.title == "Questions"
    assert sheet["A1"].value == "Vendor questionnaire 2026"
    assert [c.value for c in sheet[3]][:3] == ["Ref", "Requirement", "answer"]
    assert sheet["A4"].value == "1.5"
    confidence = sheet.cell(row=4, column=3 + OUTPUT_COLUMNS.index("confidence")).value
    assert confidence == pytest.approx(0.88)


def test_empty_answer_column_is_filled_in_place(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [
        ["Ref", "Requirement", "Vendor response", "Comments"],
        ["1", "Do you support SSO?", "", "must"],
        ["2", "Is there an API?", "", ""],
    ])
    out = tmp_path / "out.csv"
    run(source, out, FakeAnswers(), tmp_path / "data")

    table = read_output(out)
    assert table[0] == ["Ref", "Requirement", "Vendor response", "Comments", *OUTPUT_COLUMNS[1:]]
    assert column(table, "Vendor response") == ["A: Do you support SSO?", "A: Is there an API?"]


def test_filled_answer_column_is_kept_and_ours_appended(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [
        ["Question", "Answer"], ["Do you support SSO?", "Yes (written by our team)"],
        ["Is there an API?", ""],
    ])
    out = tmp_path / "out.csv"
    run(source, out, FakeAnswers(), tmp_path / "data")

    table = read_output(out)
    assert table[0] == ["Question", "Answer", "answer (kbassist)", *OUTPUT_COLUMNS[1:]]
    assert column(table, "Answer") == ["Yes (written by our team)", ""]
    assert column(table, "answer (kbassist)") == ["A: Do you support SSO?", "A: Is there an API?"]

    again = tmp_path / "again.csv"  # fed back in: updated in place, the team's answers kept
    run(out, again, FakeAnswers(answer_prefix="B: "), tmp_path / "data", kb_version="kb-2")
    table = read_output(again)
    assert table[0] == ["Question", "Answer", "answer (kbassist)", *OUTPUT_COLUMNS[1:]]
    assert column(table, "Answer") == ["Yes (written by our team)", ""]
    assert column(table, "answer (kbassist)") == ["B: Do you support SSO?", "B: Is there an API?"]


def test_a_previous_output_fed_back_is_updated_in_place(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [HEADER, *ROWS])
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    run(source, first, FakeAnswers(), tmp_path / "data", kb_version="kb-1")
    run(first, second, FakeAnswers(answer_prefix="B: "), tmp_path / "data", kb_version="kb-2")

    table = read_output(second)
    assert table[0] == HEADER + list(OUTPUT_COLUMNS)  # no duplicated columns
    assert column(table, "answer")[0] == "B: Do you support SSO?"
    assert column(table, "kb_version") == ["kb-2", "kb-2", "", "kb-2"]


# ----------------------------------------------------------------- column detection


@pytest.mark.parametrize("headers,expected", [
    (["Ref", "Section", "Requirement", "Vendor response", "Comments"], (2, 1, 0)),
    (["ID", "Domain", "Question", "Answer"], (2, 1, 0)),
    (["#", "Category", "Query"], (2, 1, 0)),
    (["No.", "Area", "Item"], (2, 1, 0)),
    (["Question ID", "Control Domain", "Question Text", "CSP Answer"], (2, 1, 0)),
    (["Item #", "Description", "Response"], (1, None, 0)),
    (["Req ID", "Requirement type", "Requirement description"], (2, None, 0)),
    (["Comments", "Security question"], (1, None, None)),
    (["QUESTION_TEXT", "SECTION_NAME"], (0, 1, None)),
])
def test_question_section_and_id_columns_found_by_header(
    tmp_path: Path, headers: list[str], expected: tuple[int, int | None, int | None]
) -> None:
    source = write_csv(tmp_path / "in.csv", [headers, ["x"] * len(headers)])
    found = read_questionnaire(source)
    assert (found.question_index, found.section_index, found.id_index) == expected


@pytest.mark.parametrize("question_col", ["Notes", "notes", "4", "D"])
def test_question_column_by_name_number_or_letter(tmp_path: Path, question_col: str) -> None:
    source = write_csv(tmp_path / "in.csv", [HEADER, *ROWS])
    found = read_questionnaire(source, question_col=question_col)
    assert found.question_header == "Notes"


def test_unknown_question_col_lists_the_headers(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [HEADER, *ROWS])
    with pytest.raises(InputFileError, match="no column 'Prompt'; headers found: 'ID', 'Category'"):
        read_questionnaire(source, question_col="Prompt")


def test_header_below_title_rows_is_found(tmp_path: Path) -> None:
    rows = [["ACME Corp security review"], ["Please answer every question."], [],
            ["ID", "Question"], ["1", "Do you encrypt backups?"]]
    found = read_questionnaire(write_csv(tmp_path / "in.csv", rows))
    assert found.headers == ["ID", "Question"]
    assert found.preamble == [["ACME Corp security review"], ["Please answer every question."], []]
    assert found.rows == [["1", "Do you encrypt backups?"]]


@pytest.mark.parametrize("delimiter,prefix,encoding", [
    (";", "", "utf-8"), ("\t", "", "utf-8"), (",", "", "utf-8-sig"), (";", "sep=;\r\n", "utf-8"),
])
def test_csv_dialects(tmp_path: Path, delimiter: str, prefix: str, encoding: str) -> None:
    rows = [["Ref", "Question"], ["1", "Do you support SSO, SAML and MFA; which IdPs?"],
            ["2", "Ünïcödé, naïve; café?"]]
    source = write_csv(tmp_path / "in.csv", rows, delimiter=delimiter, prefix=prefix,
                       encoding=encoding)
    found = read_questionnaire(source)
    assert found.headers == ["Ref", "Question"] and found.rows == rows[1:]
    assert found.delimiter == delimiter


def test_xlsx_questions_on_a_later_sheet_or_named_sheet(tmp_path: Path) -> None:
    source = write_xlsx(
        tmp_path / "in.xlsx", [["Read me first"], ["Each question must be answered."]],
        title="Intro",
        extra_sheets=[("Empty", []), ("Security", [["ID", "Question"], ["1", "SSO?"]]),
                      ("Pricing", [["ID", "Question"], ["1", "Price?"]])],
    )
    assert read_questionnaire(source).sheet == "Security"
    assert read_questionnaire(source, sheet="Pricing").rows == [["1", "Price?"]]
    with pytest.raises(InputFileError, match="no sheet named 'Nope'; sheets: 'Intro', 'Empty'"):
        read_questionnaire(source, sheet="Nope")


def test_xlsx_formulas_are_never_evaluated(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["ID", "Question"])
    sheet.append(["1", "=1+1"])  # a real formula with no cached value: read as blank
    sheet.append(["2", "Real question?"])
    workbook.save(tmp_path / "in.xlsx")
    found = read_questionnaire(tmp_path / "in.xlsx")
    assert [found.question(r) for r in found.rows] == ["", "Real question?"]


# ------------------------------------------------------------------------------ resume


def test_interrupted_run_resumes_and_finished_run_answers_nothing(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", numbered_questions(12))
    out, data = tmp_path / "out.xlsx", tmp_path / "data"

    failing = FakeAnswers(fail_on_call=7)
    with pytest.raises(RuntimeError, match="failed on call 7"):
        run(source, out, failing, data)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    resumed = FakeAnswers()
    summary = run(source, out, resumed, data)
    assert [q for q, _ in resumed.calls] == [f"Question number {i}?" for i in range(7, 13)]
    assert (summary.answered, summary.resumed) == (6, 6)
    assert column(read_output(out), "answer") == [f"A: Question number {i}?" for i in range(1, 13)]

    again = FakeAnswers()
    summary = run(source, out, again, data)
    assert again.calls == [] and (summary.answered, summary.resumed) == (0, 12)

    new_kb = FakeAnswers()
    summary = run(source, out, new_kb, data, kb_version="kb-2")
    assert len(new_kb.calls) == 12 and summary.resumed == 0


def test_same_file_with_another_question_column_is_not_resumed(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [HEADER, *ROWS])
    run(source, tmp_path / "out.csv", FakeAnswers(), tmp_path / "data")
    other = FakeAnswers()
    run(source, tmp_path / "out.csv", other, tmp_path / "data", question_col="Notes")
    assert [q for q, _ in other.calls] == ["must", "blank question: kept, not answered", "n/a"]


def journal_files(data: Path) -> list[Path]:
    return sorted((data / rfp.JOURNAL_FOLDER).glob("*.jsonl"))


def test_journal_reuses_a_row_only_while_its_question_matches(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", numbered_questions(3))
    data = tmp_path / "data"
    run(source, tmp_path / "out.csv", FakeAnswers(), data)
    [journal] = journal_files(data)
    lines = journal.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[2])
    assert record["row"] == 1
    record["question"] = "an edited question"
    journal.write_text("\n".join([*lines[:2], json.dumps(record), *lines[3:]]) + "\n",
                       encoding="utf-8")

    rerun = FakeAnswers()
    run(source, tmp_path / "out.csv", rerun, data)
    assert rerun.calls == [("Question number 2?", "S0")]


def test_torn_last_journal_line_is_dropped(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", numbered_questions(5))
    data = tmp_path / "data"
    with pytest.raises(RuntimeError):
        run(source, tmp_path / "out.csv", FakeAnswers(fail_on_call=4), data)
    [journal] = journal_files(data)
    with journal.open("a", encoding="utf-8") as fh:
        fh.write('{"row": 3, "question": "Question num')  # killed mid-write

    rerun = FakeAnswers()
    run(source, tmp_path / "out.csv", rerun, data)
    assert [q for q, _ in rerun.calls] == ["Question number 4?", "Question number 5?"]
    assert all(json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines())


KILLED_RUN = """
import os, signal, sys
from pathlib import Path
from kbassist.app.rfp import run_rfp
from kbassist.core.results import RowAnswer
calls = []
def answer(question, section):
    calls.append(question)
    if len(calls) == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    return RowAnswer("killed run: " + question, [], 0.5, False, "", "pass")
run_rfp(Path(sys.argv[1]), Path(sys.argv[2]), answer, kb_version="kb-1",
        checkpoint_dir=Path(sys.argv[3]))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_run_resumes_from_the_journal(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", numbered_questions(8))
    out, data = tmp_path / "out.csv", tmp_path / "data"
    result = subprocess.run([sys.executable, "-c", KILLED_RUN, str(source), str(out), str(data)],
                            capture_output=True, timeout=120)
    assert result.returncode == -signal.SIGKILL
    assert not out.exists()

    rerun = FakeAnswers()
    summary = run(source, out, rerun, data)
    assert [q for q, _ in rerun.calls] == [f"Question number {i}?" for i in range(5, 9)]
    assert summary.resumed == 4
    assert column(read_output(out), "answer")[:4] == [
        f"killed run: Question number {i}?" for i in range(1, 5)
    ]


def test_a_second_run_on_the_same_file_is_refused_while_one_is_running(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", numbered_questions(2))
    data = tmp_path / "data"
    seen: list[str] = []

    def nested(question: str, section: str | None) -> RowAnswer:
        try:
            run(source, tmp_path / "other.csv", FakeAnswers(), data)
        except InputFileError as exc:
            seen.append(str(exc))
        return FakeAnswers()(question, section)

    run(source, tmp_path / "out.csv", nested, data)
    assert seen and "another kbassist rfp run" in seen[0]


# ---------------------------------------------------------------------------- atomicity


def test_failed_run_leaves_the_previous_output_untouched(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", numbered_questions(5))
    out = tmp_path / "out.xlsx"
    out.write_bytes(b"previous output")
    with pytest.raises(RuntimeError):
        run(source, out, FakeAnswers(fail_on_call=3), tmp_path / "data")
    assert out.read_bytes() == b"previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "in.csv", "out.xlsx"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_writer_failure_midway_leaves_no_partial_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    source = write_csv(tmp_path / "in.csv", numbered_questions(5))
    out = tmp_path / f"out{suffix}"
    out.write_bytes(b"previous output")

    def broken_writer(fh: io.BufferedWriter, *args: object) -> None:
        fh.write(b"half a spreadsheet")
        raise OSError(28, "No space left on device")

    from kbassist.adapters.questionnaire import write as writer

    monkeypatch.setattr(writer, "_write_csv" if suffix == ".csv" else "_write_xlsx", broken_writer)
    with pytest.raises(InputFileError, match="cannot write .*No space left on device"):
        run(source, out, FakeAnswers(), tmp_path / "data")
    assert out.read_bytes() == b"previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "in.csv", out.name]


# ---------------------------------------------------------------------------- bad files


def png_bytes() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def zip_without_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return buffer.getvalue()


def empty_workbook(path: Path) -> None:
    Workbook().save(path)


BAD_FILES: list[tuple[str, str, Callable[[Path], object], str]] = [
    ("png renamed xlsx", "in.xlsx", lambda p: p.write_bytes(png_bytes()),
     "is not an XLSX workbook (it looks like a PNG image)"),
    ("png renamed csv", "in.csv", lambda p: p.write_bytes(png_bytes()),
     "is not a CSV text file (it looks like a PNG image)"),
    ("binary csv", "in.csv", lambda p: p.write_bytes(b"ID,Question\n1,\x00\x01\x02\xff\n"),
     "is not a CSV text file (it looks like binary data)"),
    ("zip that is no workbook", "in.xlsx", lambda p: p.write_bytes(zip_without_workbook()),
     "is not a readable XLSX workbook"),
    ("legacy xls renamed", "in.xlsx",
     lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512),
     "is an old binary Office file (.xls), not XLSX; open it in Excel and save it as .xlsx"),
    ("latin-1 csv", "in.csv", lambda p: p.write_bytes("Question\nCaf\u00e9?\n".encode("cp1252")),
     "is not UTF-8 (byte 0xe9 at offset 12); save it as 'CSV UTF-8'"),
    ("utf-16 csv", "in.csv", lambda p: p.write_bytes("Question\nSSO?\n".encode("utf-16")),
     "is UTF-16 text"),
    ("empty csv", "in.csv", lambda p: p.write_bytes(b""), "in.csv is empty"),
    ("blank lines only", "in.csv", lambda p: p.write_bytes(b"\r\n,,\r\n\r\n"), "in.csv is empty"),
    ("empty workbook", "in.xlsx", empty_workbook, "in.xlsx is empty: no sheet has any cells"),
    ("header-only csv", "in.csv", lambda p: write_csv(p, [["ID", "Question"]]),
     "has a header row but no questions below it"),
    ("header-only xlsx", "in.xlsx", lambda p: write_xlsx(p, [["ID", "Question"]]),
     "in.xlsx (sheet 'Questions') has a header row but no questions below it"),
    ("question column all blank", "in.csv",
     lambda p: write_csv(p, [["ID", "Question"], ["1", ""], ["2", " "]]),
     "column 'Question' has no questions"),
    ("no question column", "in.csv",
     lambda p: write_csv(p, [["Name", "Email"], ["Ada", "ada@example.com"]]),
     "no question column found; headers found: 'Name', 'Email'; name the column with "
     "--question-col"),
    ("no question column xlsx", "in.xlsx",
     lambda p: write_xlsx(p, [["Name", "Email"], ["Ada", "ada@example.com"]]),
     "no question column found; headers found: 'Name', 'Email'"),
    ("unsupported suffix", "in.xls", lambda p: p.write_bytes(b"whatever"),
     "unsupported file type '.xls'; use a .csv or .xlsx file"),
    ("no suffix", "questions", lambda p: p.write_bytes(b"Question\nx\n"),
     "unsupported file type '(none)'"),
    ("too large", "in.csv", lambda p: p.open("wb").truncate(rfp.MAX_INPUT_BYTES + 1),
     "in.csv is 20.0 MB; the limit is 20 MB"),
    ("missing file", "in.csv", lambda p: None, "in.csv: no such file"),
]


@pytest.mark.parametrize("name,filename,make,message", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_input_is_one_clear_line_and_no_output(
    tmp_path: Path, name: str, filename: str, make: Callable[[Path], object], message: str
) -> None:
    source = tmp_path / filename
    make(source)
    out = tmp_path / "out" / "answers.xlsx"
    out.parent.mkdir()
    answers = FakeAnswers()
    with pytest.raises(InputFileError) as caught:
        run(source, out, answers, tmp_path / "data")
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert isinstance(caught.value, UsageError)  # the CLI maps it to exit code 2
    assert answers.calls == [] and list(out.parent.iterdir()) == []


@pytest.mark.parametrize("out_name,message", [
    ("out.json", "unsupported output type '.json'; use a .csv or .xlsx file"),
    ("missing-folder/out.csv", "folder"),
])
def test_bad_output_path_is_refused_before_answering(
    tmp_path: Path, out_name: str, message: str
) -> None:
    source = write_csv(tmp_path / "in.csv", [HEADER, *ROWS])
    answers = FakeAnswers()
    with pytest.raises(InputFileError, match=message):
        run(source, tmp_path / out_name, answers, tmp_path / "data")
    assert answers.calls == []


# --------------------------------------------------------------------- formula injection

INJECTIONS = ["=1+2", "+SUM(A1:A2)", "-2+3", "@cmd", "\t=1", "\r=1",
              '=HYPERLINK("http://evil.example","click")']


def injection_input(tmp_path: Path, suffix: str) -> Path:
    rows = [["Ref", "Question", "Notes"]]
    rows += [[f"R{i}", f"Question {i}?", text] for i, text in enumerate(INJECTIONS)]
    rows += [["=cmd|' /C calc'!A0", "Is this echoed safely?", "plain"]]
    return write_input(tmp_path / f"in{suffix}", rows)


class InjectingAnswers(FakeAnswers):
    def __call__(self, question: str, section: str | None) -> RowAnswer:
        base = super().__call__(question, section)
        return RowAnswer("=WEBSERVICE(\"http://evil.example\")", ["@sources"], 0.5, True,
                         "-violation", base.status)


@pytest.mark.parametrize("in_suffix", [".csv", ".xlsx"])
def test_formula_like_cells_are_written_as_text_in_csv(tmp_path: Path, in_suffix: str) -> None:
    out = tmp_path / "out.csv"
    run(injection_input(tmp_path, in_suffix), out, InjectingAnswers(), tmp_path / "data")
    table = read_output(out)
    assert column(table, "Notes")[: len(INJECTIONS)] == ["'" + text for text in INJECTIONS]
    assert column(table, "Ref")[-1] == "'=cmd|' /C calc'!A0"
    assert set(column(table, "answer")) == {"'=WEBSERVICE(\"http://evil.example\")"}
    assert set(column(table, "sources")) == {"'@sources"}
    assert set(column(table, "review_reason")) == {"'-violation"}
    assert column(table, "Notes")[-1] == "plain"


@pytest.mark.parametrize("in_suffix", [".csv", ".xlsx"])
def test_formula_like_cells_are_written_as_text_in_xlsx(tmp_path: Path, in_suffix: str) -> None:
    out = tmp_path / "out.xlsx"
    run(injection_input(tmp_path, in_suffix), out, InjectingAnswers(), tmp_path / "data")
    sheet = load_workbook(out).worksheets[0]
    headers = [c.value for c in sheet[1]]
    checked = 0
    for row in sheet.iter_rows(min_row=2):
        for name in ("Ref", "Notes", "answer", "sources", "review_reason"):
            cell = row[headers.index(name)]
            if isinstance(cell.value, str) and cell.value.startswith(rfp.FORMULA_PREFIXES):
                assert cell.data_type == "s", (name, cell.value)
                assert cell.quotePrefix
                checked += 1
    assert checked == len(INJECTIONS) * 4 + 4  # Notes, answer, sources, reason + the bad Ref
    notes = [row[headers.index("Notes")].value for row in sheet.iter_rows(min_row=2)]
    assert notes[: len(INJECTIONS)] == INJECTIONS  # the text itself is kept, not altered
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


# -------------------------------------------------------------------------------- scale


@pytest.mark.parametrize("in_suffix,out_suffix", [(".csv", ".xlsx"), (".xlsx", ".csv")])
def test_ten_thousand_rows_complete_and_resume(
    tmp_path: Path, in_suffix: str, out_suffix: str
) -> None:
    """Speed is measured in benchmarks/rep_workflows.py, not asserted here."""
    source = write_input(tmp_path / f"in{in_suffix}", numbered_questions(10_000))
    out = tmp_path / f"out{out_suffix}"
    answers = FakeAnswers()
    summary = run(source, out, answers, tmp_path / "data")
    assert summary.answered == 10_000 and len(answers.calls) == 10_000
    assert len(read_output(out)) == 10_001

    again = FakeAnswers()
    summary = run(source, out, again, tmp_path / "data")
    assert summary.resumed == 10_000 and again.calls == []


# ----------------------------------------------------------------------------- progress


def test_progress_bar_only_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_csv(tmp_path / "in.csv", numbered_questions(3))
    run(source, tmp_path / "out.csv", FakeAnswers(), tmp_path / "data", progress=True)
    assert capsys.readouterr().err == ""  # stderr is not a TTY under pytest

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    run(source, tmp_path / "out.csv", FakeAnswers(), tmp_path / "data2", progress=True)
    assert "3/3" in capsys.readouterr().err
    run(source, tmp_path / "out.csv", FakeAnswers(), tmp_path / "data3", progress=False)
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------------------ samples


def load_sample_generator() -> object:
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_rfp_sample_parses() -> None:
    found = read_questionnaire(SAMPLES / "rfp-sample.xlsx")
    assert len(found.rows) == 40
    assert (found.question_header, found.headers[found.section_index or 0],
            found.headers[found.id_index or 0]) == ("Requirement", "Section", "Ref")
    assert {found.section(r) for r in found.rows} == {
        "Company", "Functionality", "Integrations", "Pricing", "Implementation", "Support",
        "Roadmap",
    }
    assert any(cell.startswith("=") for row in found.rows for cell in row)


def test_shipped_security_questionnaire_parses() -> None:
    found = read_questionnaire(SAMPLES / "security-questionnaire.csv")
    assert 25 <= len(found.rows) <= 35
    assert found.headers == ["ID", "Domain", "Question", "Answer"]
    assert (found.question_index, found.section_index, found.id_index) == (2, 1, 0)
    questions = " ".join(found.question(r) for r in found.rows)
    assert "on-prem" in questions and "FedRAMP" in questions  # a `never` and a `later` item


def test_shipped_samples_answer_into_their_empty_response_columns(tmp_path: Path) -> None:
    for name, answer_header in [("rfp-sample.xlsx", "Vendor response"),
                                ("security-questionnaire.csv", "Answer")]:
        out = tmp_path / f"{name}.out.xlsx"
        run(SAMPLES / name, out, FakeAnswers(), tmp_path / "data")
        table = read_output(out)
        header_row = next(row for row in table if answer_header in row)
        assert header_row.count("answer") == 0 and "sources" in header_row


def workbook_cells(data: bytes) -> list[tuple[str, object, str]]:
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [(c.coordinate, c.value, c.data_type) for row in sheet.iter_rows() for c in row]


def test_shipped_samples_are_up_to_date_with_their_generator() -> None:
    """Compared by content, not bytes, so another openpyxl version doesn't fail the suite."""
    generator = load_sample_generator()
    rendered = generator.render_all()  # type: ignore[attr-defined]
    assert sorted(rendered) == ["rfp-sample.xlsx", "security-questionnaire.csv"]
    shipped = {name: (SAMPLES / name).read_bytes() for name in rendered}
    hint = "run python knowledge/samples/make_samples.py"
    assert shipped["security-questionnaire.csv"] == rendered["security-questionnaire.csv"], hint
    assert workbook_cells(shipped["rfp-sample.xlsx"]) == workbook_cells(
        rendered["rfp-sample.xlsx"]
    ), hint


def test_samples_are_not_part_of_the_knowledge_package() -> None:
    from kbassist.adapters.package.loader import load_package

    package = load_package(REPO / "knowledge")
    assert not any("samples" in d.path for d in package.documents)


def test_old_journals_are_pruned(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", numbered_questions(2))
    data = tmp_path / "data"
    run(source, tmp_path / "out.csv", FakeAnswers(), data, kb_version="old")
    [old] = journal_files(data)
    stale = time.time() - (rfp.JOURNAL_MAX_AGE_DAYS + 1) * 86_400
    os.utime(old, (stale, stale))
    run(source, tmp_path / "out.csv", FakeAnswers(), data, kb_version="new")
    assert old not in journal_files(data) and len(journal_files(data)) == 1


def test_unwritable_journal_folder_is_a_clear_error(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", numbered_questions(2))
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(KbassistError, match="cannot use the resume journal"):
        run(source, tmp_path / "out.csv", FakeAnswers(), blocker)


def test_journal_lines_are_flushed_as_rows_are_answered(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", numbered_questions(3))
    data = tmp_path / "data"
    seen: list[int] = []

    def peeking(question: str, section: str | None) -> RowAnswer:
        files = journal_files(data)
        seen.append(len(files[0].read_text(encoding="utf-8").splitlines()) if files else -1)
        return FakeAnswers()(question, section)

    run(source, tmp_path / "out.csv", peeking, data)
    assert seen == [1, 2, 3]  # header line, then one line per answered row, already on disk
    assert os.path.getsize(journal_files(data)[0]) > 0
