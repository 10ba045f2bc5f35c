"""The reps' app: a thin adapter over ``build_assistant``. Every answer, draft and RFP row
comes from the Assistant, governed; this package only lays it out.

``build_app(assistant)`` makes the Blocks (no IO beyond reading the package); ``launch`` wires
the safe defaults: loopback, no sharing, no tracebacks, upload limits, blocked package and data
folders, optional sign-in from ``KBASSIST_AUTH_FILE``, and enough concurrency that one rep's
answer never waits for another's.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import gradio as gr

from kbassist.app import operations
from kbassist.app.assistant import Assistant
from kbassist.app.auth import load_users, make_authenticator
from kbassist.app.runtime import configure_offline_environment
from kbassist.app.settings import Settings
from kbassist.app.wiring import build_assistant
from kbassist.core.draft import DraftRequest
from kbassist.core.errors import KbassistError, UsageError
from kbassist.core.fit import FitResult
from kbassist.core.net import is_loopback_host
from kbassist.core.results import AskResult, DraftResult, Rating
from kbassist.ui.ask import build_ask_tab
from kbassist.ui.common import OutputFolder, UiContext
from kbassist.ui.draft import build_draft_tab, channel_of
from kbassist.ui.evals import build_evals_tab
from kbassist.ui.fit import build_fit_tab
from kbassist.ui.gaps import build_gaps_tab
from kbassist.ui.knowledge import KnowledgeHandlers, build_knowledge_tab
from kbassist.ui.rfp import build_rfp_tab
from kbassist.ui.theme import CSS, make_theme

CONCURRENCY = 8  # events of one listener that run at once (Gradio's default is 1)
MAX_UPLOAD = "20mb"  # the RFP reader's own limit, enforced before the file reaches it


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """A KbassistError reaches an API client as its message; nothing else leaks."""
    try:
        yield
    except KbassistError as exc:
        raise gr.Error(str(exc), print_exception=False) from None


def _with_output_id(result: AskResult | DraftResult | FitResult) -> dict[str, Any]:
    """The result's JSON plus the audit id of the output it records."""
    return {**result.to_json(), "output_id": result.output_id}


class Api:
    """The app's public API (``gradio_client``): stable names, JSON-able results in the CLI's
    ``--json`` shapes plus ``output_id`` (the audit id that ``feedback`` takes; None when the
    audit log is off). Errors come back as one-line messages."""

    MAX_COMMENT = 2000  # characters, as in the Ask tab's comment box

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def ask(self, question: str, persona: str = "", segment: str = "") -> dict[str, Any]:
        """A governed answer with citations (the shape of `kbassist ask --json`) and its
        output_id."""
        with _one_line_errors():
            if not question.strip():
                raise UsageError("the question is empty")
            return _with_output_id(self.assistant.ask(
                question.strip(), persona=persona or None, segment=segment or None))

    def draft(self, channel: str, persona: str, segment: str = "", account: str = "",
              contact: str = "", context: str = "", rep_name: str = "") -> dict[str, Any]:
        """A governed outreach draft (the shape of `kbassist draft --json`) and its output_id;
        channel is email, linkedin or call-opener."""
        with _one_line_errors():
            return _with_output_id(self.assistant.draft(DraftRequest(
                channel=channel_of(channel), persona=persona, segment=segment or None,
                account=account or None, contact=contact or None, context=context or None,
                rep_name=rep_name or None)))

    def fit(self, description: str) -> dict[str, Any]:
        """The ICP fit verdict with reasons (the shape of `kbassist fit --json`) and its
        output_id."""
        with _one_line_errors():
            if not description.strip():
                raise UsageError("the prospect description is empty")
            return _with_output_id(self.assistant.fit(description.strip()))

    def feedback(self, output_id: int, rating: str, comment: str = "",
                 request: gr.Request | None = None) -> dict[str, Any]:
        """Thumbs up or down (rating "up" or "down", optional comment) on the output whose
        output_id an ask, draft or fit result carries; stored in the audit log like the Ask
        tab's thumbs, and a thumbs-down is also a gap. Returns feedback_id, output_id, rating."""
        with _one_line_errors():
            if self.assistant.audit is None:
                raise UsageError("feedback is not recorded: the audit log is off "
                                 "(KBASSIST_AUDIT=false)")
            target = self._output_id(output_id)
            text = str(comment or "").strip()
            if len(text) > self.MAX_COMMENT:
                raise UsageError(f"the comment is {len(text)} characters long; "
                                 f"at most {self.MAX_COMMENT} are allowed")
            choice = str(rating or "").strip().lower()
            feedback_id = operations.record_feedback(  # checks the rating and the output
                self.assistant, target, cast(Rating, choice), text,
                user=getattr(request, "username", None))
            return {"feedback_id": feedback_id, "output_id": target, "rating": choice}

    @staticmethod
    def _output_id(value: object) -> int:
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
            raise UsageError("output_id must be the positive integer that an ask, draft or "
                             f"fit result carries, not {str(value)[:40]!r}")
        return value


def build_app(assistant: Assistant, *, outputs: OutputFolder | None = None) -> gr.Blocks:
    settings = assistant.settings
    ctx = UiContext(assistant=assistant, outputs=outputs or OutputFolder(),
                    blocked=[settings.kb, settings.data_dir])
    package = assistant.package  # fails early, before any browser connects
    knowledge = KnowledgeHandlers(ctx)
    with gr.Blocks(title=f"{package.config.product} assistant",
                   analytics_enabled=False) as app:
        header = gr.HTML(knowledge.header(), elem_id="kb-header-block")
        with gr.Tabs(elem_id="kb-tabs"):
            with gr.Tab("Ask", id="ask"):
                build_ask_tab(ctx)
            with gr.Tab("Draft", id="draft"):
                build_draft_tab(ctx)
            with gr.Tab("RFP", id="rfp"):
                build_rfp_tab(ctx)
            with gr.Tab("Fit", id="fit"):
                build_fit_tab(ctx)
            with gr.Tab("Knowledge", id="knowledge") as knowledge_tab:
                build_knowledge_tab(ctx, header, knowledge_tab)
            with gr.Tab("Evals", id="evals"):
                build_evals_tab(ctx)
            with gr.Tab("Gaps", id="gaps") as gaps_tab:
                build_gaps_tab(ctx, gaps_tab)
        app.load(knowledge.header, None, [header], api_visibility="private")
        api = Api(assistant)
        gr.api(api.ask, api_name="ask")
        gr.api(api.draft, api_name="draft")
        gr.api(api.fit, api_name="fit")
        gr.api(api.feedback, api_name="feedback")
    app.queue(default_concurrency_limit=CONCURRENCY, api_open=False)
    return app


def launch_options(settings: Settings, *, host: str, port: int) -> dict[str, Any]:
    """Everything ``Blocks.launch`` gets, in one place (tests launch with the same)."""
    options: dict[str, Any] = {
        "server_name": host,
        "server_port": port,
        "share": False,
        "show_error": False,  # a KbassistError is shown as its message; nothing else leaks
        "max_file_size": MAX_UPLOAD,
        "blocked_paths": [str(settings.kb.resolve()), str(settings.data_dir.resolve())],
        "footer_links": ["api"],
        "run_history": False,  # don't keep answers in the browser's storage
        "enable_monitoring": False,
        "mcp_server": False,
        "ssr_mode": False,
        "pwa": False,
        "theme": make_theme(),
        "css": CSS,
        "quiet": True,
    }
    if settings.auth_file is not None:
        options["auth"] = make_authenticator(load_users(settings.auth_file))
        options["auth_message"] = "Sign in with your kbassist account."
    return options


def require_sign_in(settings: Settings, host: str) -> None:
    """Off loopback the app serves only behind sign-in: refuse to start without a users file."""
    if settings.auth_file is None and not is_loopback_host(host):
        raise UsageError(f"refusing to serve on {host} without sign-in: set KBASSIST_AUTH_FILE "
                         "to a users file (see 'kbassist hash-password'), or bind 127.0.0.1")


def launch(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 7860,
    assistant: Assistant | None = None, block: bool = True,
) -> gr.Blocks:
    """Start the app. ``block=False`` returns once it is serving (tests, notebooks)."""
    configure_offline_environment()  # no analytics or telemetry lookups, whoever calls this
    require_sign_in(settings, host)
    options = launch_options(settings, host=host, port=port)  # reads the users file first
    assistant = assistant or build_assistant(settings, channel="ui")
    outputs = OutputFolder()
    atexit.register(outputs.remove)
    app = build_app(assistant, outputs=outputs)
    print(f"kbassist app on http://{host}:{port}", file=sys.stderr)
    app.launch(prevent_thread_lock=not block, **options)
    return app

