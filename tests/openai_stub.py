"""A loopback OpenAI-compatible server for tests: scripted answers and scripted faults.

    with OpenAIStub(["First answer.", Reply.server_error(), "Second answer."]) as stub:
        backend = OpenAIBackend(stub.url, None, stub.model)
        ...
        assert "internal" not in stub.chat_requests[0].prompt_text

Serves ``GET /v1/models`` and ``POST /v1/chat/completions`` (JSON, or SSE when the request
says ``stream: true``). Each chat request takes the next scripted reply; when the script
runs out, ``handler(request_json)`` answers if given, otherwise ``default``. A request for a
model the stub doesn't list gets OpenAI's 404 ``model_not_found``; with ``api_key`` set, a
request with another key gets OpenAI's 401. Every request is recorded.

Streams use HTTP/1.1 chunked encoding, so ``Reply.cut(...)`` (close the socket after N
chunks) looks to the client exactly like a server dying mid-answer.

Use it from a test module with ``from openai_stub import OpenAIStub, Reply`` (pytest puts
``tests/`` on ``sys.path``); ``openai_stub`` below is a ready-made fixture to import.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

DEFAULT_MODEL = "stub-model"


@dataclass
class Reply:
    """One scripted answer to a chat request: text, or a fault."""

    text: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None  # OpenAI error object for non-200 replies
    delay: float = 0.0  # seconds to wait before answering (a slow server)
    chunk_delay: float = 0.0  # seconds between stream chunks (a slow stream)
    cut_after: int | None = None  # stream: close the connection after this many text chunks
    finish_reason: str = "stop"
    raw: str | None = None  # send this body as is (not OpenAI JSON), e.g. a proxy's HTML page
    content_type: str = "text/html"

    @classmethod
    def server_error(cls, status: int = 500, message: str = "The server had an error") -> Reply:
        return cls(status=status, error={"message": message, "type": "server_error"})

    @classmethod
    def rate_limited(cls, retry_after: float | str | None = 1, code: str | None = None) -> Reply:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        error = {"message": "Rate limit reached", "type": "requests", "code": code}
        return cls(status=429, headers=headers, error=error)

    @classmethod
    def unauthorized(cls) -> Reply:
        return cls(
            status=401,
            error={
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            },
        )

    @classmethod
    def model_not_found(cls, model: str = "unknown") -> Reply:
        return cls(
            status=404,
            error={
                "message": f"The model `{model}` does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "code": "model_not_found",
            },
        )

    @classmethod
    def slow(cls, seconds: float, text: str = "Too late.") -> Reply:
        return cls(text=text, delay=seconds)

    @classmethod
    def not_openai(cls, body: str = "<html><body>Welcome to nginx</body></html>") -> Reply:
        """A 200 that isn't the API: what a wrong OPENAI_BASE_URL often answers."""
        return cls(raw=body)

    @classmethod
    def cut(cls, text: str, after_chunks: int = 2) -> Reply:
        return cls(text=text, cut_after=after_chunks)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def prompt_text(self) -> str:
        """Every message's content joined: what the model was shown."""
        return "\n".join(str(m.get("content", "")) for m in self.messages)


Handler = Callable[[dict[str, Any]], "str | Reply"]


def split_for_stream(text: str) -> list[str]:
    """Word-sized pieces (each keeps its trailing space), like a real token stream."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


class OpenAIStub:
    def __init__(
        self,
        replies: Iterable[str | Reply] = (),
        *,
        handler: Handler | None = None,
        default: str | Reply | None = "This is the stub's answer.",
        models: Iterable[str] = (DEFAULT_MODEL,),
        api_key: str | None = None,
    ) -> None:
        self.replies: deque[str | Reply] = deque(replies)
        self.handler = handler
        self.default = default
        self.models = list(models)
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> OpenAIStub:
        stub = self

        class _Handler(_StubHandler):
            owner = stub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ for tests

    @property
    def port(self) -> int:
        assert self._server is not None, "the stub is not running"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL to give a client, ending in /v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model(self) -> str:
        return self.models[0]

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def queue(self, *replies: str | Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    # ------------------------------------------------------------------ internals

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            scripted = self.replies.popleft() if self.replies else None
        if scripted is None and self.handler is not None:
            scripted = self.handler(body)
        if scripted is None:
            scripted = self.default
        if scripted is None:
            return Reply.server_error(message="openai_stub: no scripted reply left")
        return Reply(text=scripted) if isinstance(scripted, str) else scripted

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


class _StubHandler(BaseHTTPRequestHandler):
    owner: OpenAIStub
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked streams a cut can break

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._record({})
        if self.path.rstrip("/").endswith("/models"):
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "openai-stub"}
                for m in self.owner.models
            ]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_error(404, {"message": f"no route {self.path}", "type": "not_found"})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        self._record(body)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_error(404, {"message": f"no route {self.path}", "type": "not_found"})
            return
        reply = self._reply_for(body)
        try:
            self.owner._wait(reply.delay)
            if reply.raw is not None:
                self._send_raw(reply)
            elif reply.status != 200:
                self._send_error(reply.status, reply.error or {}, reply.headers)
            elif body.get("stream"):
                self._send_stream(body, reply)
            else:
                self._send_json(200, _completion(body, reply), reply.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. timed out): fine

    # ------------------------------------------------------------------ helpers

    def _record(self, body: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.owner._record(RecordedRequest(self.command, self.path, headers, body))

    def _reply_for(self, body: dict[str, Any]) -> Reply:
        owner = self.owner
        if owner.api_key is not None:
            auth = self.headers.get("Authorization", "")
            if auth != f"Bearer {owner.api_key}":
                return Reply.unauthorized()
        model = body.get("model")
        if model not in owner.models:
            return Reply.model_not_found(str(model))
        return owner._next_reply(body)

    def _send_json(
        self, status: int, payload: object, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_raw(self, reply: Reply) -> None:
        data = (reply.raw or "").encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error(
        self, status: int, error: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        full = {"message": "error", "type": "error", "param": None, "code": None, **error}
        self._send_json(status, {"error": full}, headers)

    def _send_stream(self, body: dict[str, Any], reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        for index, event in enumerate(_stream_events(body, reply)):
            if reply.cut_after is not None and index > reply.cut_after:
                self._cut()
                return
            if index:
                self.owner._wait(reply.chunk_delay)
            self._write_chunk(f"data: {event}\n\n".encode())
        self._write_chunk(b"")  # the terminating zero-length chunk

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        """Die mid-answer: no closing chunk, no [DONE], just a closed socket."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    prompt_words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    answer_words = len(reply.text.split())
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", DEFAULT_MODEL),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_words,
            "completion_tokens": answer_words,
            "total_tokens": prompt_words + answer_words,
        },
    }


def _stream_events(body: dict[str, Any], reply: Reply) -> Iterator[str]:
    """SSE payloads: the role, one event per text piece, the finish, then [DONE].

    Event 0 carries the role, so ``cut_after=N`` sends exactly N text pieces before the cut.
    """

    def chunk(delta: dict[str, str], finish: str | None = None) -> str:
        return json.dumps(
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model", DEFAULT_MODEL),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    for piece in split_for_stream(reply.text):
        yield chunk({"content": piece})
    yield chunk({}, reply.finish_reason)
    yield "[DONE]"


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    """A running stub with no script: every chat request gets the default answer."""
    with OpenAIStub() as stub:
        yield stub
