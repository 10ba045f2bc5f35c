"""The committed baseline and drift against it.

``save_baseline`` writes a run's results keyed to what produced them: kb_version, the hash of
every knowledge file and item, the prompt versions, the backend and the date. A later run
compares case by case: a case that passed in the baseline and fails now is a regression; one
whose answer or citations moved is a change. Each is explained, when it can be, by what
changed since the baseline: a knowledge item the case depends on, a claim that expired since,
a prompt version, the backend; failing that, other knowledge files (retrieval competes over
the whole package), and failing that nothing: a code change.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

from kbassist.adapters.files import write_text_atomic
from kbassist.core.errors import UsageError
from kbassist.core.models import KnowledgePackage

BASELINE_FORMAT = 1
MAX_OUTPUT_CHARS = 4000


def _digest(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def item_fingerprints(package: KnowledgePackage) -> dict[str, dict[str, Any]]:
    """One entry per claim, roadmap item, segment, persona and document, with a content hash
    and the few fields an explanation quotes (a claim's expiry, an item's status)."""
    items: dict[str, dict[str, Any]] = {}
    for claim in package.claims:
        data = claim.model_dump(exclude={"line"})
        items[f"claim:{claim.id}"] = {"hash": _digest(data), "expires": str(claim.expires or ""),
                                      "text": _digest(claim.text)}
    for item in package.roadmap:
        data = item.model_dump(exclude={"line"})
        items[f"roadmap:{item.id}"] = {"hash": _digest(data), "status": item.status,
                                       "window": item.window or ""}
    for segment in package.segments:
        items[f"segment:{segment.id}"] = {"hash": _digest(segment.model_dump(exclude={"line"}))}
    for persona in package.personas:
        items[f"persona:{persona.id}"] = {"hash": _digest(persona.model_dump(exclude={"line"}))}
    for document in package.documents:
        items[f"doc:{document.path}"] = {"hash": document.sha256[:16]}
    items["config"] = {"hash": _digest(package.config.model_dump())}
    return items


def case_record(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": case["kind"],
        "passed": case["passed"],
        "output": case["output"][:MAX_OUTPUT_CHARS],
        "citations": case["citations"],
        "roadmap": case.get("roadmap", []),
        "unknown": case.get("unknown"),
        "verdict": case.get("verdict"),
        "segment": case.get("segment"),
        "failed": [f"{c['name']}: {c['reason']}" for c in case["checks"] if not c["passed"]],
        "depends_on": case.get("depends_on", []),
    }


def baseline_data(run: Any, package: KnowledgePackage) -> dict[str, Any]:
    return {
        "format": BASELINE_FORMAT,
        "suite": run.suite,
        "today": run.today,
        "kb_version": run.kb_version,
        "backend": run.backend,
        "model": run.model,
        "prompts": run.prompts,
        "kb_files": dict(sorted(package.file_hashes.items())),
        "kb_items": item_fingerprints(package),
        "metrics": run.metrics,
        "cases": {c["id"]: case_record(c) for c in run.cases},
    }


def save_baseline(run: Any, package: KnowledgePackage, path: Path) -> None:
    """Write atomically: a crash never leaves a half-written committed file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(baseline_data(run, package), indent=1, ensure_ascii=False) + "\n"
    write_text_atomic(path, text, mode=0o644)  # a file for the repository


def load_baseline(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable baseline ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT:
        raise UsageError(f"{path}: not a kbassist eval baseline (format {BASELINE_FORMAT})")
    return data


# -- explanations ----------------------------------------------------------------------------


def item_keys(ref: str, package: KnowledgePackage) -> list[str]:
    """The fingerprint keys a cited or expected id stands for."""
    if "#" in ref or ref.endswith((".md", ".pdf", ".docx", ".txt", ".html")):
        return [f"doc:{ref.split('#', 1)[0]}"]
    keys = []
    if package.claim(ref):
        keys.append(f"claim:{ref}")
    if package.roadmap_item(ref):
        keys.append(f"roadmap:{ref}")
    if package.segment(ref):
        keys.append(f"segment:{ref}")
    if package.persona(ref):
        keys.append(f"persona:{ref}")
    return keys or [f"claim:{ref}", f"roadmap:{ref}"]  # removed since: look in the baseline


def _describe_change(key: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> str:
    kind, _, ident = key.partition(":")
    label = {"claim": "claim", "roadmap": "roadmap item", "segment": "segment",
             "persona": "persona", "doc": "document"}.get(kind, kind)
    if old is None:
        return f"{label} '{ident}' was added"
    if new is None:
        return f"{label} '{ident}' was removed"
    details = []
    if kind == "roadmap" and old.get("status") != new.get("status"):
        details.append(f"status {old.get('status')} -> {new.get('status')}")
    if kind == "roadmap" and old.get("window") != new.get("window"):
        details.append(f"window {old.get('window') or 'none'} -> {new.get('window') or 'none'}")
    if kind == "claim" and old.get("expires") != new.get("expires"):
        details.append(f"expires {old.get('expires') or 'never'} -> "
                       f"{new.get('expires') or 'never'}")
    if kind == "claim" and old.get("text") != new.get("text"):
        details.append("reworded")
    return f"{label} '{ident}' changed" + (f" ({', '.join(details)})" if details else "")


def _expired_since(ids: list[str], package: KnowledgePackage, since: str, today: date
                   ) -> list[str]:
    try:
        start = date.fromisoformat(since)
    except ValueError:
        return []
    found = []
    for ref in ids:
        claim = package.claim(ref)
        if claim and claim.expires and start <= claim.expires < today:
            found.append(f"claim '{ref}' expired on {claim.expires}, after the baseline")
    return found


def explain(
    ids: list[str], kind: str, baseline: dict[str, Any], package: KnowledgePackage,
    now: dict[str, Any], today: date,
) -> tuple[str, list[str]]:
    """("yes" | "possibly" | "no", reasons) for one case whose result moved."""
    reasons: list[str] = []
    old_items, new_items = baseline.get("kb_items", {}), item_fingerprints(package)
    keys = {k for ref in ids for k in item_keys(ref, package)}
    if kind == "fit":
        keys |= {k for k in {*old_items, *new_items} if k.startswith("segment:")}
    for key in sorted(keys):
        old, new = old_items.get(key), new_items.get(key)
        if (old or new) and (old or {}).get("hash") != (new or {}).get("hash"):
            reasons.append(_describe_change(key, old, new))
    reasons += _expired_since(ids, package, str(baseline.get("today", "")), today)
    if baseline.get("backend") != now["backend"] or baseline.get("model") != now["model"]:
        reasons.append(f"backend {baseline.get('backend')}/{baseline.get('model')} -> "
                       f"{now['backend']}/{now['model']}")
    elif now["backend"] != "offline" and baseline.get("prompts") != now["prompts"]:
        changed = [p for p in now["prompts"]
                   if baseline.get("prompts", {}).get(p) != now["prompts"][p]]
        reasons.append("prompt versions changed: " + ", ".join(changed))
    if reasons:
        return "yes", reasons
    old_files, new_files = baseline.get("kb_files", {}), package.file_hashes
    moved = sorted(f for f in {*old_files, *new_files} if old_files.get(f) != new_files.get(f))
    if moved:
        return "possibly", ["other knowledge files changed (retrieval ranks the whole "
                            "package): " + ", ".join(moved)]
    return "no", ["no knowledge, prompt or backend change touches this case: a code change?"]


def compare(run: Any, baseline: dict[str, Any], package: KnowledgePackage, today: date
            ) -> list[dict[str, Any]]:
    """Case-by-case drift: regressed (passed -> failed), fixed, and changed (output or
    citations moved while the verdict held)."""
    now = {"backend": run.backend, "model": run.model, "prompts": run.prompts}
    old_cases = baseline.get("cases", {})
    moved: list[dict[str, Any]] = []
    for case in run.cases:
        old = old_cases.get(case["id"])
        if old is None:
            continue
        status = _movement(old, case)
        if status is None:
            continue
        before, after = old.get("citations", []), case["citations"]
        ids = list(dict.fromkeys([*case.get("depends_on", []), *before, *after]))
        explained, reasons = explain(ids, case["kind"], baseline, package, now, today)
        entry: dict[str, Any] = {
            "id": case["id"], "kind": case["kind"], "status": status,
            "failed_checks": [f"{c['name']}: {c['reason']}" for c in case["checks"]
                              if not c["passed"]],
            "citations": {"added": [c for c in after if c not in before],
                          "removed": [c for c in before if c not in after]},
            "explained": explained, "explanations": reasons,
        }
        if old.get("output") != case["output"][:MAX_OUTPUT_CHARS]:
            entry["answer"] = {"before": old.get("output", ""), "after": case["output"]}
        moved.append(entry)
    return moved


def _movement(old: dict[str, Any], case: dict[str, Any]) -> str | None:
    if old.get("passed") and not case["passed"]:
        return "regressed"
    if not old.get("passed") and case["passed"]:
        return "fixed"
    same_output = old.get("output") == case["output"][:MAX_OUTPUT_CHARS]
    if same_output and old.get("citations") == case["citations"]:
        return None
    return "changed"


def metric_deltas(metrics: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    old = baseline.get("metrics", {})
    deltas = {}
    for name, value in metrics.items():
        before = old.get(name)
        if isinstance(value, int | float) and isinstance(before, int | float) \
                and not isinstance(value, bool):
            deltas[name] = {"baseline": before, "now": value, "delta": round(value - before, 4)}
    return deltas
