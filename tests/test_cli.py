"""The command-line contract: commands, flags, JSON shapes, exit codes (0 / 1 / 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kbassist.cli import main
from kbfactory import make_package

BIN = Path(sys.executable).with_name("kbassist")


@pytest.fixture(scope="module")
def kb_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    return make_package(root / "kb"), root / "data"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def flags(kb_env: tuple[Path, Path]) -> list[str]:
    return ["--kb", str(kb_env[0]), "--data-dir", str(kb_env[1])]


def test_index_then_incremental(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    kb, data = make_package(tmp_path / "kb"), tmp_path / "data"
    code, out, _ = run(capsys, "index", "--kb", str(kb), "--data-dir", str(data))
    assert code == 0 and "indexed" in out and "kb_version" in out
    code, out, _ = run(capsys, "index", "--kb", str(kb), "--data-dir", str(data))
    assert code == 0 and "up to date" in out
    (kb / "messaging" / "positioning.md").write_text("# Positioning\n\nRobots stay busy.\n")
    code, out, _ = run(capsys, "index", "--kb", str(kb), "--data-dir", str(data))
    assert code == 0 and "(1 re-embedded, 0 removed" in out


def test_ask_json_shape(capsys: pytest.CaptureFixture[str], kb_env: tuple[Path, Path]) -> None:
    code, out, _ = run(capsys, "ask", *flags(kb_env), "How is it priced?", "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload.keys() >= {"answer", "citations", "roadmap", "checks", "backend", "kb_version"}
    assert payload["checks"]["status"] in {"pass", "revised", "blocked"}
    assert payload["backend"] == "offline"
    citation = payload["citations"][0]
    assert citation.keys() >= {"source", "id", "kind", "text"}
    assert citation["kind"] in {"claim", "roadmap", "icp", "messaging", "reference"}


def test_draft_fit_json_shapes(capsys: pytest.CaptureFixture[str],
                               kb_env: tuple[Path, Path]) -> None:
    code, out, _ = run(capsys, "draft", "email", *flags(kb_env), "--persona", "ops-director",
                       "--json")
    assert code == 0
    assert json.loads(out).keys() >= {"subject", "body", "citations", "checks", "backend",
                                      "kb_version"}
    code, out, _ = run(capsys, "fit", *flags(kb_env), "A 3PL in Germany with 900 staff",
                       "--json")
    assert code == 0
    assert json.loads(out).keys() >= {"verdict", "segment", "reasons", "disqualifiers",
                                      "citations"}


def test_env_sets_paths_and_flags_win(capsys: pytest.CaptureFixture[str],
                                      kb_env: tuple[Path, Path],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBASSIST_KB", str(kb_env[0]))
    monkeypatch.setenv("KBASSIST_DATA_DIR", str(kb_env[1]))
    code, out, _ = run(capsys, "ask", "How is it priced?", "--json")
    assert code == 0 and json.loads(out)["answer"]
    monkeypatch.setenv("KBASSIST_KB", "/nonexistent/kb")
    code, _, _ = run(capsys, "lint", "--kb", str(kb_env[0]))
    assert code == 0


@pytest.mark.parametrize("argv", [
    ["ask"],
    ["draft", "fax", "--persona", "x"],
    ["draft", "email"],
    ["nonsense-command"],
    ["ask", "--persona"],
])
def test_usage_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str],
                                           argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kbassist")


def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str], kb_env: tuple[Path, Path]) -> None:
    code, _, err = run(capsys, "draft", "email", *flags(kb_env), "--persona", "nobody")
    assert code == 2 and "unknown persona 'nobody'" in err and "Traceback" not in err
    code, _, err = run(capsys, "ask", *flags(kb_env), "   ")
    assert code == 2 and "empty" in err


def test_broken_package_exits_2_with_path_line_and_keeps_index(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    kb, data = make_package(tmp_path / "kb"), tmp_path / "data"
    assert run(capsys, "index", "--kb", str(kb), "--data-dir", str(data))[0] == 0
    (kb / "roadmap.yaml").write_text("items:\n  - id: r\n    title: R\n    status: soon\n")
    code, _, err = run(capsys, "index", "--kb", str(kb), "--data-dir", str(data))
    assert code == 2
    assert f"{(kb / 'roadmap.yaml').as_posix()}:4:" in err
    assert "previous index stays in service" in err
    code, out, _ = run(capsys, "ask", "--kb", str(kb), "--data-dir", str(data),
                       "How is it priced?")
    assert code == 0 and "priced per robot" in out


def test_lint_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    kb = make_package(tmp_path / "kb")
    code, out, _ = run(capsys, "lint", "--kb", str(kb), "--json")
    payload = json.loads(out)
    assert code == 0 and payload["errors"] == []
    assert any(w["rule"] == "expired-claim" for w in payload["warnings"])
    (kb / "claims.yaml").write_text("claims:\n  - id: a\n    kind: value\n")
    code, out, _ = run(capsys, "lint", "--kb", str(kb), "--json")
    errors = json.loads(out)["errors"]
    assert code == 1 and errors[0].keys() >= {"path", "line", "rule", "message"}


def test_no_traceback_from_the_real_executable(tmp_path: Path) -> None:
    env = {**os.environ, "KBASSIST_KB": str(tmp_path / "missing")}
    done = subprocess.run([str(BIN), "ask", "hello", "--data-dir", str(tmp_path / "d")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("kbassist: error:")


def test_hash_password_without_input_is_a_clean_error(tmp_path: Path) -> None:
    done = subprocess.run([str(BIN), "hash-password"], input="only-once\n", capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
