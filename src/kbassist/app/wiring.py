"""Wiring: ``build_assistant(settings)`` is the only place that constructs adapters. The CLI,
the UI, evals and tests all get their assistant from it."""

from __future__ import annotations

from datetime import date

from kbassist.adapters.audit import AuditLog
from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.adapters.index import KnowledgeIndex
from kbassist.adapters.llm import make_backend
from kbassist.adapters.package_cache import PackageCache
from kbassist.app.assistant import Assistant
from kbassist.app.settings import Settings
from kbassist.core.llm import LLMBackend
from kbassist.core.ports import Embedder


def build_assistant(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    backend: LLMBackend | None = None,
    today: date | None = None,
    channel: str = "cli",
) -> Assistant:
    """The one place adapters are built: the embedder, the LLM backend, the index, the
    package cache and the audit log, from settings. Tests may pass an embedder or backend."""
    if backend is None and settings.llm != "offline":
        backend = make_backend(
            settings.llm,
            model=settings.model,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_retries,
        )
    embedder = embedder or MiniLMEmbedder()
    return Assistant(
        settings, embedder=embedder, backend=backend, today=today, channel=channel,
        index=KnowledgeIndex(settings.data_dir, embedder, chroma_url=settings.chroma_url),
        packages=PackageCache(settings.data_dir / "packages"),
        audit=open_audit_log(settings) if settings.audit else None)


def open_audit_log(settings: Settings) -> AuditLog:
    return AuditLog(settings.data_dir / "audit.sqlite3",
                    retention_days=settings.audit_retention_days,
                    redact_questions=settings.redact_questions)
