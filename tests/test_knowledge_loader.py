"""The loader reports every problem as path:line in one pass, and versions by content."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kbassist.adapters.package import documents
from kbassist.adapters.package.loader import Problem, load_package, package_fingerprint
from kbassist.core.errors import KnowledgeError
from kbfactory import CLAIMS_YAML, make_package

REPO = Path(__file__).resolve().parents[1]


def problems_of(root: Path) -> list[Problem]:
    with pytest.raises(KnowledgeError) as caught:
        load_package(root)
    return [p for p in caught.value.problems if isinstance(p, Problem)]


def test_sample_package_is_valid() -> None:
    package = load_package(REPO / "knowledge")
    assert len(package.claims) >= 25
    assert {c.kind for c in package.claims} == {
        "value", "differentiator", "proof", "stat", "customer", "security", "compliance",
        "pricing",
    }
    statuses = [r.status for r in package.roadmap]
    assert all(statuses.count(s) >= 2 for s in ("available", "next", "later", "never"))
    assert len(package.segments) >= 3 and len(package.personas) >= 4
    kinds = {Path(d.path).suffix for d in package.documents if d.kind == "reference"}
    assert {".md", ".pdf", ".docx"} <= kinds
    assert sum(d.kind == "messaging" for d in package.documents) >= 3


def test_small_package_loads(tmp_path: Path) -> None:
    package = load_package(make_package(tmp_path))
    assert [c.id for c in package.claims][:2] == ["per-robot-pricing", "uptime-stat"]
    assert package.claims[0].line == 2
    doc = package.document("messaging/positioning.md")
    assert doc is not None and doc.title == "Positioning"
    assert [s.anchor for s in doc.sections] == ["positioning", "pricing"]
    assert doc.sections[1].line == 10


CASES = [
    ("bad yaml", {"claims.yaml": "claims:\n  - id: a\n    text: [unclosed\n"}, "claims.yaml", 4,
     "invalid YAML"),
    ("missing file", {"icp.yaml": None}, "icp.yaml", 1, "required file icp.yaml is missing"),
    ("missing field", {"claims.yaml": "claims:\n  - id: a\n    kind: value\n"}, "claims.yaml",
     2, "missing required field 'text'"),
    ("duplicate id", {"claims.yaml": CLAIMS_YAML + "  - id: sso-support\n    text: x\n"
                      "    kind: value\n"}, "claims.yaml", 25, "duplicate claim id 'sso-support'"),
    ("unknown persona", {"claims.yaml": "claims:\n  - id: a\n    text: t\n    kind: value\n"
                         "    personas: [ghost]\n"}, "claims.yaml", 5,
     "unknown persona id 'ghost'"),
    ("unknown segment", {"claims.yaml": "claims:\n  - id: a\n    text: t\n    kind: value\n"
                         "    segments: [nowhere]\n"}, "claims.yaml", 5,
     "unknown segment id 'nowhere'"),
    ("objection cites unknown claim", {"icp.yaml": "segments: []\npersonas:\n  - id: p\n"
                                       "    name: P\n    objections:\n      - objection: o\n"
                                       "        answer_claims: [nope]\n"}, "icp.yaml", 6,
     "unknown claim id 'nope'"),
    ("bad status", {"roadmap.yaml": "items:\n  - id: r\n    title: R\n    status: soon\n"},
     "roadmap.yaml", 4, "'soon' is not one of"),
    ("bad date", {"claims.yaml": "claims:\n  - id: a\n    text: t\n    kind: value\n"
                  "    expires: 2027-13-45\n"}, "claims.yaml", 5, "invalid date '2027-13-45'"),
    ("bad kind", {"claims.yaml": "claims:\n  - id: a\n    text: t\n    kind: vibes\n"},
     "claims.yaml", 4, "'vibes' is not one of"),
    ("bad id", {"claims.yaml": "claims:\n  - id: Not_OK\n    text: t\n    kind: value\n"},
     "claims.yaml", 2, "must match [a-z0-9-]+"),
    ("say missing", {"roadmap.yaml": "items:\n  - id: r\n    title: R\n    status: later\n"},
     "roadmap.yaml", 2, "'say' is required for status later"),
    ("bad front matter", {"messaging/x.md": "---\ntitle: [oops\n---\n# X\n"},
     "messaging/x.md", 2, "front matter: invalid YAML"),
]


@pytest.mark.parametrize(("overrides", "rel", "line", "message"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_problem_is_reported_with_path_and_line(
    tmp_path: Path, overrides: dict[str, str | None], rel: str, line: int, message: str
) -> None:
    root = make_package(tmp_path / "kb", overrides)
    found = problems_of(root)
    matching = [p for p in found if p.path.endswith(rel) and message in p.message]
    assert matching, [str(p) for p in found]
    assert matching[0].line == line, str(matching[0])
    assert str(matching[0]).startswith(f"{(root / rel).as_posix()}:{line}: ")


def test_all_problems_are_reported_in_one_pass(tmp_path: Path) -> None:
    root = make_package(tmp_path, {
        "claims.yaml": "claims:\n  - id: a\n    kind: value\n  - id: b\n    text: t\n"
                       "    kind: value\n    expires: someday\n",
        "roadmap.yaml": "items:\n  - id: r\n    title: R\n    status: maybe\n",
    })
    messages = [p.message for p in problems_of(root)]
    # three in the edited files, plus the objection that cited a claim that no longer exists
    assert len(messages) == 4, messages
    assert any("unknown claim id 'per-robot-pricing'" in m for m in messages)


def test_non_utf8_document(tmp_path: Path) -> None:
    root = make_package(tmp_path)
    (root / "reference").mkdir()
    (root / "reference" / "latin1.md").write_bytes(b"# Hi\n\ncaf\xe9 menu\n")
    [problem] = problems_of(root)
    assert problem.rule == "bad-encoding" or "not UTF-8" in problem.message
    assert problem.path.endswith("reference/latin1.md")


def test_symlink_outside_package_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("# Secret\n\npasswords\n")
    root = make_package(tmp_path / "kb")
    (root / "reference").mkdir()
    os.symlink(secret, root / "reference" / "leak.md")
    [problem] = problems_of(root)
    assert problem.rule == "unsafe-path"


def test_oversized_document_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 1000)
    root = make_package(tmp_path, {"reference/big.md": "# Big\n\n" + "word " * 400})
    [problem] = problems_of(root)
    assert "limit" in problem.message


def test_corrupt_pdf_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    root = make_package(tmp_path)
    (root / "reference").mkdir()
    (root / "reference" / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    [problem] = problems_of(root)
    assert problem.path.endswith("broken.pdf") and "PDF" in problem.message


def test_pdf_and_docx_are_read_into_sections() -> None:
    package = load_package(REPO / "knowledge")
    pdf = next(d for d in package.documents if d.path.endswith(".pdf"))
    docx = next(d for d in package.documents if d.path.endswith(".docx"))
    assert pdf.sections and pdf.sections[0].anchor == "p1" and len(pdf.text) > 200
    assert docx.sections and len(docx.text) > 200


def test_kb_version_is_a_content_hash(tmp_path: Path) -> None:
    first = load_package(make_package(tmp_path / "a")).kb_version
    same = load_package(make_package(tmp_path / "b")).kb_version
    assert first == same == package_fingerprint(tmp_path / "a")
    (tmp_path / "b" / "messaging" / "positioning.md").write_text("# Changed\n\nNew text.\n")
    assert load_package(tmp_path / "b").kb_version != first


def test_stale_and_expired_flags(tmp_path: Path) -> None:
    from datetime import date

    package = load_package(make_package(tmp_path))
    today = date(2026, 11, 22)
    assert [c.id for c in package.expired_claims(today)] == ["old-award"]
    assert "old-award" not in {c.id for c in package.approved_claims(today)}
    assert not package.documents[0].is_stale(today)
