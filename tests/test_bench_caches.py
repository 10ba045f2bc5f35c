"""The caches that keep `ask` and re-index cheap at 100k chunks give the same answers as
doing the work again: fingerprints follow every edit, parsed documents are reused only
while their bytes are unchanged, and big packages are checked for edits at most once a
second."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from kbassist.adapters.package.loader import (
    FingerprintCache,
    ParseCache,
    load_package,
    package_fingerprint,
)

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import synth  # noqa: E402


@pytest.fixture()
def kb(tmp_path: Path) -> Path:
    return synth.generate(400, tmp_path / "kb")


def a_document(kb: Path) -> Path:
    return sorted((kb / "reference" / "synthetic").rglob("*.md"))[0]


def test_the_cached_fingerprint_follows_edits_adds_and_removals(kb: Path) -> None:
    cache = FingerprintCache()
    assert package_fingerprint(kb, cache) == package_fingerprint(kb)
    doc = a_document(kb)
    stat = doc.stat()
    doc.write_text(doc.read_text().replace("Overview", "Overveiw"))  # same size
    os.utime(doc, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
    assert package_fingerprint(kb, cache) == package_fingerprint(kb)  # ctime still moved
    (kb / "reference" / "new.md").write_text("# New\n\nA new note.\n")
    assert package_fingerprint(kb, cache) == package_fingerprint(kb)
    doc.unlink()
    assert package_fingerprint(kb, cache) == package_fingerprint(kb)


def test_parsed_documents_are_reused_only_while_unchanged(kb: Path) -> None:
    cache = ParseCache()
    first = load_package(kb, cache=cache)
    again = load_package(kb, cache=cache)
    assert again == first and all(a is b for a, b in zip(again.documents, first.documents,
                                                          strict=True))
    doc = a_document(kb)
    doc.write_text(doc.read_text() + "\n## Added\n\nA new section.\n")
    changed = load_package(kb, cache=cache)
    assert changed == load_package(kb)
    rel = doc.relative_to(kb).as_posix()
    assert [d for d in changed.documents if d.path == rel][0] not in first.documents
    assert len(cache.documents) == len(changed.documents)  # the old parse was dropped
    claims = kb / "claims.yaml"
    claims.write_text(claims.read_text().replace("without changing", "without altering", 1))
    assert load_package(kb, cache=cache) == load_package(kb)  # a changed YAML is re-read


def test_a_big_package_is_checked_for_edits_at_most_once_a_second(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kbassist.app import assistant as assistant_module
    from kbassist.app.settings import Settings
    from kbassist.app.wiring import build_assistant

    kb = synth.generate(400, tmp_path / "kb")
    monkeypatch.setattr(assistant_module, "FRESHNESS_FILES", 5)  # this package is "big"
    clock = [1000.0]
    monkeypatch.setattr(assistant_module.time, "monotonic", lambda: clock[0])
    assistant = build_assistant(Settings(kb=kb, data_dir=tmp_path / "data", audit=False))
    assistant.reindex()
    version = assistant.package.kb_version
    doc = a_document(kb)
    doc.write_text(doc.read_text() + "\n## Added\n\nA new section.\n")
    clock[0] += 0.5
    assert assistant.package.kb_version == version  # within the second: not looked at
    clock[0] += 0.6
    assert assistant.package.kb_version != version  # then the edit is picked up
