"""Security defaults: loopback bind, sign-in off loopback, upload limit, blocked paths, a
closed queue API, no secret in errors, reprs or the audit, and a lock file for pip-audit."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.adapters.llm.openai_backend import OpenAIBackend
from kbassist.app.settings import Settings
from kbassist.app.wiring import build_assistant
from kbassist.cli import build_parser
from kbassist.core.errors import BackendError, UsageError
from kbassist.ui.app import launch, launch_options, require_sign_in
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


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "[::]", "my-host.local", "eth0"])
def test_serving_off_loopback_needs_a_users_file(tmp_path: Path, host: str) -> None:
    settings = Settings(kb=tmp_path / "kb", data_dir=tmp_path / "data")
    with pytest.raises(UsageError, match="KBASSIST_AUTH_FILE"):
        require_sign_in(settings, host)
    with pytest.raises(UsageError, match="without sign-in"):  # before anything is built
        launch(settings, host=host, port=7999, block=False)
    guarded = settings.model_copy(update={"auth_file": tmp_path / "users.yaml"})
    require_sign_in(guarded, host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_serves_without_sign_in(tmp_path: Path, host: str) -> None:
    require_sign_in(Settings(kb=tmp_path / "kb", data_dir=tmp_path / "data"), host)


def test_the_cli_refuses_off_loopback_without_sign_in(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from kbassist.cli import main

    monkeypatch.delenv("KBASSIST_AUTH_FILE", raising=False)
    code = main(["ui", "--kb", str(make_package(tmp_path / "kb")), "--data-dir",
                 str(tmp_path / "data"), "--host", "0.0.0.0", "--port", "7998"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "without sign-in" in err


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


def test_no_secret_in_logs_even_at_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str],
                                         caplog: pytest.LogCaptureFixture) -> None:
    """Every logger (ours, openai's, httpx's) at DEBUG through index, a failing and a working
    LLM call, and the audit export: the key shows up in no record, no output and no file."""
    import logging

    from kbassist.cli import main

    kb, data = make_package(tmp_path / "kb"), tmp_path / "data"
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("KBASSIST_LLM", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with OpenAIStub([Reply.server_error(), Reply.unauthorized()],
                    default="Nordlicht Fleet is priced per robot.") as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
        monkeypatch.setenv("KBASSIST_MODEL", stub.model)
        monkeypatch.setenv("KBASSIST_LLM_RETRIES", "0")
        common = ["--kb", str(kb), "--data-dir", str(data)]
        assert main(["index", *common]) == 0
        for _ in range(3):  # 500, then 401 (both fall back to the offline answer), then a reply
            assert main(["ask", *common, "--json", "How is Nordlicht Fleet priced?"]) == 0
        assert main(["audit", *common, "--json"]) == 0
        assert any(SECRET in r.headers.get("authorization", "") for r in stub.requests)
    out, err = capsys.readouterr()
    assert caplog.records and any(r.name.startswith(("openai", "httpx")) for r in caplog.records)
    assert SECRET not in caplog.text and SECRET not in out and SECRET not in err
    for path in data.rglob("*"):
        assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path
