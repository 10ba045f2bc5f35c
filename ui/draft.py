"""The Draft tab: a governed outreach draft the rep can edit, copy and download."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import gradio as gr

from kbassist.core.draft import Channel, DraftRequest
from kbassist.core.errors import UsageError
from kbassist.ui.common import (
    ANY,
    UiContext,
    persona_choices,
    reported,
    safe_name,
    segment_choices,
)
from kbassist.ui.render import checks_panel_html, error_html

CHANNELS = [("Email", "email"), ("LinkedIn message", "linkedin"), ("Call opener", "call-opener")]
EMPTY_CHECKS = ('<div class="kb-panel kb-muted">The checks appear here: what governance '
                "changed, and the approved sources the draft uses.</div>")


def channel_of(value: str) -> Channel:
    """The channel a rep or an API caller picked, checked."""
    for channel in get_args(Channel):
        if value == channel:
            return channel
    raise UsageError(f"unknown channel {value!r}: use email, linkedin or call-opener")


def draft_text(subject: str, body: str) -> str:
    return f"Subject: {subject.strip()}\n\n{body.strip()}\n" if subject.strip() else \
        f"{body.strip()}\n"


class DraftHandlers:
    def __init__(self, ctx: UiContext) -> None:
        self.ctx = ctx

    def generate(
        self, channel: str, persona: str, segment: str, account: str, contact: str,
        context: str, rep_name: str, request: gr.Request,
    ) -> tuple[Any, Any, str, Any]:
        """(subject box, body box, checks panel, download button)."""
        with reported("draft") as outcome:
            if not persona:
                raise UsageError("choose the persona you are writing to")
            result = self.ctx.assistant.draft(DraftRequest(
                channel=channel_of(channel), persona=persona, segment=segment or None,
                account=account.strip() or None, contact=contact.strip() or None,
                context=context.strip() or None, rep_name=rep_name.strip() or None))
            path = self._write(result.subject, result.body, channel, account, request)
        if outcome.message:
            return (gr.update(), gr.update(), error_html("draft", outcome.message),
                    gr.update())
        return (
            gr.update(value=result.subject, visible=channel == "email"),
            result.body,
            checks_panel_html(result.governed, result.citations, result.roadmap),
            gr.update(value=str(path), interactive=True),
        )

    def save_edits(self, subject: str, body: str, channel: str, account: str,
                   request: gr.Request) -> Any:
        """Keep the download in step with the rep's edits."""
        if not (body or "").strip():
            return gr.update(value=None, interactive=False)
        return gr.update(value=str(self._write(subject or "", body, channel, account, request)),
                         interactive=True)

    def _write(self, subject: str, body: str, channel: str, account: str,
               request: gr.Request | None) -> Path:
        name = safe_name(f"{channel}-{account}" if account else channel, "draft")
        path = self.ctx.outputs.session(request) / f"{name}.txt"
        path.write_text(draft_text(subject if channel == "email" else "", body),
                        encoding="utf-8")
        return path


def build_draft_tab(ctx: UiContext) -> DraftHandlers:
    handlers = DraftHandlers(ctx)
    package = ctx.package
    with gr.Row(equal_height=False):
        with gr.Column(scale=4):
            channel = gr.Radio(CHANNELS, value="email", label="Channel", elem_id="draft-channel")
            personas = persona_choices(package, any_label=None)
            persona = gr.Dropdown(personas, value=personas[0][1] if personas else None,
                                  label="Persona", elem_id="draft-persona")
            segment = gr.Dropdown(segment_choices(package), value=ANY, label="Segment",
                                  elem_id="draft-segment")
            with gr.Row():
                account = gr.Textbox(label="Account", placeholder="Northgate FM",
                                     elem_id="draft-account", max_length=200)
                contact = gr.Textbox(label="Contact", placeholder="Dana Reyes",
                                     elem_id="draft-contact", max_length=200)
            context = gr.Textbox(label="Context", lines=3, max_length=2000,
                                 placeholder="They asked about van stock at the trade show",
                                 elem_id="draft-context")
            rep_name = gr.Textbox(label="Your name (for the sign-off)", max_length=200)
            go = gr.Button("Write draft", variant="primary", elem_id="draft-go")
        with gr.Column(scale=6):
            subject = gr.Textbox(label="Subject", interactive=True, buttons=["copy"],
                                 elem_id="draft-subject")
            body = gr.Textbox(label="Body", lines=14, max_lines=30, interactive=True,
                              buttons=["copy"], elem_id="draft-body",
                              placeholder="Your governed draft appears here. Edit it freely.")
            download = gr.DownloadButton("Download .txt", interactive=False, size="md",
                                         elem_id="draft-download")
            checks = gr.HTML(EMPTY_CHECKS, elem_id="draft-checks")
    go.click(handlers.generate,
             [channel, persona, segment, account, contact, context, rep_name],
             [subject, body, checks, download], api_visibility="private")
    for box in (subject, body):  # change, not input: pasted and dictated edits count too
        box.change(handlers.save_edits, [subject, body, channel, account], [download],
                  trigger_mode="always_last", api_visibility="private")
    channel.change(lambda c: gr.update(visible=c == "email"), [channel], [subject],
                   api_visibility="private")
    return handlers
