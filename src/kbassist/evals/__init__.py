"""The eval suite: cases are data (``evals/cases/*.yaml``), small evaluators score each output
with ``(value, reason)``, metrics aggregate them, gates (``evals/gates.yaml``) decide pass or
fail, and drift is measured against a committed baseline (``evals/baseline.json``).

``run_eval(assistant)`` is what the CLI (``kbassist eval``) and the UI call. Every run can be
appended to ``<data_dir>/evals/history.jsonl``, which the HTML report charts. See
docs/evals.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kbassist.core.errors import UsageError
from kbassist.evals.baseline import compare, load_baseline, metric_deltas
from kbassist.evals.baseline import save_baseline as write_baseline
from kbassist.evals.cases import Case, Suite, load_suite
from kbassist.evals.gates import GateResult, evaluate_gates, load_gates
from kbassist.evals.metrics import compute_metrics
from kbassist.evals.runner import CaseRun, CaseRunner

if TYPE_CHECKING:
    from kbassist.app.assistant import Assistant
    from kbassist.core.models import KnowledgePackage

__all__ = [
    "EvalRun",
    "default_paths",
    "load_history",
    "load_suite",
    "run_eval",
    "save_baseline",
]

EVALS_ROOT = Path("evals")
HISTORY_FILE = Path("evals") / "history.jsonl"


@dataclass
class EvalRun:
    suite: str
    today: str
    kb_version: str
    backend: str
    model: str
    prompts: dict[str, Any]
    metrics: dict[str, Any]
    spread: dict[str, Any]
    gates: list[GateResult]
    cases: list[dict[str, Any]]
    regressions: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)  # fixed / changed cases
    metric_deltas: dict[str, Any] = field(default_factory=dict)
    baseline_meta: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    started_at: str = ""
    package: KnowledgePackage | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def failed_gates(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "suite": self.suite,
            "kb_version": self.kb_version,
            "backend": self.backend,
            "model": self.model,
            "prompts": self.prompts,
            "today": self.today,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 2),
            "metrics": self.metrics,
            "spread": self.spread,
            "gates": [g.to_json() for g in self.gates],
            "regressions": self.regressions,
            "changes": self.changes,
            "metric_deltas": self.metric_deltas,
            "baseline": self.baseline_meta,
            "notes": self.notes,
            "cases": self.cases,
        }

    def to_markdown(self) -> str:
        from kbassist.evals.report import to_markdown

        return to_markdown(self)

    def to_html(self, history: list[dict[str, Any]]) -> str:
        from kbassist.evals.report import to_html

        return to_html(self, history)

    def history_entry(self) -> dict[str, Any]:
        numeric = {k: v for k, v in self.metrics.items()
                   if isinstance(v, int | float) and not isinstance(v, bool)}
        return {
            "time": self.started_at, "suite": self.suite, "kb_version": self.kb_version,
            "backend": self.backend, "model": self.model, "prompts": self.prompts,
            "today": self.today, "passed": self.passed, "metrics": numeric,
            "violations_by_rule": self.metrics.get("violations_by_rule", {}),
            "gates_failed": [g.name for g in self.failed_gates],
            "regressions": len(self.regressions),
        }


def default_paths(suite: str = "default", evals_root: Path | None = None
                  ) -> dict[str, Path]:
    """Where a suite's cases, gates and baseline live: ``evals/cases``, ``evals/gates.yaml``
    and ``evals/baseline.json`` for the default suite; ``evals/<suite>/`` holds another
    suite's cases, and its own gates.yaml and baseline.json (gates fall back to the default)."""
    root = evals_root or EVALS_ROOT
    if suite.startswith("packages/"):  # an eval package: evals/packages/<name>/
        folder = root / suite
        own_gates = folder / "gates.yaml"
        return {"cases": folder / "cases",
                "gates": own_gates if own_gates.is_file() else root / "packages" / "gates.yaml",
                "baseline": folder / "baseline.json"}
    if suite == "default":
        return {"cases": root / "cases", "gates": root / "gates.yaml",
                "baseline": root / "baseline.json"}
    folder = root / suite
    own_gates = folder / "gates.yaml"
    return {"cases": folder, "gates": own_gates if own_gates.is_file() else root / "gates.yaml",
            "baseline": folder / "baseline.json"}


def prompt_versions() -> dict[str, Any]:
    """Every prompt's version (the offline composer's too): what a baseline is keyed to."""
    from kbassist.app.generation import OFFLINE_PROMPT
    from kbassist.core.prompts import PROMPT_IDS, load_prompt

    versions: dict[str, Any] = {str(OFFLINE_PROMPT["id"]): OFFLINE_PROMPT["version"]}
    versions.update({p: load_prompt(p).version for p in PROMPT_IDS})
    return versions


def run_eval(
    assistant: Assistant,
    *,
    suite: str = "default",
    cases_dir: Path | None = None,
    repeat: int = 1,
    baseline: Path | None = None,
    gates: Path | None = None,
    record_history: bool = True,
    compare_baseline: bool = True,
    only: list[str] | None = None,
    evals_root: Path | None = None,
    extra_metrics: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
) -> EvalRun:
    """Run a suite on ``assistant`` and score it. ``baseline``/``gates`` default to the
    suite's files (see ``default_paths``); ``only`` keeps the cases whose id or tag is listed.
    """
    started, clock = datetime.now(UTC), time.perf_counter()
    paths = default_paths(suite, evals_root)
    loaded = load_suite(cases_dir or paths["cases"], suite)
    cases = _select(loaded, only)
    package = assistant.package
    notes: list[str] = []
    if repeat < 1:
        raise UsageError("--repeat must be at least 1")
    if assistant.backend is None and repeat > 1:
        notes.append(f"--repeat {repeat} ignored: the offline backend is deterministic")
        repeat = 1
    runner = CaseRunner(evaluation_assistant(assistant),
                        draft_rubric=suite.startswith("packages/"))
    runs = [runner.run(case, repeat) for case in cases]
    metrics, spread = compute_metrics(runs)
    cases_json = [case_json(r) for r in runs]
    if extra_metrics is not None:
        metrics.update(extra_metrics(cases_json))
    run = EvalRun(
        suite=suite, today=assistant.today.isoformat(), kb_version=package.kb_version,
        backend=assistant.backend_name, model=assistant.model_name,
        prompts=prompt_versions(), metrics=metrics, spread=spread,
        gates=[], cases=cases_json, notes=notes,
        started_at=started.isoformat(timespec="seconds"), package=package,
    )
    base_path = baseline or paths["baseline"]
    old = load_baseline(base_path) if compare_baseline else None
    if old is not None:
        _apply_baseline(run, old, base_path, package, assistant)
    elif compare_baseline:
        notes.append(f"no baseline at {base_path}: nothing to compare with")
    metrics["regressions"] = len(run.regressions) if old is not None else None
    gates_path = gates or paths["gates"]
    if gates_path.is_file():
        run.gates = evaluate_gates(load_gates(gates_path), metrics, run.backend)
    else:
        notes.append(f"no gates file at {gates_path}: nothing can fail")
    run.seconds = time.perf_counter() - clock
    if record_history:
        append_history(assistant.settings.data_dir, run)
    return run


def evaluation_assistant(assistant: Assistant) -> Assistant:
    """The assistant the cases run on: ``assistant`` itself when it is already an unaudited
    eval assistant, else a twin sharing its settings, embedder, backend, date and index, but
    with channel "eval" and no audit log, so eval outputs never enter the audit log (the gaps
    and usage reports read it) and a live UI's own records are left alone."""
    from kbassist.app.wiring import build_assistant

    if assistant.channel == "eval" and assistant.audit is None:
        return assistant
    settings = assistant.settings.model_copy(update={"audit": False})
    return build_assistant(settings, embedder=assistant.embedder, backend=assistant.backend,
                           today=assistant.today, channel="eval")


def _select(suite: Suite, only: list[str] | None) -> list[Case]:
    if not only:
        return suite.cases
    wanted = set(only)
    chosen = [c for c in suite.cases if c.id in wanted or wanted & set(c.tags) or c.kind in wanted]
    if not chosen:
        raise UsageError(f"no case matches {', '.join(sorted(wanted))}")
    return chosen


def _apply_baseline(run: EvalRun, old: dict[str, Any], path: Path, package: KnowledgePackage,
                    assistant: Assistant) -> None:
    moved = compare(run, old, package, assistant.today)
    run.regressions = [m for m in moved if m["status"] == "regressed"]
    run.changes = [m for m in moved if m["status"] != "regressed"]
    run.metric_deltas = metric_deltas(run.metrics, old)
    run.baseline_meta = {"path": path.as_posix(), "kb_version": old.get("kb_version"),
                         "backend": old.get("backend"), "model": old.get("model"),
                         "today": old.get("today")}
    if old.get("suite") not in (None, run.suite):
        run.notes.append(f"the baseline is for suite '{old.get('suite')}', not '{run.suite}'")


def case_json(run: CaseRun) -> dict[str, Any]:
    """One case's result; the first failing run stands for the case (or the first run)."""
    case = run.case
    shown = next((o for o in run.outcomes if not o.passed), run.outcomes[0])
    expect = case.expect
    depends = [*expect.relevant_ids(), *expect.not_cite, *(x for x in (case.persona,
                                                                       case.segment) if x)]
    data: dict[str, Any] = {
        "id": case.id, "kind": case.kind, "class": case.question_class, "why": case.why,
        "tags": case.tags,
        "file": case.file, "line": case.line, "kb": case.kb, "input": case.inputs(),
        "passed": run.passed, "pass_rate": round(run.pass_rate, 3), "runs": len(run.outcomes),
        "output": shown.output, "citations": shown.citations, "roadmap": shown.roadmap,
        "unknown": shown.unknown,
        "governance": {"status": shown.status, "caught": shown.caught,
                       "remaining": shown.remaining} if shown.status else None,
        "latency_ms": round(shown.latency_ms, 1),
        "retrieval": {"rank": run.rank, "reason": run.rank_reason} if run.rank_reason else None,
        "checks": [c.to_json() for c in shown.checks],
        "measures": {k: v for k, v in shown.measures.items()},
        "depends_on": sorted(set(depends)),
        "kb_version": run.kb_version,
    }
    for key in ("verdict", "segment", "needs_review", "review_reason", "subject", "confidence"):
        if key in shown.extra:
            data[key] = shown.extra[key]
    if shown.error:
        data["error"] = shown.error
    return data


def history_path(data_dir: Path) -> Path:
    return data_dir / HISTORY_FILE


def append_history(data_dir: Path, run: EvalRun) -> None:
    path = history_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(run.history_entry(), ensure_ascii=False) + "\n")


def load_history(data_dir: Path) -> list[dict[str, Any]]:
    """Every recorded run, oldest first; unreadable lines are skipped."""
    path = history_path(data_dir)
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def save_baseline(run: EvalRun, path: Path) -> None:
    """Write ``run`` as the baseline at ``path`` (atomically)."""
    assert run.package is not None
    write_baseline(run, run.package, path)
