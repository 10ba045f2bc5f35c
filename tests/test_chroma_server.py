"""Scale-out: kbassist against a real Chroma server (`chroma run` on loopback).

KBASSIST_CHROMA_URL / --chroma-url switches the embedded store for a server with no other
change: index, ask and rfp work through the CLI, a server that is down gives one clear line,
and a running Assistant recovers by itself when the server comes back on the same port.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kbassist.app.settings import Settings
from kbassist.app.wiring import build_assistant
from kbassist.cli import main
from kbassist.core.errors import IndexError_
from kbfactory import make_package

QUESTIONNAIRE = Path(__file__).resolve().parent.parent / "knowledge" / "samples" / (
    "security-questionnaire.csv")


class ChromaServer:
    """`chroma run --path PATH --host 127.0.0.1 --port PORT`, restartable on the same port."""

    def __init__(self, path: Path) -> None:
        self.cli = Path(sys.executable).with_name("chroma")
        self.path = path
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self.process = subprocess.Popen(
            [str(self.cli), "run", "--path", str(self.path), "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chroma server on port {self.port} did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    chroma = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "store")
    if not chroma.cli.exists():
        pytest.skip("the chroma CLI is not installed")
    chroma.start()
    try:
        yield chroma
    finally:
        chroma.stop()


@pytest.fixture(scope="module")
def served(server: ChromaServer, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[Path, Path]:
    """A small package indexed into the server through the CLI."""
    root = tmp_path_factory.mktemp("served")
    kb = make_package(root / "kb")
    data = root / "data"
    assert main(["index", "--kb", str(kb), "--data-dir", str(data),
                 "--chroma-url", server.url]) == 0
    return kb, data


@pytest.fixture()
def running(server: ChromaServer) -> Iterator[ChromaServer]:
    """The server, running again at the end even if a test stopped it."""
    yield server
    if server.process is None:
        server.start()


def test_index_ask_and_rfp_through_the_cli(served: tuple[Path, Path], server: ChromaServer,
                                           tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    kb, data = served
    assert not (data / "index" / "chroma").exists()  # every vector lives in the server
    monkeypatch.setenv("KBASSIST_CHROMA_URL", server.url)  # the env var works as the flag
    capsys.readouterr()
    assert main(["ask", "How is it priced?", "--json", "--kb", str(kb),
                 "--data-dir", str(data)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["citations"] and answer["checks"]["status"] in ("pass", "revised")

    output = tmp_path / "answered.csv"
    assert main(["rfp", str(QUESTIONNAIRE), "-o", str(output), "--no-progress",
                 "--kb", str(kb), "--data-dir", str(data)]) == 0
    with output.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 5 and all(row["Answer"] for row in rows)


def test_a_server_that_is_down_gives_one_clear_line(served: tuple[Path, Path],
                                                    running: ChromaServer,
                                                    capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    kb, data = served
    running.stop()
    for command in (["ask", "How is it priced?"], ["index"]):
        capsys.readouterr()
        code = main([*command, "--kb", str(kb), "--data-dir", str(data),
                     "--chroma-url", running.url])
        err = capsys.readouterr().err.strip()
        assert code == 2, err
        assert err.count("\n") == 0 and "Traceback" not in err, err
        assert err.startswith("kbassist: error: cannot ") and running.url in err, err


def test_the_assistant_recovers_when_the_server_comes_back(served: tuple[Path, Path],
                                                           running: ChromaServer) -> None:
    kb, data = served
    assistant = build_assistant(Settings(kb=kb, data_dir=data, chroma_url=running.url,
                                         audit=False))
    assert assistant.ask("How is it priced?").citations
    running.stop()
    with pytest.raises(IndexError_) as down:
        assistant.ask("How is it priced?")
    assert "\n" not in str(down.value) and "vector store is unavailable" in str(down.value)
    running.start()  # same port, same path: a restart
    assert assistant.ask("How is it priced?").citations
