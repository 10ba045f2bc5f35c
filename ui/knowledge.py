"""The Knowledge tab: what reps may say. Claims with filters and expiry, the roadmap board
(approved wording only), kb_version, lint findings, and re-indexing with progress."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any, get_args

import gradio as gr

from kbassist.app import operations
from kbassist.core.models import ClaimKind
from kbassist.ui.common import (
    ANY,
    UiContext,
    persona_choices,
    reported,
    segment_choices,
    user_errors,
)
from kbassist.ui.render import (
    ClaimFilter,
    chip,
    claims_table_html,
    error_html,
    findings_html,
    header_html,
    roadmap_board_html,
    stats_html,
)


class KnowledgeHandlers:
    def __init__(self, ctx: UiContext) -> None:
        self.ctx = ctx

    def header(self, request: gr.Request | None = None) -> str:
        with user_errors("load the knowledge package"):
            return header_html(self.ctx.package, self.ctx.assistant.backend_name,
                               getattr(request, "username", None))

    def overview(self) -> tuple[str, str]:
        """(stats, roadmap board)."""
        with user_errors("load the knowledge package"):
            package = self.ctx.package
            return (stats_html(package, self.ctx.assistant.today),
                    roadmap_board_html(package.roadmap))

    def claims(self, kind: str, persona: str, segment: str, text: str) -> str:
        with user_errors("filter the claims"):
            package = self.ctx.package
            return claims_table_html(package.claims, self.ctx.assistant.today,
                                     ClaimFilter(kind or "", persona or "", segment or "",
                                                 text or ""))

    def lint(self) -> str:
        with reported("check the package") as outcome:
            root = self.ctx.assistant.settings.kb
            report = operations.lint(self.ctx.assistant)
            html = findings_html(report.errors, report.warnings, root=Path(root))
        return error_html("check the package", outcome.message) if outcome.message else html

    def reindex(self, request: gr.Request,
                progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
                ) -> tuple[str, str, str, str, str]:
        """(status, header, stats, board, lint); the Embedding bar drives the progress."""
        progress(0, desc="Validating the package")
        with reported("re-index") as outcome:
            summary = self.ctx.assistant.reindex(progress=True)
        if outcome.message:  # the previous index keeps serving
            return (error_html("re-index", outcome.message), self.header(request),
                    *self.overview(), self.lint())
        version = f"kb_version <code>{escape(summary.kb_version)}</code>"
        if summary.unchanged:
            status = f"<p>{chip('up to date', 'pass')} The index is up to date: {version}.</p>"
        else:
            status = (f"<p>{chip('indexed', 'pass')} {summary.chunks} chunks from "
                      f"{summary.files_total} files ({summary.files_reembedded} re-embedded, "
                      f"{summary.files_removed} removed) in {summary.seconds:.1f} s: "
                      f"{version}.</p>")
        stats, board = self.overview()
        return status, self.header(request), stats, board, self.lint()


def _kind_choices() -> list[tuple[str, str]]:
    return [("All kinds", ANY), *((k, k) for k in get_args(ClaimKind))]


def build_knowledge_tab(ctx: UiContext, header: Any, tab: Any) -> KnowledgeHandlers:
    handlers = KnowledgeHandlers(ctx)
    package = ctx.package
    stats_value, board_value = handlers.overview()
    with gr.Row():
        stats = gr.HTML(stats_value, elem_id="kb-stats")
    with gr.Row(equal_height=False):
        reindex = gr.Button("Re-index the package", variant="primary", size="md", scale=0,
                            min_width=220, elem_id="kb-reindex")
        status = gr.HTML(f"<p>Serving kb_version <code>{escape(package.kb_version)}</code>.</p>",
                         elem_id="kb-status")
    with gr.Tabs():
        with gr.Tab("Roadmap", elem_id="kb-roadmap-tab"):
            gr.Markdown("<span class='kb-muted'>What reps may say about each item: the approved "
                        "wording only. <b>now</b> is available today.</span>")
            board = gr.HTML(board_value, elem_id="kb-board")
        with gr.Tab("Claims", elem_id="kb-claims-tab"):
            with gr.Row():
                kind = gr.Dropdown(_kind_choices(), value=ANY, label="Kind")
                persona = gr.Dropdown(persona_choices(package, any_label="Any persona"),
                                      value=ANY, label="Persona")
                segment = gr.Dropdown(segment_choices(package), value=ANY, label="Segment")
                text = gr.Textbox(label="Search", placeholder="word or claim id", max_length=200)
            claims = gr.HTML(handlers.claims(ANY, ANY, ANY, ""), elem_id="kb-claims")
        with gr.Tab("Lint", elem_id="kb-lint-tab"):
            check = gr.Button("Check the package again", size="sm")
            findings = gr.HTML('<p class="kb-muted">Checking…</p>', elem_id="kb-lint")
    filters = [kind, persona, segment, text]
    for dropdown in (kind, persona, segment):
        dropdown.change(handlers.claims, filters, [claims], api_visibility="private")
    text.change(handlers.claims, filters, [claims], api_visibility="private",
                trigger_mode="always_last")
    check.click(handlers.lint, None, [findings], api_visibility="private")
    tab.select(handlers.lint, None, [findings], api_visibility="private")
    reindex.click(handlers.reindex, None, [status, header, stats, board, findings],
                  api_visibility="private", concurrency_limit=1, concurrency_id="reindex")
    return handlers
