"""The use cases the edges call besides ask, draft and fit (those are ``Assistant`` methods):
questionnaires, feedback, the gaps and usage reports, lint, the audit export and the digest
of what changed between two package versions. The CLI and the UI call these, never the
adapters, so both get the same behaviour (lint finds the same things in both)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any, Literal

from kbassist.adapters.audit import AuditLog
from kbassist.adapters.git_versions import export_version
from kbassist.adapters.package.loader import load_package
from kbassist.adapters.questionnaire import (
    MAX_INPUT_BYTES,
    OUTPUT_COLUMNS,
    READ_SUFFIXES,
    plan_columns,
    read_questionnaire,
)
from kbassist.app.assistant import Assistant
from kbassist.app.gaps import GapsReport, gaps_report
from kbassist.app.lint import LintReport, lint_package
from kbassist.app.rfp import RfpSummary, run_rfp
from kbassist.app.settings import Settings
from kbassist.app.usage_report import UsageReport, usage_report
from kbassist.app.wiring import open_audit_log
from kbassist.core.diff import KnowledgeDiff, diff_packages
from kbassist.core.errors import KbassistError, KnowledgeError, UsageError
from kbassist.core.results import AuditSink, Rating

NO_AUDIT = "the audit log is off (KBASSIST_AUDIT=false)"
# What a questionnaire upload may be: the app checks these before answering.
QUESTIONNAIRE_SUFFIXES = READ_SUFFIXES
QUESTIONNAIRE_MAX_BYTES = MAX_INPUT_BYTES


def audit_of(assistant: Assistant) -> AuditSink:
    if assistant.audit is None:
        raise UsageError(NO_AUDIT)
    return assistant.audit


def audit_log_of(assistant: Assistant) -> AuditLog:
    """The audit log the reports read (a sink that only records can't answer them)."""
    audit = audit_of(assistant)
    if not isinstance(audit, AuditLog):
        raise UsageError(f"the reports read the audit log; this assistant records to "
                         f"{type(audit).__name__}")
    return audit


# -------------------------------------------------------------------------- questionnaires


def answer_questionnaire(assistant: Assistant, source: Path, out: Path, *,
                         question_col: str | None = None, sheet: str | None = None,
                         progress: bool = False) -> RfpSummary:
    """Answer every question of a buyer's file with governed answers; resumable."""
    return run_rfp(source, out, assistant.answer_rfp_row,
                   kb_version=assistant.package.kb_version,
                   checkpoint_dir=assistant.settings.data_dir, question_col=question_col,
                   sheet=sheet, progress=progress)


def answered_rows(source: Path, answered: Path, question_col: str | None = None
                  ) -> Iterator[dict[str, Any]]:
    """The answered file, as the rep will download it, one mapping per question row: number,
    question and the output columns (answer, sources, confidence, needs_review, ...)."""
    answered_q = read_questionnaire(answered, question_col=question_col)
    layout = plan_columns(read_questionnaire(source, question_col=question_col))
    if answered_q.headers == layout.headers:
        where = layout.target
    else:  # the writer's plan, else the columns by name
        by_name = {h.lower().removesuffix(" (kbassist)"): i
                   for i, h in enumerate(answered_q.headers)}
        where = {c: by_name[c] for c in OUTPUT_COLUMNS if c in by_name}
    for number, row in enumerate(answered_q.rows, 1):
        question = answered_q.question(row)
        if question:
            yield {"#": number, "question": question,
                   **{c: row[where[c]] if c in where else "" for c in OUTPUT_COLUMNS}}


# ----------------------------------------------------------------------------- feedback


def record_feedback(assistant: Assistant, output_id: int, rating: Rating, comment: str = "",
                    user: str | None = None) -> int:
    """A thumbs up or down on an output (a thumbs-down is also a gap); its feedback id."""
    return audit_of(assistant).record_feedback(output_id, rating, comment, user=user)


# ------------------------------------------------------------------------------ reports


def gaps(assistant: Assistant, since: date | None = None) -> GapsReport:
    return gaps_report(audit_log_of(assistant), assistant.package, assistant.embedder.embed_batch,
                       since=since)


def usage(assistant: Assistant, days: int) -> UsageReport:
    if days < 1:
        raise UsageError("--days must be at least 1")
    return usage_report(audit_log_of(assistant), assistant.package, days=days,
                        embed=assistant.embedder.embed_batch)


def export_audit(settings: Settings, fmt: Literal["json", "csv"], since: date | None = None
                 ) -> str:
    return open_audit_log(settings).export(fmt, since=since)


def lint(assistant: Assistant, *, embeddings: bool = True) -> LintReport:
    """The knowledge linter, with the assistant's embedder (near-duplicate and conflict checks)
    unless ``embeddings`` is off: the same findings in the CLI and the app."""
    embed = assistant.embedder.embed_batch if embeddings else None
    return lint_package(assistant.settings.kb, today=assistant.today, embed=embed)


def diff_versions(kb: Path, old: str, new: str | None = None) -> KnowledgeDiff:
    """What changed for reps between two versions (folders or git refs) of the package."""
    with ExitStack() as stack:
        versions = [stack.enter_context(export_version(old, kb)),
                    stack.enter_context(export_version(new or str(kb), kb))]
        packages = []
        for version in versions:
            try:
                packages.append(load_package(version.path))
            except KnowledgeError as exc:
                raise KbassistError(f"{version.label}: the knowledge package has "
                                    f"{len(exc.problems)} error(s), first: {exc.problems[0]}"
                                    ) from exc
        return diff_packages(packages[0], packages[1], old_label=versions[0].label,
                             new_label=versions[1].label, old_as_of=versions[0].as_of,
                             today=versions[1].as_of)
