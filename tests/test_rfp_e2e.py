"""`kbassist rfp` with real retrieval and governance on the shipped sample questionnaires."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import openpyxl
import pytest

from kbassist.cli import main

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "knowledge" / "samples"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rfp")
    shutil.copytree(REPO / "knowledge", root / "knowledge")
    return root


def rfp(workspace: Path, source: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["rfp", str(source), "-o", str(out), "--kb", str(workspace / "knowledge"),
                 "--data-dir", str(workspace / "data")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_security_questionnaire_csv_round_trip(workspace: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = workspace / "answered.csv"
    summary = rfp(workspace, SAMPLES / "security-questionnaire.csv", out, capsys)
    assert "answered 30 question(s)" in summary
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 30
    assert all(row["Answer"].strip() for row in rows)
    by_id = {row["ID"]: row for row in rows}
    assert {"confidence", "needs_review", "sources", "status"} <= set(rows[0])
    flagged = [r for r in rows if r["needs_review"] == "yes"]
    assert flagged and all(r["review_reason"] for r in flagged)
    unknown = [r for r in rows if r["status"] == "unknown"]
    assert unknown and all(r["needs_review"] == "yes" for r in unknown)
    assert all(0.0 <= float(r["confidence"]) <= 1.0 for r in by_id.values())
    assert any("claims" not in r["sources"] and r["sources"] for r in rows)
    again = rfp(workspace, SAMPLES / "security-questionnaire.csv", out, capsys)
    assert "answered 0 question(s), 30 resumed" in again


def test_rfp_xlsx_round_trip_keeps_columns(workspace: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = workspace / "answered.xlsx"
    rfp(workspace, SAMPLES / "rfp-sample.xlsx", out, capsys)
    source = openpyxl.load_workbook(SAMPLES / "rfp-sample.xlsx", read_only=True).active
    answered = openpyxl.load_workbook(out).active
    assert source is not None and answered is not None
    headers_in = [c.value for row in source.iter_rows(min_row=1, max_row=5) for c in row
                  if c.value == "Requirement"]
    assert headers_in
    values = [[c.value for c in row] for row in answered.iter_rows()]
    header_row = next(i for i, row in enumerate(values) if "Requirement" in row)
    header = values[header_row]
    assert header[:5] == ["Ref", "Section", "Requirement", "Vendor response", "Comments"]
    answers = [row[3] for row in values[header_row + 1:] if row[2]]
    assert len(answers) == 40 and all(answers)
    roadmap_rows = [row for row in values[header_row + 1:]
                    if row[header.index("review_reason")] and "roadmap item" in
                    row[header.index("review_reason")]]
    assert roadmap_rows, "questions about roadmap items are flagged for review"
    for row in answered.iter_rows():
        for cell in row:
            assert cell.data_type != "f", "no formula may be written"
