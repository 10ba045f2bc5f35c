"""Validated packages stored by kb_version, so ``ask`` never re-parses PDFs and DOCX."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from kbassist.adapters.files import write_text_atomic
from kbassist.core.models import KnowledgePackage


class PackageCache:
    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, kb_version: str) -> Path:
        return self.folder / f"{kb_version}.json"

    def save(self, package: KnowledgePackage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self._path(package.kb_version), package.model_dump_json(),
                          durable=False)

    def load(self, kb_version: str) -> KnowledgePackage | None:
        path = self._path(kb_version)
        try:
            return KnowledgePackage.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError, ValueError):
            return None
