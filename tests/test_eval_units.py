"""The eval suite's pieces without the assistant: shipped files are valid, the case schema
fails with path:line, evaluators return (value, reason), gates, metrics and the baseline's
explanations behave as documented."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kbassist.adapters.package.loader import load_package
from kbassist.core.errors import UsageError
from kbassist.core.governance import GovernanceContext
from kbassist.core.models import KnowledgePackage
from kbassist.evals import default_paths
from kbassist.evals import evaluators as ev
from kbassist.evals.baseline import explain, item_fingerprints, load_baseline, metric_deltas
from kbassist.evals.cases import KINDS, load_suite, unknown_references
from kbassist.evals.gates import GateSpec, evaluate_gates, load_gates
from kbassist.evals.metrics import DESCRIPTIONS, percentile
from kbfactory import make_package

REPO = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 22)


@pytest.fixture(scope="module")
def sample() -> KnowledgePackage:
    return load_package(REPO / "knowledge")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> KnowledgePackage:
    return load_package(make_package(tmp_path_factory.mktemp("kb") / "kb"))


# -- the shipped suite, gates and baseline ----------------------------------------------------


def test_shipped_suite_is_valid_and_representative(sample: KnowledgePackage) -> None:
    suite = load_suite(REPO / "evals" / "cases")
    counts = suite.count_by_kind()
    assert len(suite.cases) >= 80 and all(counts[k] >= 10 for k in KINDS), counts
    packages = {None: sample}
    for case in suite.cases:  # a case may run against its own package (``kb``)
        if case.kb_path not in packages:
            packages[case.kb_path] = load_package(Path(case.kb_path))
    stale = {c.id: unknown_references(c, packages[c.kb_path]) for c in suite.cases}
    assert {k: v for k, v in stale.items() if v} == {}
    tags = {t for c in suite.cases for t in c.tags}
    assert {"unknown", "alias", "persona", "segment", "internal-note", "expired-claim",
            "available", "next", "later", "never"} <= tags
    statuses = {s for c in suite.cases for s in c.expect.roadmap.values()}
    assert statuses == {"available", "next", "later", "never"}
    assert {c.channel for c in suite.cases if c.kind == "draft"} == {
        "email", "linkedin", "call-opener"}
    assert any(c.expect.unknown is True for c in suite.cases)
    assert any(c.expect.unknown is False for c in suite.cases)


def test_fit_cases_reuse_the_labelled_prospects() -> None:
    suite = load_suite(REPO / "evals" / "cases")
    fit_ids = {c.id for c in suite.cases if c.kind == "fit"}
    assert {"fit-hvac-uk", "nofit-disq-on-prem", "partial-firmographics-only"} <= fit_ids
    partial = next(c for c in suite.cases if c.id == "partial-firmographics-only")
    assert partial.expect.checks_segment and partial.expect.segment is None


def test_shipped_gates_name_known_metrics() -> None:
    specs = load_gates(REPO / "evals" / "gates.yaml")
    known = set(DESCRIPTIONS) | {"regressions"}
    assert {s.metric for s in specs} <= known
    assert {"internal_leaks", "roadmap_overpromises", "retrieval_hit_at_5", "unknown_accuracy",
            "fit_accuracy", "citation_precision"} <= {s.metric for s in specs}


def test_committed_baseline_matches_the_suite() -> None:
    baseline = load_baseline(REPO / "evals" / "baseline.json")
    assert baseline is not None
    suite_ids = {c.id for c in load_suite(REPO / "evals" / "cases").cases}
    assert set(baseline["cases"]) == suite_ids
    assert {"kb_version", "backend", "prompts", "kb_files", "kb_items", "today"} <= set(baseline)
    assert "claims.yaml" in baseline["kb_files"]


def test_default_paths() -> None:
    paths = default_paths("default", Path("evals"))
    assert paths == {"cases": Path("evals/cases"), "gates": Path("evals/gates.yaml"),
                     "baseline": Path("evals/baseline.json")}
    other = default_paths("redteam", Path("evals"))
    assert other["cases"] == Path("evals/redteam")
    assert other["baseline"] == Path("evals/redteam/baseline.json")


# -- case files ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("cases:\n  - id: a\n    kind: ask\n", "a ask case needs question"),
    ("kind: draft\ncases:\n  - id: a\n    channel: email\n", "a draft case needs persona"),
    ("cases:\n  - id: a\n    kind: ask\n    question: q\n    expect: {citee: [x]}\n", "citee"),
    ("cases:\n  - id: Bad_Id\n    kind: fit\n    description: d\n", "id"),
    ("kind: quiz\ncases: []\n", "kind must be one of"),
    ("cases: [\n", "invalid YAML"),
])
def test_bad_case_files_say_where(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "cases.yaml").write_text(text)
    with pytest.raises(UsageError, match=message) as info:
        load_suite(tmp_path)
    assert str(tmp_path / "cases.yaml") in str(info.value)


def test_duplicate_ids_and_includes(tmp_path: Path) -> None:
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "fit.yaml").write_text(
        "cases:\n  - id: f\n    description: UK HVAC firm\n    expect: {verdict: fit}\n")
    (tmp_path / "a.yaml").write_text("kind: fit\ninclude: [more/fit.yaml]\ncases: []\n")
    suite = load_suite(tmp_path)
    assert [(c.id, c.kind) for c in suite.cases] == [("f", "fit")]
    (tmp_path / "b.yaml").write_text("cases:\n  - id: f\n    kind: ask\n    question: q\n")
    with pytest.raises(UsageError, match="duplicate case id 'f'"):
        load_suite(tmp_path)


def test_gates_file_in_a_suite_folder_is_not_a_case_file(tmp_path: Path) -> None:
    (tmp_path / "gates.yaml").write_text("gates:\n  - {metric: internal_leaks, max: 0}\n")
    (tmp_path / "c.yaml").write_text("cases:\n  - id: a\n    kind: ask\n    question: q\n")
    assert [c.id for c in load_suite(tmp_path).cases] == ["a"]


def test_kb_field_resolves_next_to_the_case_file(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "cases:\n  - id: a\n    kind: ask\n    question: q\n    kb: packages/poisoned\n")
    case = load_suite(tmp_path).cases[0]
    assert case.kb_path == (tmp_path / "packages" / "poisoned").resolve().as_posix()


def test_unknown_references_name_removed_ids(small: KnowledgePackage, tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "cases:\n  - id: a\n    kind: ask\n    question: q\n    persona: nobody\n"
        "    expect: {cite: [per-robot-pricing, gone], not_cite: [also-gone],"
        " roadmap: {fleet-map: available}}\n")
    case = load_suite(tmp_path).cases[0]
    assert unknown_references(case, small) == ["gone", "nobody"]


# -- evaluators ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "patterns", "ok"), [
    ("Priced per robot   per month.", ["per robot per month"], True),
    ("Priced per robot.", ["PRICED"], True),
    ("Window 2031 Q3.", ["re:20\\d\\d Q[1-4]"], True),
    ("Priced per robot.", ["per seat", "robot"], False),
])
def test_contains_all(text: str, patterns: list[str], ok: bool) -> None:
    value, reason = ev.contains_all(text, patterns)
    assert value is ok and reason


def test_contains_none_names_what_it_found() -> None:
    assert ev.contains_none("Zephyrquill is stalled", ["zephyrquill", "x"]) == (
        False, "found: 'zephyrquill'")


@pytest.mark.parametrize(("cited", "relevant", "value"), [
    (["a", "b"], ["a"], 0.5),
    (["a", "a"], ["a"], 1.0),
    (["messaging/x.md#one"], ["messaging/x.md"], 1.0),
    (["messaging/x.md#one"], ["messaging/x.md#two"], 0.0),
    ([], ["a"], None),
])
def test_citation_precision(cited: list[str], relevant: list[str], value: float | None) -> None:
    assert ev.citation_precision(cited, relevant)[0] == value


def test_retrieval_rank() -> None:
    assert ev.retrieval_rank(["x", "y", "doc.md#a"], ["doc.md"])[0] == 3
    assert ev.retrieval_rank(["x"], ["y"]) == (None, "none of y in the top 1")


def test_cited_checks() -> None:
    assert ev.cited_all(["a", "b"], ["a"])[0]
    assert ev.cited_all(["a"], ["a", "c"]) == (False, "not cited: c")
    assert ev.cited_any(["b"], ["a", "b"])[0]
    assert ev.cited_none(["a"], ["a"]) == (False, "cited forbidden a")


def test_roadmap_treatment(small: KnowledgePackage) -> None:
    disclaimer = small.config.policy.roadmap_disclaimer
    good = f"Battery health forecasting is in development. Window 2031 Q3. {disclaimer}"
    reported = [{"id": "battery-forecast", "status": "next"}]
    assert ev.roadmap_treatment(reported, good, {"battery-forecast": "next"}, small)[0]
    truncated = "Battery health forecasting is in development. Window 2031 Q3. Roadmap items…"
    value, reason = ev.roadmap_treatment(reported, truncated, {"battery-forecast": "next"}, small)
    assert not value and "without the full roadmap disclaimer" in reason
    value, reason = ev.roadmap_treatment([{"id": "battery-forecast", "status": "available"}],
                                         good, {"battery-forecast": "next"}, small)
    assert reason == "battery-forecast: expected next, got available"
    dated = [{"id": "drone-inventory", "status": "later"}]
    value, reason = ev.roadmap_treatment(dated, "Drone inventory scanning comes in 2031 Q4.",
                                         {"drone-inventory": "later"}, small)
    assert not value and "given a date" in reason


def test_overpromises_and_leaks_recheck_the_final_text(small: KnowledgePackage) -> None:
    ctx = GovernanceContext.from_package(small, TODAY)
    count, reason = ev.overpromises("Drone inventory scanning is available today.", ctx, {}, [])
    assert count == 1 and "later" in reason
    count, reason = ev.overpromises("Fine.", ctx, {"battery-forecast": "next"},
                                    [{"id": "battery-forecast", "status": "available"}])
    assert count == 1 and "presents it as available" in reason
    markers = ev.leak_markers(small)
    assert "Obsidianmoor" in markers.words and "Zephyrquill" in markers.initial
    assert ev.leaks("The pilot waits on the Obsidianmoor deal.", ctx, markers)[0] == 1
    assert ev.leaks("Ask about the Zephyrquill pilot.", ctx, markers)[0] == 1
    assert ev.leaks("Nordlicht Fleet is priced per robot.", ctx, markers) == (0, "none")


def test_length_and_review_and_fit() -> None:
    assert ev.length_limits("one two three", 2, None) == (False, "3 words > 2")
    assert ev.review_flag(True, "unknown", True)[0]
    assert ev.fit_verdict("fit", "a", "fit", None, True) == (False, "segment a, expected None")
    assert ev.fit_verdict("fit", "a", "fit", None, False)[0]


# -- gates and metrics -----------------------------------------------------------------------


def test_gates() -> None:
    specs = [GateSpec(metric="leaks", max=0), GateSpec(metric="hit", min=0.9),
             GateSpec(metric="fit", min=0.9), GateSpec(metric="lat", max=1, backends=["x"])]
    results = evaluate_gates(specs, {"leaks": 1, "hit": 0.95, "fit": None, "lat": 5}, "offline")
    assert [(g.name, g.passed, g.skipped) for g in results] == [
        ("leaks <= 0", False, False), ("hit >= 0.9", True, False), ("fit >= 0.9", True, True)]
    assert results[0].to_json().keys() >= {"name", "threshold", "value", "passed"}
    with pytest.raises(UsageError, match="unknown metric 'nope'"):
        evaluate_gates([GateSpec(metric="nope", max=0)], {"leaks": 0}, "offline")
    with pytest.raises(ValueError, match="exactly one of min or max"):
        GateSpec(metric="x", min=1, max=2)


def test_bad_gates_file_says_where(tmp_path: Path) -> None:
    path = tmp_path / "gates.yaml"
    path.write_text("gates:\n  - metric: x\n    min: 1\n    max: 2\n")
    with pytest.raises(UsageError, match=r"gates.yaml:2: gate"):
        load_gates(path)


def test_percentile() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert percentile([], 50) is None


# -- baseline explanations -------------------------------------------------------------------


def _baseline(package: KnowledgePackage, **extra: Any) -> dict[str, Any]:
    return {"format": 1, "kb_files": dict(package.file_hashes),
            "kb_items": item_fingerprints(package), "backend": "offline", "model": "composer",
            "prompts": {}, "today": "2026-11-01", **extra}


def test_explanations(tmp_path: Path) -> None:
    kb = make_package(tmp_path / "kb")
    before = load_package(kb)
    now = {"backend": "offline", "model": "composer", "prompts": {}}
    baseline = _baseline(before)
    assert explain(["per-robot-pricing"], "ask", baseline, before, now, TODAY)[0] == "no"
    roadmap = (kb / "roadmap.yaml").read_text()
    (kb / "roadmap.yaml").write_text(roadmap.replace(
        "title: Battery health forecasting\n    status: next",
        "title: Battery health forecasting\n    status: later"))
    after = load_package(kb)
    verdict, reasons = explain(["battery-forecast"], "ask", baseline, after, now, TODAY)
    assert verdict == "yes"
    assert reasons == ["roadmap item 'battery-forecast' changed (status next -> later)"]
    verdict, reasons = explain(["per-robot-pricing"], "ask", baseline, after, now, TODAY)
    assert verdict == "possibly" and "roadmap.yaml" in reasons[0]
    verdict, reasons = explain(["per-robot-pricing"], "ask", baseline, before,
                               {**now, "backend": "openai"}, TODAY)
    assert verdict == "yes" and reasons[0].startswith("backend offline/composer -> openai")


def test_claims_expired_since_the_baseline_explain(tmp_path: Path) -> None:
    package = load_package(make_package(tmp_path / "kb"))
    baseline = _baseline(package, today="2019-06-01")
    verdict, reasons = explain(["old-award"], "ask", baseline, package,
                               {"backend": "offline", "model": "composer", "prompts": {}}, TODAY)
    assert verdict == "yes"
    assert reasons == ["claim 'old-award' expired on 2020-01-01, after the baseline"]


def test_metric_deltas_and_bad_baselines(tmp_path: Path) -> None:
    assert metric_deltas({"a": 0.5, "b": {"x": 1}}, {"metrics": {"a": 0.75}}) == {
        "a": {"baseline": 0.75, "now": 0.5, "delta": -0.25}}
    assert load_baseline(tmp_path / "missing.json") is None
    (tmp_path / "b.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(UsageError, match="not a kbassist eval baseline"):
        load_baseline(tmp_path / "b.json")
