"""The Gaps tab: what reps asked that the package couldn't answer, and which roadmap items
they asked about, grouped and counted for product; exportable as CSV."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import gradio as gr

from kbassist.app import operations
from kbassist.ui.common import UiContext, reported
from kbassist.ui.render import error_html, gaps_html

PERIODS = [("Last 7 days", 7), ("Last 30 days", 30), ("Last 90 days", 90), ("All time", 0)]
NO_AUDIT = ('<p class="kb-muted">The audit log is switched off (KBASSIST_AUDIT=false), so '
            "there is nothing to report.</p>")


class GapsHandlers:
    def __init__(self, ctx: UiContext) -> None:
        self.ctx = ctx

    def report(self, days: int, request: gr.Request) -> tuple[str, Any]:
        """(report, CSV download button)."""
        assistant = self.ctx.assistant
        if assistant.audit is None:
            return NO_AUDIT, gr.update(value=None, interactive=False)
        since = assistant.today - timedelta(days=days) if days else None
        action = "build the gaps report"
        with reported(action) as outcome:
            report = operations.gaps(assistant, since=since)
            path = self.ctx.outputs.session(request) / f"gaps-{date.today().isoformat()}.csv"
            path.write_text(report.to_csv(), encoding="utf-8")
        if outcome.message:
            return error_html(action, outcome.message), gr.update(value=None, interactive=False)
        return gaps_html(report), gr.update(value=str(path), interactive=True)


def build_gaps_tab(ctx: UiContext, tab: Any) -> GapsHandlers:
    handlers = GapsHandlers(ctx)
    with gr.Row(equal_height=False):
        period = gr.Dropdown(PERIODS, value=30, label="Period", scale=2)
        with gr.Column(scale=1):
            refresh = gr.Button("Refresh", size="md")
            download = gr.DownloadButton("Export CSV", interactive=False, size="md",
                                         elem_id="gaps-download")
    body = gr.HTML('<p class="kb-muted">Loading…</p>', elem_id="gaps-report")
    for trigger in (refresh.click, period.change, tab.select):
        trigger(handlers.report, [period], [body, download], api_visibility="private")
    return handlers
