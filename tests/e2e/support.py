"""Shared by the browser and API tests: the real app in-process on a free loopback port, and
where test artifacts (screenshots, timings) go."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kbassist.app.assistant import Assistant
from kbassist.ui.app import launch

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(assistant: Assistant) -> Iterator[str]:
    """Yield the app's URL; the server stops afterwards."""
    app = launch(assistant.settings, host="127.0.0.1", port=free_port(), assistant=assistant,
                 block=False)
    try:
        yield str(app.local_url).rstrip("/") + "/"
    finally:
        app.close()


def shoot(page: Any, name: str) -> Path:
    """A full-page screenshot, kept as a test artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
