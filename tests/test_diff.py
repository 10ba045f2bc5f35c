"""`kbassist diff`: the change digest for reps, from folders and from git refs."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from kbassist.adapters.package.loader import load_package
from kbassist.cli import main
from kbassist.core.diff import diff_packages
from kbfactory import CLAIMS_YAML, ICP_YAML, MESSAGING_MD, ROADMAP_YAML, make_package

TODAY = date(2026, 11, 22)
BEFORE = date(2026, 10, 1)

NEW_ROADMAP = ROADMAP_YAML.replace(
    "    status: next\n    window: \"2031 Q3\"\n"
    "    say: \"Battery health forecasting is in development; it isn't available today.\"",
    "    status: later\n"
    "    say: \"We're exploring battery health forecasting; it isn't available today.\"",
).replace(
    "  - id: drone-inventory\n    title: Drone inventory scanning\n    status: later\n",
    "  - id: drone-inventory\n    title: Drone inventory scanning\n    status: next\n"
    "    window: \"2032 Q1\"\n")

NEW_CLAIMS = (
    CLAIMS_YAML
    .replace("with no upfront licence fee.", "with no upfront licence fee or setup charge.")
    .replace("    kind: stat\n    expires: 2030-01-01", "    kind: stat\n    expires: 2026-11-01")
    .replace("    personas: [ops-director]\n", "")
    .replace("    segments: [third-party-logistics]\n",
             "    segments: [third-party-logistics]\n    expires: 2026-12-01\n")
    .replace("  - id: sso-support\n    text: \"Nordlicht Fleet supports single sign-on with SAML "
             "and enforces MFA for admins.\"\n    kind: security\n", "")
    + "  - id: battery-swap\n    text: \"Robots swap batteries without stopping the shift.\"\n"
      "    kind: value\n"
)

NEW_ICP = ICP_YAML + (
    "      - objection: \"We already have a fleet tool.\"\n"
    "        answer_claims: [battery-swap]\n")


@pytest.fixture
def versions(tmp_path: Path) -> tuple[Path, Path]:
    old = make_package(tmp_path / "old")
    new = make_package(tmp_path / "new", {
        "roadmap.yaml": NEW_ROADMAP, "claims.yaml": NEW_CLAIMS, "icp.yaml": NEW_ICP,
        "messaging/positioning.md": MESSAGING_MD + "\nNordlicht Fleet runs in the cloud.\n"})
    assert "status: later" in (new / "roadmap.yaml").read_text()
    return old, new


def test_the_digest(versions: tuple[Path, Path]) -> None:
    old, new = (load_package(p) for p in versions)
    diff = diff_packages(old, new, old_label="v1", new_label="v2", old_as_of=BEFORE,
                         today=TODAY)
    moves = {m["id"]: m for m in diff.roadmap_moves}
    assert moves["battery-forecast"]["advice"] == (
        "Battery health forecasting moved from next to later: stop mentioning 2031 Q3; it is "
        "no longer committed. Say: \"We're exploring battery health forecasting; it isn't "
        "available today.\"")
    assert moves["drone-inventory"]["advice"].startswith(
        "Drone inventory scanning moved from later to next (planned window 2032 Q1): it is "
        "committed now")
    assert [c["id"] for c in diff.claims_added] == ["battery-swap"]
    assert [c["id"] for c in diff.claims_removed] == ["sso-support"]
    assert [c["id"] for c in diff.claims_reworded] == ["per-robot-pricing"]
    rescoped = {c["id"]: c["changes"] for c in diff.claims_rescoped}
    assert rescoped["picking-speed"] == {"personas": {"old": ["ops-director"], "new": []}}
    assert [o["objection"] for o in diff.objections_added] == ["We already have a fleet tool."]
    assert [c["id"] for c in diff.expired_proof_points] == ["uptime-stat"]
    assert [c["id"] for c in diff.expiring_proof_points] == ["harbor-logistics-story"]
    assert diff.documents == {"added": [], "removed": [], "changed": ["messaging/positioning.md"]}
    assert diff.summary() == ("2 roadmap moves, 1 new claim, 1 reworded claim, 1 removed claim, "
                              "1 new objection, 1 expired proof point")


def test_markdown_for_reps(versions: tuple[Path, Path]) -> None:
    old, new = (load_package(p) for p in versions)
    text = diff_packages(old, new, old_label="v1", new_label="v2", old_as_of=BEFORE,
                         today=TODAY).to_markdown()
    assert text.startswith("# What changed in the knowledge package\n")
    for heading in ("## Roadmap", "## New claims you can use", "## Reworded claims",
                    "## Removed claims: stop using them", "## Expired proof points: stop using "
                    "them", "## New objections and their answers", "## Documents"):
        assert heading in text
    assert "- Battery health forecasting moved from next to later: stop mentioning 2031 Q3" \
        in text
    assert "- `uptime-stat` (expired 2026-11-01)" in text


def test_an_unchanged_package(tmp_path: Path) -> None:
    package = load_package(make_package(tmp_path / "kb"))
    diff = diff_packages(package, package, today=TODAY)
    assert diff.summary() == "no changes reps need to know about"
    assert diff.to_json()["roadmap"]["moved"] == []


def test_claims_that_expired_before_the_old_version_are_not_news(tmp_path: Path) -> None:
    package = load_package(make_package(tmp_path / "kb"))
    diff = diff_packages(package, package, old_as_of=date(2020, 6, 1), today=TODAY)
    assert diff.expired_proof_points == []  # old-award expired 2020-01-01, before both


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_with_folders(capsys: pytest.CaptureFixture[str],
                          versions: tuple[Path, Path]) -> None:
    old, new = versions
    code, out, _ = _cli(capsys, "diff", str(old), str(new), "--json")
    payload = json.loads(out)
    assert code == 0
    assert set(payload) >= {"old", "new", "summary", "claims", "roadmap", "objections",
                            "expired_proof_points", "documents"}
    assert payload["roadmap"]["moved"][0] == {
        "id": "battery-forecast", "title": "Battery health forecasting", "from": "next",
        "to": "later", "window_from": "2031 Q3", "window_to": None,
        "advice": payload["roadmap"]["moved"][0]["advice"]}
    code, out, _ = _cli(capsys, "diff", "--kb", str(new), str(old))  # NEW defaults to --kb
    assert code == 0 and "stop mentioning 2031 Q3" in out


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=kb", "-c", "user.email=kb@example.com",
                    "-c", "commit.gpgsign=false", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_cli_with_git_refs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    kb = make_package(repo / "knowledge")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "v1")
    (kb / "roadmap.yaml").write_text(NEW_ROADMAP, encoding="utf-8")
    code, out, _ = _cli(capsys, "diff", "--kb", str(kb), "HEAD")
    assert code == 0 and "moved from next to later: stop mentioning 2031 Q3" in out
    assert "HEAD (kb `" in out
    _git(repo, "commit", "-q", "-am", "v2")
    code, out, _ = _cli(capsys, "diff", "--kb", str(kb), "HEAD~1:knowledge", "HEAD", "--json")
    assert code == 0 and json.loads(out)["roadmap"]["moved"][0]["to"] == "later"
    code, _, err = _cli(capsys, "diff", "--kb", str(kb), "no-such-ref")
    assert code == 2 and "no-such-ref: not a folder and not a git ref" in err


def test_cli_with_a_broken_old_version(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    good = make_package(tmp_path / "good")
    bad = make_package(tmp_path / "bad", {"roadmap.yaml": "items:\n  - id: x\n    title: X\n"
                                                          "    status: soon\n"})
    code, _, err = _cli(capsys, "diff", str(bad), str(good))
    assert code == 2 and "the knowledge package has 1 error(s)" in err
    assert "Traceback" not in err
