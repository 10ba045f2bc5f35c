"""Evals across many knowledge packages (``evals/packages/<name>/``), tuned apart from scored.

Each package folder holds its knowledge (``kb/``), its cases (``cases/*.yaml``), the buyer
files its RFP cases come from (``rfp/``) and its own baseline. ``evals/packages/tuning.yaml``
names the packages that may be looked at while tuning; the others are only run and reported.
Every package runs on its own assistant (same settings, embedder and backend, its own index
under ``<data_dir>/evals/packages/<name>``), and is scored with the same evaluators as the
sample, plus what only many packages can show: usefulness per question class, confidence
calibration, and a self-check of the gold itself.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kbassist.core.errors import UsageError
from kbassist.evals.cases import Case, known_ids, load_suite

if TYPE_CHECKING:
    from kbassist.app.assistant import Assistant
    from kbassist.core.models import KnowledgePackage
    from kbassist.evals import EvalRun

PACKAGES_DIR = "packages"
TUNING_FILE = "tuning.yaml"
# What a useful output got right: the content a rep needed. Leaks, overpromises and the
# other always-on checks fail a case too, but don't make a wrong answer useful or a right one
# useless.
USEFUL_CHECKS = frozenset({"cite", "cite_any", "not_cite", "must", "must_not", "unknown",
                           "roadmap", "reflect", "needs_review", "fit", "length",
                           "claims_once", "not_pasted", "runs", "references"})
CONFIDENCE_BANDS = ((0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.01))


def packages_root(evals_root: Path) -> Path:
    return evals_root / PACKAGES_DIR


def package_names(evals_root: Path) -> list[str]:
    root = packages_root(evals_root)
    return sorted(p.name for p in root.iterdir()
                  if (p / "kb").is_dir() and (p / "cases").is_dir()) if root.is_dir() else []


def resolve_names(requested: Sequence[str], evals_root: Path) -> list[str]:
    known = package_names(evals_root)
    if not known:
        raise UsageError(f"no eval packages in {packages_root(evals_root)}")
    if "all" in requested:
        return known
    missing = [n for n in requested if n not in known]
    if missing:
        raise UsageError(f"no eval package {', '.join(missing)} (have: {', '.join(known)})")
    return list(dict.fromkeys(requested))


def tuned_packages(evals_root: Path) -> set[str]:
    """The packages that may be looked at while tuning (at most half of them)."""
    path = packages_root(evals_root) / TUNING_FILE
    if not path.is_file():
        return set()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    tuned = {str(n) for n in data.get("tuned") or []}
    folders = [d for d in packages_root(evals_root).iterdir() if d.is_dir()]
    if len(tuned) * 2 > max(len(folders), 1):
        raise UsageError(f"{path}: at most half of the packages may be tuned on")
    return tuned


def package_assistant(base: Assistant, name: str, evals_root: Path) -> Assistant:
    """An unaudited assistant for one eval package, sharing the base's embedder and backend."""
    from kbassist.app.wiring import build_assistant

    settings = base.settings.model_copy(update={
        "kb": (packages_root(evals_root) / name / "kb").resolve(),
        "data_dir": base.settings.data_dir / "evals" / PACKAGES_DIR / name, "audit": False})
    return build_assistant(settings, embedder=base.embedder, backend=base.backend,
                           today=base.today, channel="eval")


# ----------------------------------------------------------------------- gold self-check


def package_text(package: KnowledgePackage, kb: Path) -> str:
    """Every word of the package a fact can come from: its YAML and Markdown files as written,
    and the extracted text of every document (PDF and DOCX included)."""
    parts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(kb.rglob("*"))
             if p.suffix.lower() in {".yaml", ".yml", ".md", ".txt", ".html"} and p.is_file()]
    parts += [s.text for d in package.documents for s in d.sections]
    parts += [s.heading for d in package.documents for s in d.sections]
    return "\n".join(parts)


def _supported(pattern: str, flat: str) -> bool:
    if pattern.startswith("re:"):
        return re.search(pattern[3:], flat, re.IGNORECASE) is not None
    return " ".join(pattern.lower().split()) in flat


def gold_problems(cases: Iterable[Case], package: KnowledgePackage, kb: Path) -> list[str]:
    """Gold that can't be right: an id the package lacks, or a fact (``must``, ``reflect`` is
    the rep's context and exempt) that no file of the package states literally."""
    ids = known_ids(package)
    flat = " ".join(package_text(package, kb).lower().split())
    problems = []
    for case in cases:
        expect = case.expect
        wanted = [*expect.cite, *expect.cite_any, *expect.allow, *expect.roadmap,
                  *(expect.retrieve or [])]
        if case.kind == "fit" and expect.segment:
            wanted.append(expect.segment)
        wanted += [x for x in (case.persona, case.segment) if x and case.kind != "fit"]
        for ref in dict.fromkeys(wanted):
            if ref not in ids and not any(i.startswith(ref + "#") for i in ids):
                problems.append(f"{case.file}:{case.line}: case '{case.id}': no id '{ref}' "
                                "in the package")
        for fact in expect.must:
            if not _supported(fact, flat):
                problems.append(f"{case.file}:{case.line}: case '{case.id}': the package "
                                f"never states {fact!r}")
    return problems


# ----------------------------------------------------------------------------- scoring


def is_useful(case: dict[str, Any]) -> bool:
    checks = [c for c in case.get("checks", []) if c["name"] in USEFUL_CHECKS]
    return "error" not in case and all(c["passed"] for c in checks)


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 3) if total else None


def class_of(case: dict[str, Any]) -> str:
    return case.get("class") or case["kind"]


def breakdown(cases: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per question class (ask cases) and per kind (draft, rfp, fit): what reps would see."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in cases:
        groups[class_of(case) if case["kind"] == "ask" else case["kind"]].append(case)
    table = {}
    for name, members in sorted(groups.items()):
        measures = [c.get("measures", {}) for c in members]
        unknown = [c for c in members if c.get("measures", {}).get("unknown_correct")
                   is not None]
        precision = [m["citation_precision"] for m in measures if "citation_precision" in m]
        table[name] = {
            "cases": len(members),
            "passed": sum(c["passed"] for c in members),
            "useful": sum(is_useful(c) for c in members),
            "unknown_accuracy": _rate(sum(bool(c["measures"]["unknown_correct"])
                                          for c in unknown), len(unknown)),
            "leaks": sum(bool(m.get("leaks")) for m in measures),
            "overpromises": sum(bool(m.get("overpromises")) for m in measures),
            "citation_precision": round(sum(precision) / len(precision), 3)
            if precision else None,
        }
    return table


def calibration(cases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A reliability table: of the answers at each confidence band, how many were useful."""
    rows = []
    scored = [c for c in cases if c["kind"] in {"ask", "rfp"} and c.get("confidence") is not None]
    for low, high in CONFIDENCE_BANDS:
        band = [c for c in scored if low <= float(c["confidence"]) < high]
        rows.append({"band": f"{low:.2f}-{min(high, 1.0):.2f}", "answers": len(band),
                     "useful": sum(is_useful(c) for c in band),
                     "useful_rate": _rate(sum(is_useful(c) for c in band), len(band))})
    return rows


def usefulness_metrics(cases: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    metrics: dict[str, float | None] = {
        "usefulness": _rate(sum(is_useful(c) for c in cases), len(cases))}
    for kind in ("ask", "draft", "rfp", "fit"):
        members = [c for c in cases if c["kind"] == kind]
        metrics[f"usefulness_{kind}"] = _rate(sum(is_useful(c) for c in members), len(members))
    return metrics


# ------------------------------------------------------------------------------ running


@dataclass
class PackagesRun:
    """One run over several packages: an ``EvalRun`` per package, and which were tuned on."""

    runs: dict[str, EvalRun]
    tuned: set[str]
    breakdowns: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    calibrations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    gold: dict[str, list[str]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.runs.values())

    def role(self, name: str) -> str:
        return "tuned" if name in self.tuned else "scored"

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "packages": {
            name: {"role": self.role(name), **run.to_json(),
                   "by_class": self.breakdowns[name], "calibration": self.calibrations[name],
                   "gold_problems": self.gold[name]}
            for name, run in self.runs.items()}}

    def to_markdown(self) -> str:
        from kbassist.evals.package_report import packages_markdown

        return packages_markdown(self)


def run_packages(base: Assistant, names: Sequence[str], *, evals_root: Path,
                 repeat: int = 1, record_history: bool = True,
                 only: list[str] | None = None) -> PackagesRun:
    from kbassist.evals import default_paths, run_eval

    chosen = resolve_names(names, evals_root)
    result = PackagesRun(runs={}, tuned=tuned_packages(evals_root))
    for name in chosen:
        assistant = package_assistant(base, name, evals_root)
        assistant.reindex()
        suite = f"{PACKAGES_DIR}/{name}"
        paths = default_paths(suite, evals_root)
        problems = gold_problems(load_suite(paths["cases"], suite).cases, assistant.package,
                                 assistant.settings.kb)
        def extra(cases: list[dict[str, Any]], found: int = len(problems)) -> dict[str, Any]:
            return {**usefulness_metrics(cases), "gold_problems": found}

        run = run_eval(assistant, suite=suite, repeat=repeat, record_history=record_history,
                       only=only, evals_root=evals_root, extra_metrics=extra)
        result.runs[name] = run
        result.breakdowns[name] = breakdown(run.cases)
        result.calibrations[name] = calibration(run.cases)
        result.gold[name] = problems
        run.notes.extend(problems)
    return result
