"""Read messaging and reference documents into sections (Markdown by heading, PDF by page,
DOCX by heading style). Errors are raised as DocumentProblem(line, message)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from kbassist.core.models import Section

DOCUMENT_SUFFIXES = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx"}
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


class DocumentProblem(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60] or "section"


def _unique(anchor: str, seen: set[str]) -> str:
    candidate, n = anchor, 2
    while candidate in seen:
        candidate, n = f"{anchor}-{n}", n + 1
    seen.add(candidate)
    return candidate


def markdown_sections(body: str, first_line: int = 1) -> list[Section]:
    """Split Markdown by headings; each section keeps its heading line as context."""
    sections: list[Section] = []
    seen: set[str] = set()
    heading, start = "", first_line
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text and (text != f"{'#'} {heading}".strip() or not heading):
            anchor = _unique(slugify(heading) if heading else "intro", seen)
            sections.append(Section(anchor=anchor, heading=heading, text=text, line=start))

    for offset, line in enumerate(body.splitlines()):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush()
            heading, start, lines = match.group(2).strip(), first_line + offset, [line]
        else:
            lines.append(line)
    flush()
    return sections


class _TextExtractor(HTMLParser):
    _SKIP = {"script", "style", "template", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip_depth += 1
        elif tag in {"p", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "div"}:
            self.parts.append("\n")
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self.parts.append("#" * int(tag[1]) + " ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skip_depth:
            self._skip_depth -= 1
        elif tag in {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6"}:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def html_to_markdownish(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    text = "".join(parser.parts)
    return re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+", " ", text)).strip()


def pdf_sections(path: Path) -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise DocumentProblem(1, f"unreadable PDF: {exc}") from exc
    return [
        Section(anchor=f"p{number}", heading=f"page {number}", text=text.strip(), line=number)
        for number, text in enumerate(pages, start=1)
        if text.strip()
    ]


def docx_sections(path: Path) -> list[Section]:
    import zipfile

    import docx

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise DocumentProblem(1, f"unreadable DOCX: {exc}") from exc
    lines: list[str] = []
    for paragraph in document.paragraphs:
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        text = paragraph.text.strip()
        if not text:
            continue
        if style.lower().startswith(("heading", "title")):
            level = int(style[-1]) if style[-1:].isdigit() else 1
            lines.append("#" * level + " " + text)
        else:
            lines.append(text)
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return markdown_sections("\n\n".join(lines))


def read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DocumentProblem(line, "file is not UTF-8 text") from exc
