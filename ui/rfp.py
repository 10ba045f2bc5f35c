"""The RFP tab: upload a questionnaire, watch it being answered, review, download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from kbassist.app.operations import (
    QUESTIONNAIRE_MAX_BYTES,
    QUESTIONNAIRE_SUFFIXES,
    answer_questionnaire,
    answered_rows,
)
from kbassist.ui.common import UiContext, checked_upload, reported, safe_name
from kbassist.ui.render import error_html

EMPTY_PREVIEW = pd.DataFrame(columns=["#", "question", "answer", "confidence", "review",
                                      "sources"])


def output_name(upload: Path) -> str:
    """``<input stem>-answered<suffix>``; an .xlsm comes back as .xlsx (no macros)."""
    suffix = ".csv" if upload.suffix.lower() == ".csv" else ".xlsx"
    # Gradio keeps the original name; the stem may still hold anything a user typed.
    return f"{safe_name(upload.stem, 'questionnaire')}-answered{suffix}"


def preview_frame(source: Path, answered: Path, question_col: str | None = None
                  ) -> pd.DataFrame:
    """The answered file, as the rep will download it, reduced to what needs reading."""
    rows = []
    for row in answered_rows(source, answered, question_col):
        review = row["needs_review"] or "no"
        reason = row["review_reason"]
        rows.append({
            "#": row["#"], "question": row["question"], "answer": row["answer"],
            "confidence": _number(row["confidence"]),
            "review": f"{review}: {reason}" if review == "yes" and reason else review,
            "sources": row["sources"].replace("; ", "\n"),
        })
    return pd.DataFrame(rows, columns=list(EMPTY_PREVIEW.columns))


def _number(text: str) -> float | None:
    try:
        return round(float(text), 2)
    except ValueError:
        return None


def _row_style(row: pd.Series) -> list[str]:
    if str(row.get("review", "")).startswith("yes"):
        return ["background-color: #fef3c7"] * len(row)
    return [""] * len(row)


def _confidence_style(value: Any) -> str:
    if not isinstance(value, float):
        return ""
    color = "#166534" if value >= 0.75 else "#92400e" if value >= 0.5 else "#991b1b"
    return f"color: {color}; font-weight: 600"


def styled(frame: pd.DataFrame) -> Any:
    """Needs-review rows highlighted; confidence colored green, amber or red."""
    return (frame.style.apply(_row_style, axis=1)
            .map(_confidence_style, subset=["confidence"])
            .format({"confidence": "{:.2f}"}, na_rep="–"))


def summary_markdown(frame: pd.DataFrame, seconds: float, resumed: int) -> str:
    """The run in one line (HTML: the summary box shows errors as HTML too)."""
    review = int(frame["review"].str.startswith("yes").sum()) if len(frame) else 0
    resumed_note = f" ({resumed} reused from an earlier run of this file)" if resumed else ""
    return (f"<p><b>{len(frame)} questions answered</b>{resumed_note} in {seconds:.1f} s · "
            f"<b>{review} need review</b> (highlighted) · every answer was checked against "
            "approved claims.</p>")


class RfpHandlers:
    def __init__(self, ctx: UiContext) -> None:
        self.ctx = ctx

    def answer(self, upload: str | None, question_col: str, request: gr.Request,
               progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
               ) -> tuple[str, Any, Any]:
        """(summary, preview table, download button)."""
        action = "answer the questionnaire"
        with reported(action) as outcome:
            source = checked_upload(upload, suffixes=QUESTIONNAIRE_SUFFIXES,
                                    max_bytes=QUESTIONNAIRE_MAX_BYTES,
                                    blocked=self.ctx.blocked)
            progress(0, desc="Reading the questionnaire")
            out = self.ctx.outputs.fresh(request) / output_name(source)
            assistant = self.ctx.assistant
            column = question_col.strip() or None
            summary = answer_questionnaire(assistant, source, out, question_col=column,
                                           progress=True)
            frame = preview_frame(source, out, column)
        if outcome.message:
            return (error_html(action, outcome.message), EMPTY_PREVIEW,
                    gr.update(value=None, interactive=False))
        return (summary_markdown(frame, summary.seconds, summary.resumed), styled(frame),
                gr.update(value=str(out), interactive=True))


def build_rfp_tab(ctx: UiContext) -> RfpHandlers:
    handlers = RfpHandlers(ctx)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            upload = gr.File(label="Questionnaire (.csv or .xlsx)",
                             file_types=[".csv", ".xlsx", ".xlsm"], type="filepath",
                             elem_id="rfp-upload")
            question_col = gr.Textbox(label="Question column (optional)", max_length=100,
                                      placeholder="found automatically; or a header, number "
                                                  "or letter")
            go = gr.Button("Answer questionnaire", variant="primary", elem_id="rfp-go")
            download = gr.DownloadButton("Download answered file", interactive=False,
                                         variant="primary", elem_id="rfp-download")
            gr.Markdown("<span class='kb-muted'>Up to 20 MB. The answered file keeps your columns "
                        "and adds "
                        "answer, sources, confidence, needs_review with a reason, status and "
                        "kb_version. Cells that look like formulas are written as text.</span>")
        with gr.Column(scale=7):
            summary = gr.HTML('<p class="kb-muted">Upload a questionnaire to start.</p>',
                              elem_id="rfp-summary")
            preview = gr.Dataframe(EMPTY_PREVIEW, label="Preview", interactive=False, wrap=True,
                                   max_height=620, elem_id="rfp-preview",
                                   column_widths=["5%", "24%", "36%", "11%", "12%", "12%"])
    go.click(handlers.answer, [upload, question_col], [summary, preview, download],
             api_visibility="private", show_progress_on=[preview])
    return handlers
