"""The Ask tab: a chat whose answers are governed before a rep sees a word of them.

Product rule: no ungoverned text reaches the rep. While the assistant retrieves, writes and
checks, the chat shows a "Checking against approved claims…" status; only the governed answer
is then revealed (sentence by sentence, so long answers read like a stream). Each answer carries
its governance badge (which opens to what was changed) and its sources (which open to the
passage and its ``path:line``). Thumbs up/down go to the audit log's feedback table.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from kbassist.app import operations
from kbassist.core.errors import KbassistError
from kbassist.core.results import AskResult, Rating
from kbassist.ui.common import ANY, UNEXPECTED, UiContext, log, persona_choices, segment_choices
from kbassist.ui.render import governance_details, governance_title, sentences, sources_html

CHECKING = "Checking against approved claims…"
REVEAL_PAUSE_S = 0.03  # between revealed sentences; cosmetic, the answer is already governed
MAX_REVEAL_STEPS = 12

Message = dict[str, Any]
History = list[Message]


def user_message(text: str) -> Message:
    return {"role": "user", "content": text}


def checking_message() -> Message:
    return {"role": "assistant", "content": "",
            "metadata": {"title": CHECKING, "status": "pending"}}


def badge_message(result: AskResult) -> Message:
    return {
        "role": "assistant",
        "content": governance_details(result.governed, result.unknown),
        "metadata": {"title": governance_title(result.governed, result.unknown),
                     "status": "done", "duration": round(result.latency_ms / 1000, 2)},
    }


def reveal_steps(answer: str) -> list[str]:
    """Growing prefixes of the answer, at most MAX_REVEAL_STEPS of them, ending in the whole."""
    parts = sentences(answer)
    step = max(1, -(-len(parts) // MAX_REVEAL_STEPS))
    prefixes = [" ".join(parts[:i]) for i in range(step, len(parts), step)]
    return [*prefixes, answer]


class AskHandlers:
    """The tab's event handlers; plain methods over the assistant, so tests can call them."""

    def __init__(self, ctx: UiContext, pause_s: float = REVEAL_PAUSE_S) -> None:
        self.ctx = ctx
        self.pause_s = pause_s

    def respond(
        self, question: str, history: History, persona: str, segment: str,
        ids: dict[int, int],
    ) -> Iterator[tuple[History, History, str, dict[int, int]]]:
        """Yields (chat, history state, input box, message index -> audit output id)."""
        question = (question or "").strip()
        if not question:
            gr.Warning("Type a question first.")
            yield history, history, "", ids
            return
        start = len(history)
        chat = [*history, user_message(question), checking_message()]
        yield chat, chat, "", ids
        try:
            result = self.ctx.assistant.ask(question, persona=persona or None,
                                            segment=segment or None)
        except Exception as exc:  # a message in the chat, never a traceback
            if not isinstance(exc, KbassistError):
                log.exception("ask failed")
            text = str(exc) if isinstance(exc, KbassistError) else UNEXPECTED
            chat = [*chat[:-1], {"role": "assistant", "content": f"⚠️ {text}"}]
            yield chat, chat, question, ids
            return
        output_id = result.output_id
        chat = [*chat[:-1], badge_message(result)]
        for i, partial in enumerate(reveal_steps(result.answer)):
            if i:
                time.sleep(self.pause_s)
            shown = [*chat, {"role": "assistant", "content": partial}]
            yield shown, shown, "", ids
        chat = shown
        sources = sources_html(result.citations, result.roadmap)
        if sources:
            chat = [*chat, {"role": "assistant", "content": sources}]
        if output_id is not None:
            ids = {**ids, **dict.fromkeys(range(start, len(chat)), output_id)}
        yield chat, chat, "", ids

    def feedback(self, ids: dict[int, int], comment: str, data: gr.LikeData,
                 request: gr.Request) -> str:
        """A thumb on an answer, with the optional comment; returns the cleared comment box."""
        index = data.index if isinstance(data.index, int) else data.index[0]
        output_id = ids.get(index)
        rating: Rating | None = None
        if isinstance(data.liked, bool):
            rating = "up" if data.liked else "down"
        if rating is None or output_id is None or self.ctx.assistant.audit is None:
            return comment
        try:
            operations.record_feedback(self.ctx.assistant, output_id, rating,
                                       (comment or "").strip(),
                                       user=getattr(request, "username", None))
        except KbassistError as exc:
            gr.Warning(f"Feedback not recorded: {exc}")
            return comment
        gr.Info("Thanks: your feedback was recorded for the product team.")
        return ""


EXAMPLES = [
    "How is it priced?",
    "Do you support SAML single sign-on?",
    "Is there an offline mobile app for technicians?",
    "Can we run it on-prem?",
]


def build_ask_tab(ctx: UiContext) -> AskHandlers:
    handlers = AskHandlers(ctx)
    package = ctx.package
    product = package.config.product
    history = gr.State([])
    ids = gr.State({})
    with gr.Row(equal_height=False):
        with gr.Column(scale=7):
            chatbot = gr.Chatbot(
                label=f"Ask about {product}", show_label=False, height=600, elem_id="ask-chat",
                buttons=["copy"], feedback_options=["Like", "Dislike"], layout="bubble",
                group_consecutive_messages=False,
                placeholder=(f"### Ask anything about {product}\nAnswers quote approved claims "
                             "only, and every answer is checked against them before you see "
                             "it. Each answer lists its sources: open one to read the passage."),
            )
            with gr.Row():
                question = gr.Textbox(show_label=False, scale=8, elem_id="ask-input",
                                      placeholder="Ask about pricing, security, integrations, "
                                                  "the roadmap…", max_length=2000)
                send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask-send")
            gr.Examples(EXAMPLES, inputs=[question], label="Try")
        with gr.Column(scale=3):
            gr.Markdown("#### Who are you talking to?")
            persona = gr.Dropdown(persona_choices(package, any_label="Any persona"), value=ANY,
                                  label="Persona", elem_id="ask-persona")
            segment = gr.Dropdown(segment_choices(package), value=ANY, label="Segment",
                                  elem_id="ask-segment")
            comment = gr.Textbox(label="Feedback comment (optional)", lines=3,
                                 elem_id="ask-comment", max_length=2000,
                                 info="Sent with your next thumbs up or down on an answer.")
            clear = gr.Button("New conversation", variant="secondary", size="sm")
            gr.Markdown(
                "<span class='kb-muted'>Every answer shows a governance badge: "
                "<b>pass</b> (used as written), <b>revised</b> (something was changed to stay "
                "within approved claims: open the badge to see what) or <b>blocked</b> (the "
                "safe approved answer was used). Roadmap items carry their status: "
                "now, next, later or never.</span>")
    outputs = [chatbot, history, question, ids]
    inputs = [question, history, persona, segment, ids]
    for trigger in (send.click, question.submit):
        trigger(handlers.respond, inputs, outputs, api_visibility="private")
    # named apart from the public "feedback" endpoint, which would otherwise become feedback_1
    chatbot.like(handlers.feedback, [ids, comment], [comment], api_name="ask_thumbs",
                 api_visibility="private")
    clear.click(lambda: ([], [], "", {}), None, outputs, api_visibility="private")
    chatbot.clear(lambda: ([], {}), None, [history, ids], api_visibility="private")
    return handlers
