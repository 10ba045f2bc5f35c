"""Security defaults: loopback bind, sign-in off loopback, upload limit, blocked paths, a
closed queue API, no secret in errors, reprs or the audit, and a lock file for pip-audit."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kbassist.assistant import build_assistant
from kbassist.cli import build_parser
from kbassist.embeddings import MiniLMEmbedder
from kbassist.errors import BackendError
from kbassist.llm.openai_backend import OpenAIBackend
from kbassist.settings import Settings
from kbassist.ui.app import host_warning, launch_options
from kbfactory import make_package
from openai_stub import OpenAIStub, Reply

ROOT = Path(__file__).resolve().parents[1]
SECRET = "sk-test-DO-NOT-PRINT-0123456789abcdef"


def test_the_app_binds_loopback_by_default() -> None:
    args = build_parser().parse_args(["ui"])
    assert args.host == "127.0.0.1"


def test_launch_options_are_locked_down(tmp_path: Path) -> None:
    settings = Settings(kb=tmp_path / "kb", data_dir=tmp_path / "data")
    options = launch_options(settings, host="127.0.0.1", port=7860)
    assert options["share"] is False and options["show_error"] is False
    assert options["max_file_size"]
    blocked = options["blocked_paths"]
    assert str((tmp_path / "kb").resolve()) in blocked
    assert str((tmp_path / "data").resolve()) in blocked
    assert options["mcp_server"] is False and options["enable_monitoring"] is False


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::"])
def test_serving_off_loopback_without_a_users_file_warns(tmp_path: Path, host: str) -> None:
    settings = Settings(kb=tmp_path / "kb", data_dir=tmp_path / "data")
    assert "KBASSIST_AUTH_FILE" in (host_warning(settings, host) or "")
    assert host_warning(settings, "127.0.0.1") is None
    guarded = settings.model_copy(update={"auth_file": tmp_path / "users.yaml"})
    assert host_warning(guarded, host) is None


def test_the_queue_api_is_closed_and_only_stable_endpoints_are_named(tmp_path: Path) -> None:
    from kbassist.ui.app import build_app

    settings = Settings(kb=make_package(tmp_path / "kb"), data_dir=tmp_path / "data")
    assistant = build_assistant(settings, embedder=MiniLMEmbedder(), today=date(2026, 11, 22))
    app = build_app(assistant)
    assert app.config is not None
    named = {d.api_name for d in app.fns.values()
             if d.api_name and getattr(d, "api_visibility", "public") == "public"}
    assert {"ask", "draft", "fit"} <= named
    assert app.api_open is False  # no direct /queue/join bypassing the named endpoints


def test_the_api_key_never_appears_in_errors_reprs_settings_or_the_audit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    settings = Settings(kb=make_package(tmp_path / "kb"), data_dir=tmp_path / "data",
                        llm="openai")
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    with OpenAIStub(default=Reply.unauthorized(), api_key="another") as stub:
        backend = OpenAIBackend(stub.url, SECRET, stub.model, timeout=2, max_retries=0)
        assert SECRET not in repr(backend)
        with pytest.raises(BackendError) as caught:
            backend.complete([{"role": "user", "content": "hi"}])
        assert SECRET not in str(caught.value)
        assistant = build_assistant(settings, embedder=MiniLMEmbedder(), backend=backend,
                                    today=date(2026, 11, 22))
        result = assistant.ask("How is Nordlicht Fleet priced?")
    assert SECRET not in str(result.to_json())
    audit_file = tmp_path / "data" / "audit.sqlite3"
    assert SECRET.encode() not in audit_file.read_bytes()


def test_the_lock_file_pins_every_dependency_for_pip_audit() -> None:
    lines = [line for line in (ROOT / "requirements.lock").read_text().splitlines()
             if line and not line.startswith("#")]
    assert lines and all("==" in line for line in lines), "pin every package (pip freeze)"
    names = {line.split("==")[0].lower() for line in lines}
    assert {"gradio", "openai", "chromadb", "pydantic"} <= names
    assert not any(line.startswith("-e") for line in lines)
