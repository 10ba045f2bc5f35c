"""Browser tests: the real app over a real index of the sample package, in headless Chromium.

Playwright drives Debian's ``chromium`` (``/usr/bin/chromium``); it never downloads a browser.
Screenshots go to ``test-artifacts/screenshots`` and the measured time to first token to
``test-artifacts/ttft.json``. Locally the tests skip when Playwright or Chromium is missing;
in CI (``CI`` set) that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.support import REPO, serve
from kbassist.app.assistant import Assistant
from kbassist.app.settings import Settings
from kbassist.app.wiring import build_assistant

CHROMIUM = Path(os.environ.get("KBASSIST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The sample package, copied so a test can't touch the real one, freshly indexed."""
    root = tmp_path_factory.mktemp("e2e")
    kb = root / "knowledge"
    shutil.copytree(REPO / "knowledge", kb)
    assistant = build_assistant(Settings(kb=kb, data_dir=root / "data"), channel="ui")
    assistant.reindex()
    return assistant


@pytest.fixture(scope="session")
def app_url(assistant: Assistant) -> Iterator[str]:
    with serve(assistant) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    if not CHROMIUM.is_file():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, app_url: str) -> Iterator[Any]:
    """A fresh tab on the app; fails the test if the page reaches for anything off loopback."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url.rstrip("/"))
    page = context.new_page()
    page.set_default_timeout(30_000)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith((app_url.rstrip("/"), "data:", "blob:")) else None)
    page.goto(app_url)
    page.wait_for_selector("#ask-input textarea")
    yield page
    context.close()
    assert outside == [], f"the app requested non-local resources: {outside}"
