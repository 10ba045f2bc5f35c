"""Shared test setup: offline environment and a guard that fails any non-loopback connection."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

from openai_stub import openai_stub  # noqa: F401  (shared fixture)

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

_real_connect = socket.socket.connect
_real_create_connection = socket.create_connection


def _is_loopback(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX sockets are local by definition
        return True
    if not (isinstance(address, tuple) and address):
        return False
    host = str(address[0])
    if host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise RuntimeError(f"tests may only connect to loopback, not {address!r}")
    _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a developer's KBASSIST_* or OpenAI settings leak into a test."""
    for name in list(os.environ):
        if name.startswith("KBASSIST_") or name.startswith("OPENAI_"):
            monkeypatch.delenv(name, raising=False)
