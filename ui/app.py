"""The reps' app. A thin adapter: every answer comes from Assistant.ask, governed."""

from __future__ import annotations

import html
import sys
from typing import Any

from kbassist.assistant import AskResult, Assistant, build_assistant
from kbassist.errors import KbassistError
from kbassist.settings import Settings

BADGES = {"pass": "✅ governance: pass", "revised": "🛠️ governance: revised",
          "blocked": "⛔ governance: blocked (offline answer used)"}


def render_answer(result: AskResult) -> str:
    """Answer, citations with roadmap status chips, and the governance badge, as Markdown."""
    lines = [result.answer, ""]
    if result.citations:
        lines.append("**Sources**")
        for chunk in result.citations:
            chip = f" `{chunk.status}`" if chunk.status else ""
            lines.append(f"- `{chunk.kind}` **{html.escape(chunk.ref_id)}**{chip} — "
                         f"{html.escape(chunk.source)}")
    checks = result.governed.checks_json()
    badge = BADGES.get(checks["status"], checks["status"])
    caught = checks["violations"]
    lines.append("")
    if caught or checks.get("changes"):
        lines.append(f"<details><summary>{badge}</summary>\n")
        lines.extend(f"- {html.escape(str(change))}" for change in checks.get("changes", []))
        lines.extend(f"- `{v['rule']}`: {html.escape(v['detail'])}" for v in caught)
        lines.append("</details>")
    else:
        lines.append(badge)
    return "\n".join(lines)


def build_app(assistant: Assistant) -> Any:
    import gradio as gr

    package = assistant.package
    personas = [("Any persona", "")] + [(p.name, p.id) for p in package.personas]
    segments = [("Any segment", "")] + [(s.name, s.id) for s in package.segments]

    def respond(message: str, history: list[Any], persona: str, segment: str) -> str:
        if not message.strip():
            return "Please type a question."
        try:
            result = assistant.ask(message, persona=persona or None, segment=segment or None)
        except KbassistError as exc:
            return f"⚠️ {exc}"
        return render_answer(result)

    with gr.Blocks(title=f"{package.config.product} assistant") as app:
        gr.Markdown(f"## {package.config.product} assistant\nAnswers from approved material "
                    f"only · kb_version `{package.kb_version}`")
        with gr.Row():
            persona = gr.Dropdown(choices=personas, value="", label="Persona")
            segment = gr.Dropdown(choices=segments, value="", label="Segment")
        gr.ChatInterface(fn=respond, additional_inputs=[persona, segment], api_name="ask")
    return app


def launch(settings: Settings, *, host: str = "127.0.0.1", port: int = 7860) -> None:
    if host not in {"127.0.0.1", "localhost", "::1"} and settings.auth_file is None:
        print(f"warning: serving on {host} without authentication; set KBASSIST_AUTH_FILE",
              file=sys.stderr)
    assistant = build_assistant(settings, channel="ui")
    app = build_app(assistant)
    app.queue(default_concurrency_limit=8)
    print(f"kbassist app on http://{host}:{port}", file=sys.stderr)
    app.launch(
        server_name=host,
        server_port=port,
        share=False,
        show_error=False,
        blocked_paths=[str(settings.kb.resolve()), str(settings.data_dir.resolve())],
    )
