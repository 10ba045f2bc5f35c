"""The Fit tab: a prospect description in; the ICP verdict, reasons and disqualifiers out."""

from __future__ import annotations

import gradio as gr

from kbassist.core.errors import UsageError
from kbassist.core.models import KnowledgePackage, Segment
from kbassist.ui.common import UiContext, reported
from kbassist.ui.render import error_html, fit_html

EMPTY = ('<div class="kb-panel kb-muted">Describe a prospect: industry, size, region and '
         "anything you know about how they work. The verdict says which segment they fit and "
         "why, and flags any disqualifier.</div>")


def example_description(segment: Segment) -> str | None:
    """A made-up prospect squarely inside ``segment``, from its own fields."""
    if not segment.industries:
        return None
    size = ""
    if segment.employees and segment.employees.min is not None:
        typical = max(segment.employees.min * 2, 50)
        if segment.employees.max is not None:
            typical = min(typical, segment.employees.max)
        size = f"{typical}-person "
    where = f" in {segment.regions[0]}" if segment.regions else ""
    pain = f"; they struggle with {segment.pains[0].rstrip('.').lower()}" if segment.pains else ""
    return f"A {size}{segment.industries[0]} company{where}{pain}."


def examples(package: KnowledgePackage) -> list[str]:
    found = [example_description(s) for s in package.segments[:3]]
    return [e for e in found if e]


class FitHandlers:
    def __init__(self, ctx: UiContext) -> None:
        self.ctx = ctx

    def assess(self, description: str) -> str:
        with reported("assess fit") as outcome:
            if not (description or "").strip():
                raise UsageError("describe the prospect first")
            html = fit_html(self.ctx.assistant.fit(description.strip()))
        return error_html("assess fit", outcome.message) if outcome.message else html


def build_fit_tab(ctx: UiContext) -> FitHandlers:
    handlers = FitHandlers(ctx)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            description = gr.Textbox(label="Prospect description", lines=6, max_length=4000,
                                     elem_id="fit-input",
                                     placeholder="A 600-person HVAC contractor in the UK…")
            go = gr.Button("Check fit", variant="primary", elem_id="fit-go")
            found = examples(ctx.package)
            if found:
                gr.Examples(found, inputs=[description], label="Examples")
        with gr.Column(scale=5):
            verdict = gr.HTML(EMPTY, elem_id="fit-result")
    go.click(handlers.assess, [description], [verdict], api_visibility="private")
    return handlers
