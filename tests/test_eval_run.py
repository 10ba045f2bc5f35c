"""The eval suite end to end on the sample package: real Chroma index, real MiniLM embeddings,
the offline composer and governance. One assistant serves the module; the mutation tests edit
its package copy in place (only the changed files are re-indexed) and restore it.

The gates must pass on the sample, and must fail, for the right reason, when the package is
broken the three ways ISSUE 5 names: a roadmap item moved to available without updating its
wording, an unapproved figure in messaging, and an expired claim that cases depend on.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.adapters.llm.testing import FunctionBackend
from kbassist.app.assistant import Assistant
from kbassist.app.lint import lint_package
from kbassist.app.settings import Settings
from kbassist.app.wiring import build_assistant
from kbassist.cli import main
from kbassist.evals import EvalRun, load_history, run_eval, save_baseline
from kbfactory import make_package

REPO = Path(__file__).resolve().parents[1]
EVALS = REPO / "evals"
TODAY = date(2026, 11, 22)
CHROMIUM = Path("/usr/bin/chromium")


@dataclass
class Workspace:
    root: Path
    kb: Path
    data: Path
    baseline: Path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("evals")
    shutil.copytree(REPO / "knowledge", root / "kb")
    return Workspace(root, root / "kb", root / "data", root / "baseline.json")


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def assistant(workspace: Workspace, embedder: MiniLMEmbedder) -> Assistant:
    settings = Settings(kb=workspace.kb, data_dir=workspace.data, audit=False)
    return build_assistant(settings, embedder=embedder, today=TODAY, channel="eval")


@pytest.fixture(scope="module")
def full_run(assistant: Assistant, workspace: Workspace) -> EvalRun:
    """The whole default suite, once; its results become the baseline the mutations use."""
    run = run_eval(assistant, evals_root=EVALS, compare_baseline=False)
    save_baseline(run, workspace.baseline)
    return run


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def mutable(workspace: Workspace, full_run: EvalRun) -> Iterator[Path]:
    """The package copy, restored after the test (the full run came first)."""
    saved = {p: p.read_bytes() for p in workspace.kb.rglob("*") if p.is_file()}
    yield workspace.kb
    for path, data in saved.items():
        path.write_bytes(data)


def _mutated_run(assistant: Assistant, workspace: Workspace, only: list[str]) -> EvalRun:
    return run_eval(assistant, evals_root=EVALS, baseline=workspace.baseline, only=only,
                    record_history=False)


def _failed(run: EvalRun) -> set[str]:
    return {g.metric for g in run.failed_gates}


# -- the sample passes ----------------------------------------------------------------------


def test_the_sample_passes_every_gate(full_run: EvalRun) -> None:
    assert full_run.passed, full_run.to_markdown()
    metrics = full_run.metrics
    assert metrics["cases"] >= 80
    assert all(metrics["cases_by_kind"][k] >= 10 for k in ("ask", "draft", "rfp", "fit"))
    assert metrics["internal_leaks"] == 0 and metrics["roadmap_overpromises"] == 0
    assert metrics["violations_remaining"] == 0 and metrics["violations_caught"] == 0
    assert metrics["fit_accuracy"] == 1.0  # tests/test_fit.py asserts every prospect
    assert metrics["retrieval_hit_at_5"] >= 0.9 and metrics["unknown_accuracy"] >= 0.8
    assert metrics["latency_p50_ms"] is not None and metrics["latency_p95_ms"] is not None


def test_the_json_follows_the_contract(full_run: EvalRun) -> None:
    payload = json.loads(json.dumps(full_run.to_json()))
    assert {"metrics", "gates", "regressions", "cases", "kb_version", "backend",
            "prompts"} <= set(payload)
    assert all({"name", "threshold", "value", "passed"} <= set(g) for g in payload["gates"])
    case = next(c for c in payload["cases"] if c["id"] == "next-van-stock")
    assert case["passed"] and case["roadmap"][0]["status"] == "next"
    assert {c["name"] for c in case["checks"]} >= {"roadmap", "must", "unknown"}
    assert payload["metrics"]["violations_by_rule"].keys() >= {"unapproved-number",
                                                               "internal-leak"}


def test_known_findings_are_reported_not_hidden(full_run: EvalRun) -> None:
    """Cases the sample fails today are listed with their reasons (gaps for the team)."""
    failing = {c["id"]: c for c in full_run.cases if not c["passed"]}
    assert "unknown-support-sla" in failing
    reasons = [c["reason"] for c in failing["unknown-support-sla"]["checks"] if not c["passed"]]
    assert reasons == ["answered, but the package does not cover it"]
    summary = full_run.to_markdown()
    assert "## kbassist eval: PASSED" in summary and "| unknown-support-sla | ask |" in summary


def test_the_report_breaks_cases_down_by_tag(full_run: EvalRun) -> None:
    tagged = [c for c in full_run.cases if "pricing" in c["tags"]]
    row = f"| pricing | {len(tagged)} | {sum(c['passed'] for c in tagged)} | 0 | 0 | 0 | 0 |"
    assert tagged and row in full_run.to_markdown()
    assert "<h2>By tag</h2>" in full_run.to_html([])


def test_history_and_a_self_contained_html_report(full_run: EvalRun, assistant: Assistant
                                                  ) -> None:
    history = load_history(assistant.settings.data_dir)
    assert history and history[-1]["kb_version"] == full_run.kb_version
    assert "retrieval_hit_at_5" in history[-1]["metrics"]
    html = full_run.to_html(history)
    assert html.count("<svg") == 4 and "<script" not in html
    assert 'src="http' not in html and "href=" not in html and "@import" not in html


def _history_for_charts(run: EvalRun) -> list[dict[str, object]]:
    """Three earlier runs with other values, so the charts draw lines, not just points."""
    entry = run.history_entry()
    older = []
    for step, (kb, day) in enumerate([("1a2b3c", "11-18"), ("4d5e6f", "11-20"),
                                      ("7a8b9c", "11-21")]):
        metrics = {k: (v * (0.85 + 0.05 * step) if isinstance(v, float) and v <= 1 else v)
                   for k, v in entry["metrics"].items()}
        older.append({**entry, "kb_version": kb, "time": f"2026-{day}T09:00:00",
                      "metrics": metrics})
    return [*older, entry]


def test_the_report_renders_its_charts_in_a_browser(full_run: EvalRun, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: install it (apt-get install -y chromium) "
                    "to check that report.html renders")
    image = pytest.importorskip("PIL.Image")
    report = tmp_path / "report.html"
    report.write_text(full_run.to_html(_history_for_charts(full_run)), encoding="utf-8")
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1200,2200", f"--screenshot={shot}", report.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert shot.exists(), done.stderr[-2000:]
    pixels = image.open(shot).convert("RGB")
    colours = {c for _, c in pixels.getcolors(maxcolors=1 << 20) or []}
    assert (22, 163, 74) in colours  # the passed-cases bars and the PASS badge
    assert (37, 99, 235) in colours  # the first metric line


# -- repeats with an LLM backend ------------------------------------------------------------


def test_repeats_report_mean_and_spread(assistant: Assistant, workspace: Workspace,
                                        embedder: MiniLMEmbedder, full_run: EvalRun) -> None:
    calls = {"n": 0}

    def flaky(messages: list[dict[str, str]]) -> str:
        """Every other run answers with the wrong (but approved and cited) claim."""
        calls["n"] += 1
        if calls["n"] % 2:
            return ("Halden Dispatch is priced per active technician per month; office, "
                    "dispatcher and read-only seats are included at no extra charge. "
                    "[per-technician-pricing]")
        return ("Halden Dispatch delivered 99.95% measured uptime over the 12 months to "
                "September 2026. [platform-uptime]")

    backend = FunctionBackend(flaky, name="stub", model="flaky")
    llm = build_assistant(Settings(kb=workspace.kb, data_dir=workspace.data, audit=False),
                          embedder=embedder, backend=backend, today=TODAY, channel="eval")
    run = run_eval(llm, evals_root=EVALS, only=["pricing-model"], repeat=3,
                   record_history=False, compare_baseline=False)
    case = run.cases[0]
    assert case["runs"] == 3 and 0 < case["pass_rate"] < 1
    assert run.metrics["repeat"] == 3
    assert run.spread["case_pass_rate"]["min"] == 0.0
    assert run.spread["case_pass_rate"]["max"] == 1.0
    assert run.prompts["ask"] and run.backend == "stub"


# -- the gates fail, for the right reason, on a broken package -------------------------------

VAN_STOCK_CASES = ["next-van-stock", "next-alias-truck-stock", "email-cfo-van-stock",
                   "rfp-van-inventory"]


def test_a_next_item_moved_to_available_without_its_wording(
        assistant: Assistant, workspace: Workspace, mutable: Path) -> None:
    _edit(mutable / "roadmap.yaml", "title: Van stock tracking and parts replenishment\n"
          "    status: next", "title: Van stock tracking and parts replenishment\n"
          "    status: available")
    lint = lint_package(mutable, TODAY)
    assert [(Path(f.path).name, f.rule) for f in lint.errors] == [
        ("roadmap.yaml", "roadmap-status-conflict")]
    assert "'van-stock' is available, but its say still describes it" in lint.errors[0].message

    run = _mutated_run(assistant, workspace, VAN_STOCK_CASES)
    assert not run.passed
    assert {"roadmap_overpromises", "regressions"} <= _failed(run)
    assert run.metrics["roadmap_overpromises"] == len(VAN_STOCK_CASES)
    regression = next(r for r in run.regressions if r["id"] == "next-van-stock")
    assert regression["explained"] == "yes"
    assert regression["explanations"] == [
        "roadmap item 'van-stock' changed (status next -> available)"]
    assert "roadmap: van-stock: expected next, got available" in regression["failed_checks"]
    assert "Van stock tracking and parts replenishment is available today" in \
        regression["answer"]["after"]


def test_an_unapproved_stat_in_messaging(assistant: Assistant, workspace: Workspace,
                                         mutable: Path) -> None:
    _edit(mutable / "messaging" / "persona-messaging.md", "**Lead with:** first-time fix. ",
          "**Lead with:** first-time fix, which improves by 40% in the first quarter. ")
    lint = lint_package(mutable, TODAY)
    assert [(Path(f.path).name, f.line, f.rule) for f in lint.errors] == [
        ("persona-messaging.md", 19, "unapproved-number")]
    assert "'40%' is not approved" in lint.errors[0].message

    run = _mutated_run(assistant, workspace, ["messaging"])
    assert "violations_caught" in _failed(run)
    assert run.metrics["violations_by_rule"]["unapproved-number"] >= 1
    assert run.metrics["violations_remaining"] == 0  # governance still fixed every output
    caught = {c["id"] for c in run.cases if (c["governance"] or {}).get("caught")}
    assert "lead-with-coo" in caught
    assert all("40%" not in c["output"] for c in run.cases)


def test_an_expired_claim_that_cases_depend_on(assistant: Assistant, workspace: Workspace,
                                               mutable: Path) -> None:
    claims = mutable / "claims.yaml"
    text = claims.read_text(encoding="utf-8")
    start = text.index("  - id: corbel-first-time-fix")
    end = text.index("expires: 2027-09-30", start)
    claims.write_text(text[:end] + "expires: 2026-01-01" + text[end + 19:], encoding="utf-8")
    lint = lint_package(mutable, TODAY)
    assert {(Path(f.path).parent.name, f.rule) for f in lint.errors} == {
        ("messaging", "unapproved-number")}
    assert any("stated only by the expired claim 'corbel-first-time-fix'" in f.message
               for f in lint.errors)

    run = _mutated_run(assistant, workspace, ["hvac-first-time-fix-proof"])
    assert "regressions" in _failed(run)
    [regression] = run.regressions
    assert regression["id"] == "hvac-first-time-fix-proof"
    assert regression["explanations"] == [
        "claim 'corbel-first-time-fix' changed (expires 2027-09-30 -> 2026-01-01)"]
    assert "cite: not cited: corbel-first-time-fix" in regression["failed_checks"]
    assert regression["citations"]["removed"] == ["corbel-first-time-fix"]
    summary = run.to_markdown()
    assert "**hvac-first-time-fix-proof** (ask), explained by a knowledge change: yes" in summary


def test_a_case_can_run_against_its_own_package(assistant: Assistant, tmp_path: Path) -> None:
    """The red-team suite's hook: ``kb`` points a case at another package folder."""
    make_package(tmp_path / "suite" / "packages" / "robots")
    (tmp_path / "suite" / "cases.yaml").write_text(
        "cases:\n  - id: robots-pricing\n    kind: ask\n    kb: packages/robots\n"
        "    question: How is Nordlicht Fleet priced?\n"
        "    expect: {cite: [per-robot-pricing], must: [per robot per month]}\n"
        "  - id: sample-pricing\n    kind: ask\n    question: How is Halden Dispatch priced?\n"
        "    expect: {cite: [per-technician-pricing]}\n")
    (tmp_path / "suite" / "gates.yaml").write_text("gates:\n  - {metric: case_pass_rate, min: 1}\n")
    run = run_eval(assistant, suite="suite", evals_root=tmp_path, record_history=False)
    assert run.passed, run.to_markdown()
    by_id = {c["id"]: c for c in run.cases}
    assert by_id["robots-pricing"]["kb_version"] != by_id["sample-pricing"]["kb_version"]
    assert run.notes == [f"no baseline at {tmp_path / 'suite' / 'baseline.json'}: nothing to "
                         "compare with"]


# -- the command line -------------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_eval(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                  workspace: Workspace, full_run: EvalRun, tmp_path: Path) -> None:
    monkeypatch.chdir(REPO)  # evals/ is found from the working directory
    common = ["--kb", str(workspace.kb), "--data-dir", str(workspace.data)]
    baseline, reports = tmp_path / "b.json", tmp_path / "reports"
    code, out, err = _cli(capsys, "eval", *common, "--only", "pricing-model", "--json",
                          "--baseline", str(baseline), "--save-baseline",
                          "--report-dir", str(reports))
    payload = json.loads(out)
    assert code == 0 and payload["passed"] and [c["id"] for c in payload["cases"]] == [
        "pricing-model"]
    assert baseline.is_file() and "pricing-model" in json.loads(baseline.read_text())["cases"]
    assert (reports / "report.html").is_file()
    assert (reports / "summary.md").read_text().startswith("## kbassist eval: PASSED")

    strict = tmp_path / "gates.yaml"
    strict.write_text("gates:\n  - {metric: case_pass_rate, min: 1}\n")
    code, out, _ = _cli(capsys, "eval", *common, "--only", "unknown-support-sla",
                        "--gates", str(strict), "--baseline", str(baseline), "--no-history")
    assert code == 1 and "## kbassist eval: FAILED" in out and "**FAIL**" in out

    assert _cli(capsys, "eval", *common, "--repeat", "0")[0] == 2
    code, _, err = _cli(capsys, "eval", *common, "--suite", "nonexistent")
    assert code == 2 and "eval suite folder not found" in err
    code, _, err = _cli(capsys, "eval", *common, "--only", "no-such-case")
    assert code == 2 and "no case matches no-such-case" in err
