"""The Evals tab: run the eval suite against the live assistant; see the report, any
regressions against the baseline, and the trend over earlier runs.

The report is the eval module's own HTML page (gates, trend charts, metrics, cases); it is shown
in a sandboxed ``iframe`` so its styles can't leak into the app, and it can be downloaded.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

import gradio as gr

from kbassist.ui.common import UiContext, reported
from kbassist.ui.render import chip, error_html

INTRO = ('<p class="kb-muted">The suite asks the assistant every eval case and scores the '
         "answers (citations, governance, roadmap wording, refusals), then compares them with "
         "the committed baseline. A run takes under a minute; reps can keep working "
         "meanwhile.</p>")
MISSING = ('<p class="kb-muted">The eval suite is not part of this build '
           "(<code>kbassist.evals</code> is missing).</p>")


def _regression(entry: Any) -> str:
    if not isinstance(entry, dict):
        return f"<li>{escape(str(entry))}</li>"
    checks = "; ".join(str(c) for c in entry.get("failed_checks", []))
    why = "; ".join(str(c) for c in entry.get("explanations", []))
    return (f'<li><span class="kb-rule">{escape(str(entry.get("id", "?")))}</span> '
            f'({escape(str(entry.get("kind", "")))}) {escape(checks)}'
            f'{f"<div class=kb-muted>{escape(why)}</div>" if why else ""}</li>')


def verdict_html(run: Any) -> str:
    """The run's verdict: gates passed or failed, and each regression against the baseline."""
    regressions = list(getattr(run, "regressions", []) or [])
    failed = [g.name for g in getattr(run, "failed_gates", [])]
    seconds = float(getattr(run, "seconds", 0.0))
    cases = len(getattr(run, "cases", []))
    head = (chip("pass", "pass") if run.passed and not regressions
            else chip("fail", "blocked") if not run.passed else chip("regressions", "revised"))
    lines = [f'<div class="kb-panel"><h3>{head} {cases} cases in {seconds:.1f} s</h3>']
    if failed:
        lines.append(f"<p>Failed gates: {escape(', '.join(failed))}</p>")
    if regressions:
        lines.append(f"<b>{len(regressions)} regression(s) against the baseline</b><ul>")
        lines.extend(_regression(r) for r in regressions)
        lines.append("</ul>")
    else:
        lines.append('<p class="kb-muted">No regressions against the baseline.</p>')
    lines.append("</div>")
    return "".join(lines)


def report_frame(report: str) -> str:
    """The report page in a sandboxed frame: no scripts, its CSS kept to itself."""
    return (f'<iframe title="Eval report" sandbox="" srcdoc="{escape(report, quote=True)}" '
            'style="width:100%;height:900px;border:1px solid #e2e8f0;border-radius:12px;'
            'background:#fff"></iframe>')


class EvalHandlers:
    def __init__(self, ctx: UiContext) -> None:
        self.ctx = ctx

    def run(self, request: gr.Request,
            progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
            ) -> tuple[str, str, Any]:
        """(verdict, report, report download)."""
        try:
            from kbassist.evals import load_history, run_eval
        except ImportError:
            return MISSING, "", gr.update(value=None, interactive=False)
        progress(0, desc="Running the eval suite")
        with reported("run the evals") as outcome:
            run = run_eval(self.ctx.assistant)
            report = run.to_html(load_history(self.ctx.assistant.settings.data_dir))
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            path = self.ctx.outputs.session(request) / f"eval-report-{stamp}.html"
            path.write_text(report, encoding="utf-8")
        if outcome.message:
            return (error_html("run the evals", outcome.message), "",
                    gr.update(value=None, interactive=False))
        return (verdict_html(run), report_frame(report),
                gr.update(value=str(path), interactive=True))


def build_evals_tab(ctx: UiContext) -> EvalHandlers:
    handlers = EvalHandlers(ctx)
    gr.HTML(INTRO)
    with gr.Row(equal_height=False):
        go = gr.Button("Run the eval suite", variant="primary", scale=0, min_width=220,
                       elem_id="evals-go")
        download = gr.DownloadButton("Download report", interactive=False, scale=0,
                                     min_width=200, elem_id="evals-download")
    verdict = gr.HTML("", elem_id="evals-verdict")
    report = gr.HTML("", elem_id="evals-report")
    go.click(handlers.run, None, [verdict, report, download], api_visibility="private",
             concurrency_limit=1, concurrency_id="evals")
    return handlers
