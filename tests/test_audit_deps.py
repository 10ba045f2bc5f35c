"""scripts/audit_deps.py against a loopback registry serving PyPI-shaped JSON: the audit fails on
an advisory nobody acknowledged or whose acknowledgement lapsed, never passes an unaudited pin
silently, and says in one line when the registry can't be reached."""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("audit_deps", ROOT / "scripts" / "audit_deps.py")
assert _spec and _spec.loader
audit_deps = importlib.util.module_from_spec(_spec)
sys.modules["audit_deps"] = audit_deps  # dataclasses look their module up
_spec.loader.exec_module(audit_deps)

RCE = {"id": "GHSA-aaaa", "aliases": ["CVE-2026-0001"], "fixed_in": ["2.0"],
       "summary": "Remote code execution in the widget parser."}
RCE_PYSEC = {"id": "PYSEC-2026-9", "aliases": ["CVE-2026-0001", "GHSA-aaaa"], "fixed_in": ["2.0"]}


class Registry:
    """``/pypi/NAME/VERSION/json`` and ``/pypi/NAME/json`` from a dict; anything else 404."""

    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = documents.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(json.dumps(body or {"message": "Not Found"}).encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/pypi"

    def __enter__(self) -> Registry:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def project(latest: str, vulns: list[dict[str, Any]]) -> dict[str, Any]:
    return {"info": {"version": latest}, "vulnerabilities": vulns}


@pytest.fixture
def registry() -> Iterator[Registry]:
    documents = {
        # a registry serving per-release documents (pypi.org)
        "/pypi/widget/1.0/json": project("2.0", [RCE, RCE_PYSEC]),
        "/pypi/clean/3.1/json": project("3.1", []),
        # one serving project documents only (the CI mirror): advisories of the latest release
        "/pypi/latest-only/5.0/json": None,
        "/pypi/latest-only/json": project("5.0", [{"id": "GHSA-bbbb", "aliases": [],
                                                   "summary": "Pickle from cache."}]),
        "/pypi/older-pin/json": project("9.0", []),
        "/pypi/withdrawn/1.0/json": project("1.0", [{"id": "GHSA-cccc", "withdrawn": "2026"}]),
    }
    with Registry({k: v for k, v in documents.items() if v is not None}) as served:
        yield served


def run(tmp: Path, registry: str, pins: list[str], known: list[dict[str, str]] | None = None,
        today: str = "2026-11-22") -> int:
    lock = tmp / "requirements.lock"
    lock.write_text("\n".join(pins) + "\n")
    known_file = tmp / "known.json"
    known_file.write_text(json.dumps({"advisories": known or []}))
    return int(audit_deps.main(["--lock", str(lock), "--known", str(known_file),
                                "--registry", registry, "--today", today]))


def test_an_unacknowledged_advisory_fails_once_per_advisory(
        tmp_path: Path, registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, registry.url, ["widget==1.0", "clean==3.1"]) == 1
    out = capsys.readouterr().out
    vulnerable = [line for line in out.splitlines() if line.startswith("VULNERABLE")]
    assert len(vulnerable) == 1  # GHSA and PYSEC records of one CVE are one finding
    assert "widget==1.0" in vulnerable[0] and "CVE-2026-0001" in vulnerable[0]
    assert "fixed in 2.0" in vulnerable[0]
    assert "2 pins: 2 audited, 0 unaudited, 0 acknowledged advisories, 1 problems" in out


def test_an_acknowledged_advisory_passes_until_its_review_date(
        tmp_path: Path, registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    known = [{"id": "CVE-2026-0001", "package": "widget", "reason": "parser unused",
              "review_by": "2027-01-01"}]
    assert run(tmp_path, registry.url, ["widget==1.0"], known) == 0
    assert "known: widget==1.0" in capsys.readouterr().out
    assert run(tmp_path, registry.url, ["widget==1.0"], known, today="2027-01-02") == 1
    assert "acknowledged until 2027-01-01; review it" in capsys.readouterr().out
    other_package = [dict(known[0], package="gadget")]
    assert run(tmp_path, registry.url, ["widget==1.0"], other_package) == 1


def test_a_latest_only_registry_audits_latest_pins_and_lists_the_rest(
        tmp_path: Path, registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, registry.url, ["latest-only==5.0", "older-pin==8.0"]) == 1
    out = capsys.readouterr().out
    assert "VULNERABLE: latest-only==5.0: GHSA-bbbb" in out
    assert "unaudited: older-pin==8.0 (the registry has advisories only for the latest " \
           "release, 9.0)" in out
    assert run(tmp_path, registry.url, ["older-pin==8.0", "missing==1.0"]) == 0
    out = capsys.readouterr().out
    assert "unaudited: missing==1.0 (not on the registry)" in out
    assert "2 pins: 0 audited, 2 unaudited" in out


def test_withdrawn_advisories_are_ignored(tmp_path: Path, registry: Registry) -> None:
    assert run(tmp_path, registry.url, ["withdrawn==1.0"]) == 0


def test_an_unreachable_registry_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket closes
    assert run(tmp_path, f"http://127.0.0.1:{port}/pypi", ["widget==1.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "registry unreachable" in err


@pytest.mark.parametrize("lock", ["widget>=1.0", "==1.0", "# only a comment"])
def test_a_bad_lock_file_is_one_line_and_exit_2(tmp_path: Path, registry: Registry, lock: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, registry.url, [lock]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_the_committed_acknowledgements_are_well_formed_and_current() -> None:
    known = audit_deps.read_known(ROOT / "security" / "known-advisories.json")
    pins = {name.lower() for name, _ in audit_deps.read_lock(ROOT / "requirements.lock")}
    assert known
    for entry in known.values():
        assert entry["package"].lower() in pins, entry["id"]
        assert len(entry["reason"]) > 40, entry["id"]
