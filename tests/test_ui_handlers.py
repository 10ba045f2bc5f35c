"""The app's handlers over a real assistant (small package, real index), without a browser:
governed text only, feedback in the audit log, downloads only in the app's own folder."""

from __future__ import annotations

import shutil
import threading
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pytest

from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.app.assistant import Assistant
from kbassist.app.settings import Settings
from kbassist.app.wiring import build_assistant
from kbassist.core.errors import InputFileError, UsageError
from kbassist.ui.app import build_app, launch_options, require_sign_in
from kbassist.ui.ask import CHECKING, AskHandlers
from kbassist.ui.common import OutputFolder, UiContext, checked_upload
from kbassist.ui.draft import DraftHandlers, channel_of, draft_text
from kbassist.ui.evals import report_frame, verdict_html
from kbassist.ui.fit import FitHandlers, examples
from kbassist.ui.gaps import GapsHandlers
from kbassist.ui.knowledge import KnowledgeHandlers
from kbassist.ui.rfp import RfpHandlers, output_name
from kbfactory import indexed_ui_assistant

# Gradio's own queue code trips pandas 3 deprecation warnings; not ours to fix.
pytestmark = [pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting':Warning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning"),
              pytest.mark.filterwarnings("ignore:Type a question first"),
              pytest.mark.filterwarnings("ignore:Couldn't")]
TODAY = date(2026, 11, 22)
REPO = Path(__file__).resolve().parents[1]
QUESTIONNAIRE = "id,question\nQ1,How is Nordlicht Fleet priced?\nQ2,Do you integrate with SAP?\n"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return indexed_ui_assistant(tmp_path_factory.mktemp("ui"), TODAY)


@pytest.fixture
def ctx(assistant: Assistant, tmp_path: Path) -> UiContext:
    return UiContext(assistant=assistant, outputs=OutputFolder(tmp_path / "out"),
                     blocked=[assistant.settings.kb, assistant.settings.data_dir])


@pytest.fixture
def uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "gradio-uploads"
    folder.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder))
    return folder


def request(user: str | None = "dana") -> gr.Request:
    return gr.Request(username=user, session_hash="session-1")


def like(index: int, liked: bool | str) -> gr.LikeData:
    return gr.LikeData(None, {"index": index, "value": "", "liked": liked})


def ask(ctx: UiContext, question: str, history: list[Any] | None = None
        ) -> list[tuple[Any, ...]]:
    handlers = AskHandlers(ctx, pause_s=0)
    return list(handlers.respond(question, history or [], "", "", {}))


# -- ask -----------------------------------------------------------------------------------


def test_ask_shows_a_checking_status_before_any_answer_text(ctx: UiContext) -> None:
    steps = ask(ctx, "How is Nordlicht Fleet priced?")
    first_chat = steps[0][0]
    assert first_chat[-1]["metadata"] == {"title": CHECKING, "status": "pending"}
    assert first_chat[-1]["content"] == ""  # nothing of the answer before governance
    chat, _, box, ids = steps[-1]
    badge, answer, sources = chat[1], chat[2], chat[3]
    assert badge["metadata"]["status"] == "done" and "pass" in badge["metadata"]["title"]
    assert "per robot per month" in answer["content"]
    assert "per-robot-pricing" in sources["content"] and "claims.yaml:" in sources["content"]
    assert box == ""
    audit = ctx.assistant.audit
    assert audit is not None
    last = audit.outputs()[-1]
    assert last["output"] == answer["content"] and last["channel"] == "ui"
    assert set(ids) == {0, 1, 2, 3} and set(ids.values()) == {last["id"]}


def test_every_revealed_step_is_a_prefix_of_the_governed_answer(ctx: UiContext) -> None:
    steps = ask(ctx, "Is battery health forecasting available? How is it priced?")
    final = steps[-1][0][2]["content"]
    shown = [s[0][2]["content"] for s in steps[1:] if len(s[0]) > 2]
    assert shown and all(final.startswith(text) for text in shown)


def test_empty_question_changes_nothing(ctx: UiContext) -> None:
    steps = ask(ctx, "   ")
    assert steps == [([], [], "", {})]


def test_errors_become_a_message_in_the_chat(tmp_path: Path) -> None:
    broken = build_assistant(Settings(kb=tmp_path / "missing", data_dir=tmp_path / "d"),
                             embedder=MiniLMEmbedder(), today=TODAY)
    ctx = UiContext(broken, OutputFolder(tmp_path / "o"), [])
    chat, _, box, ids = ask(ctx, "How is it priced?")[-1]
    assert chat[-1]["content"].startswith("⚠️ ")
    assert "Traceback" not in chat[-1]["content"]
    assert box == "How is it priced?" and ids == {}  # the rep can retry


def test_thumbs_are_stored_with_comment_and_user(ctx: UiContext) -> None:
    chat, _, _, ids = ask(ctx, "Do you integrate with SAP?")[-1]
    handlers = AskHandlers(ctx)
    assert handlers.feedback(ids, "  we get asked this weekly ", like(2, False), request()) == ""
    audit = ctx.assistant.audit
    assert audit is not None
    row = audit.feedback()[-1]
    assert (row["rating"], row["comment"], row["user"]) == ("down", "we get asked this weekly",
                                                            "dana")
    assert row["output_id"] == ids[2]
    assert any(e["kind"] == "thumbs_down" and e["output_id"] == ids[2]
               for e in audit.gap_events())
    handlers.feedback(ids, "", like(2, True), request())
    assert audit.feedback()[-1]["rating"] == "up"


def test_each_result_carries_its_own_output_id(assistant: Assistant) -> None:
    """Reps are answered on several threads; each must get its own answer's audit id."""
    questions = ["How is Nordlicht Fleet priced?", "Do you support single sign-on?",
                 "Do you integrate with SAP?", "Is there a live fleet map?"]
    seen: dict[str, int | None] = {}

    def work(question: str) -> None:
        seen[question] = assistant.ask(question).output_id

    threads = [threading.Thread(target=work, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert assistant.audit is not None
    by_id = {row["id"]: row["question"] for row in assistant.audit.outputs()}
    assert {q: by_id[i] for q, i in seen.items() if i is not None} == {q: q for q in questions}


def test_thumbs_on_an_unknown_message_or_an_unlike_store_nothing(ctx: UiContext) -> None:
    audit = ctx.assistant.audit
    assert audit is not None
    before = len(audit.feedback())
    handlers = AskHandlers(ctx)
    assert handlers.feedback({}, "keep me", like(5, True), request()) == "keep me"
    assert handlers.feedback({2: 1}, "keep me", like(2, "Other"), request()) == "keep me"
    assert len(audit.feedback()) == before


# -- draft ---------------------------------------------------------------------------------


def test_draft_is_editable_and_downloads_the_edited_text(ctx: UiContext) -> None:
    handlers = DraftHandlers(ctx)
    subject, body, checks, download = handlers.generate(
        "email", "ops-director", "", "Harbor Logistics", "Ana", "asked about uptime", "Sam",
        request())
    assert subject["visible"] is True and subject["value"]
    assert "Ana" in body and "Checked against approved claims" in checks
    path = Path(download["value"])
    assert path.is_relative_to(ctx.outputs.root)
    assert path.read_text(encoding="utf-8") == draft_text(subject["value"], body)
    edited = handlers.save_edits("My subject", "My body", "email", "Harbor Logistics", request())
    assert Path(edited["value"]).read_text(encoding="utf-8") == "Subject: My subject\n\nMy body\n"


def test_linkedin_draft_has_no_subject(ctx: UiContext) -> None:
    subject, body, _, download = DraftHandlers(ctx).generate(
        "linkedin", "ops-director", "", "", "", "", "", request())
    assert subject["visible"] is False and len(body) <= 300
    assert not Path(download["value"]).read_text(encoding="utf-8").startswith("Subject:")


def test_draft_needs_a_known_channel_and_a_persona(ctx: UiContext) -> None:
    with pytest.raises(UsageError, match="unknown channel"):
        channel_of("fax")
    _, _, checks, _ = DraftHandlers(ctx).generate("email", "", "", "", "", "", "", request())
    assert "kb-error" in checks and "choose the persona" in checks


# -- rfp -----------------------------------------------------------------------------------


def test_rfp_answers_an_upload_into_the_output_folder(ctx: UiContext, uploads: Path) -> None:
    upload = uploads / "abc123" / "Vendor Q's.csv"
    upload.parent.mkdir()
    upload.write_text(QUESTIONNAIRE, encoding="utf-8")
    summary, styled, download = RfpHandlers(ctx).answer(str(upload), "", request(),
                                                        progress=lambda *a, **k: None)
    assert "2 questions answered" in summary
    frame = styled.data
    assert list(frame["question"]) == ["How is Nordlicht Fleet priced?",
                                       "Do you integrate with SAP?"]
    assert frame["review"].iloc[1].startswith("yes") and "unknown" in frame["review"].iloc[1]
    assert "per robot per month" in frame["answer"].iloc[0]
    assert "background-color" in styled.to_html()
    out = Path(download["value"])
    assert out.is_relative_to(ctx.outputs.root) and out.name == "Vendor-Q-s-answered.csv"
    assert "per robot per month" in out.read_text(encoding="utf-8-sig")


def test_rfp_preview_reads_an_answer_column_filled_in_place(ctx: UiContext,
                                                            uploads: Path) -> None:
    upload = uploads / "rfp-sample.xlsx"  # its empty "Response" column takes the answers
    shutil.copy(REPO / "knowledge" / "samples" / "rfp-sample.xlsx", upload)
    summary, styled, download = RfpHandlers(ctx).answer(str(upload), "", request(),
                                                        progress=lambda *a, **k: None)
    assert "40 questions answered" in summary
    assert all(answer.strip() for answer in styled.data["answer"])
    assert Path(download["value"]).name == "rfp-sample-answered.xlsx"


@pytest.mark.parametrize("name", ["q.exe", "q.csv.sh", "q"])
def test_rfp_refuses_other_file_types(uploads: Path, name: str) -> None:
    path = uploads / name
    path.write_text("x", encoding="utf-8")
    with pytest.raises(InputFileError, match="use a"):
        checked_upload(str(path), suffixes=(".csv", ".xlsx"), max_bytes=100, blocked=[])


def test_paths_outside_the_upload_folder_are_refused(uploads: Path, ctx: UiContext) -> None:
    kb_file = ctx.assistant.settings.kb / "claims.yaml"
    for path in (kb_file, REPO / "knowledge" / "samples" / "security-questionnaire.csv"):
        with pytest.raises(InputFileError, match="not uploaded through the app"):
            checked_upload(str(path), suffixes=(".csv", ".yaml"), max_bytes=10**6,
                           blocked=ctx.blocked)
    with pytest.raises(InputFileError, match="choose a file"):
        checked_upload(None, suffixes=(".csv",), max_bytes=1, blocked=[])


def test_uploads_over_the_limit_are_refused(uploads: Path) -> None:
    big = uploads / "big.csv"
    big.write_bytes(b"x" * 2_000_000)
    with pytest.raises(InputFileError, match="larger than 1 MB"):
        checked_upload(str(big), suffixes=(".csv",), max_bytes=1_048_576, blocked=[])


def test_rfp_errors_are_messages(ctx: UiContext, uploads: Path) -> None:
    fake = uploads / "fake.xlsx"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    with pytest.warns(UserWarning, match="Couldn't answer the questionnaire"):
        summary, preview, download = RfpHandlers(ctx).answer(
            str(fake), "", request(), progress=lambda *a, **k: None)
    assert "kb-error" in summary and "PNG" in summary and "Traceback" not in summary
    assert preview.empty and download["interactive"] is False


def test_unexpected_failures_are_logged_not_shown(ctx: UiContext,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    def boom(description: str) -> None:
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr(ctx.assistant, "fit", boom)
    html = FitHandlers(ctx).assess("A logistics company")
    assert "Something went wrong on our side" in html and "secret internals" not in html
    assert "ZeroDivisionError" in caplog.text


@pytest.mark.parametrize("upload, expected", [
    ("a/b/RFP 2026.xlsx", "RFP-2026-answered.xlsx"),
    ("a/../../etc/passwd.csv", "passwd-answered.csv"),
    ("x/macro.xlsm", "macro-answered.xlsx"),
])
def test_output_names_are_safe(upload: str, expected: str) -> None:
    assert output_name(Path(upload)) == expected


# -- fit, knowledge, gaps, evals -----------------------------------------------------------


def test_fit_shows_verdict_and_reasons(ctx: UiContext) -> None:
    html = FitHandlers(ctx).assess("A 2,000-person logistics company in Germany with 300 robots")
    assert 'class="kb-chip fit"' in html and "Third-party logistics providers" in html
    assert examples(ctx.package)  # made from the package's own segments
    assert "describe the prospect first" in FitHandlers(ctx).assess("  ")


def test_knowledge_overview_lint_and_reindex(ctx: UiContext) -> None:
    handlers = KnowledgeHandlers(ctx)
    stats, board = handlers.overview()
    assert "approved claims" in stats and 'data-column="never"' in board
    assert "Zephyrquill" not in board
    assert ctx.package.kb_version in handlers.header(request())
    assert "signed in as dana" in handlers.header(request())
    assert "expired-claim" in handlers.lint()
    status, header, *_ = handlers.reindex(request(), progress=lambda *a, **k: None)
    assert "up to date" in status and ctx.package.kb_version in header
    claims = handlers.claims("stat", "", "", "")
    assert "uptime-stat" in claims and "per-robot-pricing" not in claims


def test_gaps_report_and_csv(ctx: UiContext) -> None:
    ask(ctx, "Do you integrate with SAP?")
    html, download = GapsHandlers(ctx).report(0, request())
    assert "SAP" in html
    csv_text = Path(download["value"]).read_text(encoding="utf-8")
    assert csv_text.startswith("section,rank,topic") and "SAP" in csv_text


def test_eval_verdict_and_sandboxed_report() -> None:
    run = SimpleNamespace(passed=False, seconds=1.5, cases=[1, 2],
                          failed_gates=[SimpleNamespace(name="citation_precision")],
                          regressions=[{"id": "ask-pricing", "kind": "ask",
                                        "failed_checks": ["cites <claim>"],
                                        "explanations": ["claim edited"]}])
    html = verdict_html(run)
    assert "fail" in html and "citation_precision" in html and "cites &lt;claim&gt;" in html
    frame = report_frame("<html><script>x</script><p class='a'>r</p></html>")
    assert 'sandbox=""' in frame and "<script>" not in frame


# -- the app and its launch options --------------------------------------------------------


def test_safe_launch_defaults(assistant: Assistant) -> None:
    options = launch_options(assistant.settings, host="127.0.0.1", port=7999)
    assert options["server_name"] == "127.0.0.1" and options["share"] is False
    assert options["show_error"] is False and options["max_file_size"] == "20mb"
    assert str(assistant.settings.kb.resolve()) in options["blocked_paths"]
    assert str(assistant.settings.data_dir.resolve()) in options["blocked_paths"]
    assert "auth" not in options


def test_auth_file_turns_sign_in_on(assistant: Assistant, tmp_path: Path) -> None:
    from kbassist.app.auth import hash_password

    users = tmp_path / "users.yaml"
    users.write_text(f'dana: "{hash_password("pw", iterations=1000)}"\n', encoding="utf-8")
    settings = assistant.settings.model_copy(update={"auth_file": users})
    options = launch_options(settings, host="0.0.0.0", port=7999)
    assert options["auth"]("dana", "pw") and not options["auth"]("dana", "nope")
    require_sign_in(settings, "0.0.0.0")


def test_app_exposes_only_the_stable_api(assistant: Assistant, tmp_path: Path) -> None:
    app = build_app(assistant, outputs=OutputFolder(tmp_path / "o"))
    named = {d.get("api_name") for d in app.config["dependencies"]
             if d.get("api_visibility") == "public"}
    assert named == {"ask", "draft", "fit", "feedback"}


def test_output_folder_is_per_session_and_removable(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "o")
    first = folder.fresh(request())
    assert first.parent == folder.session(request()) and first != folder.fresh(request())
    assert folder.session(gr.Request(session_hash="../../x")).is_relative_to(folder.root)
    folder.remove()
    assert not folder.root.exists()
    shutil.rmtree(tmp_path, ignore_errors=True)
