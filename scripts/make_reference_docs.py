"""Build the sample package's .pdf and .docx reference documents from Markdown sources.

The sample knowledge package needs reference material in every format kbassist reads, but
binary files can't be reviewed in a pull request. So the text lives in
``scripts/reference_src/*.md`` (reviewed like any other prose) and this script renders it.

Output is reproducible: creation dates and zip timestamps are fixed, so re-running the
script on unchanged sources yields identical bytes and a clean ``git diff``.

Usage::

    python scripts/make_reference_docs.py            # write into knowledge/reference/
    python scripts/make_reference_docs.py --check    # exit 1 if any output is out of date
    python scripts/make_reference_docs.py --out DIR  # write somewhere else

Each source starts with YAML front matter naming its ``output`` file (.pdf or .docx) plus
``title``, ``author`` and ``subject`` metadata. The body supports a small Markdown subset:
``#``/``##`` headings, paragraphs, ``- `` bullets, ``**bold**`` and pipe tables.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import docx
import yaml
from docx.shared import Pt
from fpdf import FPDF
from fpdf.enums import XPos, YPos

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = Path(__file__).resolve().parent / "reference_src"
DEFAULT_OUT = ROOT / "knowledge" / "reference"

# Fixed metadata dates keep the bytes stable between runs.
FIXED_DATE = datetime(2026, 10, 1, 9, 0, 0, tzinfo=UTC)
ZIP_DATE = (2026, 10, 1, 9, 0, 0)

FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


@dataclass
class Block:
    """One rendered element: heading, paragraph, bullet list or table."""

    kind: str  # "h1" | "h2" | "para" | "bullets" | "table"
    text: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Source:
    path: Path
    meta: dict[str, str]
    blocks: list[Block]

    @property
    def output(self) -> str:
        return self.meta["output"]


def parse_source(path: Path) -> Source:
    """Split front matter from body and group body lines into blocks."""
    text = path.read_text(encoding="utf-8")
    match = FRONT_MATTER.match(text)
    if not match:
        raise SystemExit(f"{path}:1: missing YAML front matter")
    meta = yaml.safe_load(match.group(1))
    if not str(meta.get("output", "")).endswith((".pdf", ".docx")):
        raise SystemExit(f"{path}:1: front matter 'output' must name a .pdf or .docx file")
    body = text[match.end() :]
    try:
        body.encode("latin-1")  # the PDF core fonts are latin-1 only
    except UnicodeEncodeError as exc:
        raise SystemExit(f"{path}: non latin-1 character {exc.object[exc.start]!r}") from exc
    return Source(path, meta, _blocks(body.splitlines()))


def _blocks(lines: list[str]) -> list[Block]:
    blocks: list[Block] = []
    current: Block | None = None
    for raw in lines:
        line = raw.rstrip()
        if not line:
            current = None
            continue
        if line.startswith("# ") or line.startswith("## "):
            level, _, heading = line.partition(" ")
            blocks.append(Block("h1" if level == "#" else "h2", heading.strip()))
            current = None
        elif line.startswith("- "):
            if current is None or current.kind != "bullets":
                current = Block("bullets")
                blocks.append(current)
            current.items.append(line[2:].strip())
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if current is None or current.kind != "table":
                current = Block("table")
                blocks.append(current)
            if not all(set(c) <= {"-", ":"} for c in cells):  # skip the separator row
                current.rows.append(cells)
        elif current is not None and current.kind == "bullets" and raw.startswith("  "):
            current.items[-1] += " " + line.strip()  # continuation of a bullet
        elif current is not None and current.kind == "para":
            current.text += " " + line.strip()
        else:
            current = Block("para", line.strip())
            blocks.append(current)
    return blocks


# ----------------------------------------------------------------------------- PDF


class _ReferencePdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self._doc_title = title

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 10, f"{self._doc_title}  |  page {self.page_no()}", align="C")


def render_pdf(source: Source) -> bytes:
    meta = source.meta
    pdf = _ReferencePdf(meta["title"])
    pdf.set_title(meta["title"])
    pdf.set_author(meta.get("author", ""))
    pdf.set_subject(meta.get("subject", ""))
    pdf.set_creator("scripts/make_reference_docs.py")
    pdf.set_producer("kbassist sample package")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    for block in source.blocks:
        _pdf_block(pdf, block)
    return bytes(pdf.output())


def _pdf_block(pdf: FPDF, block: Block) -> None:
    nl = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}
    if block.kind == "h1":
        pdf.set_font("Helvetica", "B", 18)
        pdf.multi_cell(0, 9, block.text, **nl)
        pdf.ln(3)
    elif block.kind == "h2":
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 13)
        pdf.multi_cell(0, 7, block.text, **nl)
        pdf.ln(1)
    elif block.kind == "para":
        pdf.set_font("Helvetica", size=10.5)
        pdf.multi_cell(0, 5.5, block.text, markdown=True, **nl)
        pdf.ln(2)
    elif block.kind == "bullets":
        pdf.set_font("Helvetica", size=10.5)
        for item in block.items:
            pdf.set_x(pdf.l_margin + 4)
            pdf.multi_cell(0, 5.5, f"-  {item}", markdown=True, **nl)
            pdf.ln(1)
        pdf.ln(1)
    elif block.kind == "table":
        pdf.set_font("Helvetica", size=9.5)
        widths = (60, 55, 55) if len(block.rows[0]) == 3 else (55, 115)
        with pdf.table(col_widths=widths, line_height=5.5, text_align="LEFT") as table:
            for cells in block.rows:
                row = table.row()
                for cell in cells:
                    row.cell(cell)
        pdf.ln(3)


# ---------------------------------------------------------------------------- DOCX


def render_docx(source: Source) -> bytes:
    meta = source.meta
    document = docx.Document()
    document.styles["Normal"].font.name = "Calibri"
    document.styles["Normal"].font.size = Pt(10.5)
    props = document.core_properties
    props.title = meta["title"]
    props.author = meta.get("author", "")
    props.subject = meta.get("subject", "")
    props.last_modified_by = meta.get("author", "")
    props.comments = "Generated by scripts/make_reference_docs.py"
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.last_printed = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1
    for block in source.blocks:
        _docx_block(document, block)
    raw = io.BytesIO()
    document.save(raw)
    return _normalise_zip(raw.getvalue())


def _docx_block(document: docx.document.Document, block: Block) -> None:
    if block.kind == "h1":
        document.add_heading(block.text, level=0)
    elif block.kind == "h2":
        document.add_heading(block.text, level=1)
    elif block.kind == "para":
        _add_runs(document.add_paragraph(), block.text)
    elif block.kind == "bullets":
        for item in block.items:
            _add_runs(document.add_paragraph(style="List Bullet"), item)
    elif block.kind == "table":
        table = document.add_table(rows=0, cols=len(block.rows[0]))
        table.style = "Table Grid"
        for cells in block.rows:
            row = table.add_row()
            for cell, text in zip(row.cells, cells, strict=True):
                cell.text = text


def _add_runs(paragraph: docx.text.paragraph.Paragraph, text: str) -> None:
    """Add text with **bold** spans as separate runs."""
    for i, part in enumerate(text.split("**")):
        if part:
            paragraph.add_run(part).bold = i % 2 == 1


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite the .docx zip with fixed timestamps so the bytes don't depend on the clock."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# ----------------------------------------------------------------------------- main


def build(out_dir: Path, check: bool) -> int:
    sources = [parse_source(p) for p in sorted(SOURCE_DIR.glob("*.md"))]
    stale = []
    for source in sources:
        render = render_pdf if source.output.endswith(".pdf") else render_docx
        data = render(source)
        target = out_dir / source.output
        if check:
            if not target.exists() or target.read_bytes() != data:
                stale.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    for target in stale:
        print(f"out of date: {target}", file=sys.stderr)
    return 1 if stale else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--check", action="store_true", help="only check outputs are current")
    args = parser.parse_args(argv)
    return build(args.out, args.check)


if __name__ == "__main__":
    raise SystemExit(main())
