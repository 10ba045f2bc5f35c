"""Calibrate the unsupported-sentence detector on labelled data, with the real embedder.

    .venv/bin/python evals/governance/calibrate_support.py [--write]

Sweeps the cosine threshold on the calibration groups (position % 3 != 2), picks the one
with the best F1 for flagging unsupported sentences (ties: higher precision, then the middle
of the tied plateau), and reports precision/recall/F1 on the held-out groups
(position % 3 == 2) with it. The lexical fallback (no embedder) is calibrated the same way.
``--write`` saves support_calibration.json next to this script; the engine's defaults
(kbassist.core.governance.support.DEFAULT_*) are set from it by hand, and
tests/test_governance_support.py checks they agree.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from kbassist.core.governance import support
from kbassist.core.governance.context import lowercase_vocabulary

HERE = Path(__file__).resolve().parent
LABELLED = HERE / "support_labelled.yaml"
RESULTS = HERE / "support_calibration.json"
COSINE_GRID = [round(0.30 + 0.01 * i, 2) for i in range(66)]  # 0.30 .. 0.95
LEXICAL_GRID = [round(0.30 + 0.05 * i, 2) for i in range(15)]  # 0.30 .. 1.00


@dataclass(frozen=True)
class Item:
    group: str
    heldout: bool
    sentence: str
    evidence: tuple[str, ...]
    unsupported: bool  # the positive class: what the detector should flag
    kind: str


@dataclass(frozen=True)
class Scored:
    item: Item
    assessment: support.Assessment


def load_items(path: Path = LABELLED) -> list[Item]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = []
    for position, group in enumerate(data["groups"]):
        for entry in group["items"]:
            if entry["label"] not in {"supported", "unsupported"}:
                raise ValueError(f"{group['id']}: bad label {entry['label']!r}")
            items.append(Item(
                group=group["id"], heldout=position % 3 == 2, sentence=entry["sentence"],
                evidence=tuple(group["evidence"]), unsupported=entry["label"] == "unsupported",
                kind=entry.get("kind", ""),
            ))
    return items


def score_items(
    items: Sequence[Item], embed: Callable[[Sequence[str]], np.ndarray] | None
) -> list[Scored]:
    """Assess every item the way check() does: evidence units, entities, best cosine."""
    scored = []
    prepared: dict[tuple[str, ...], support.Evidence] = {}
    vectors = embed([i.sentence for i in items]) if embed else None
    for n, item in enumerate(items):
        if item.evidence not in prepared:
            prepared[item.evidence] = support.build_evidence(item.evidence, embed)
        common = lowercase_vocabulary(item.evidence)
        vector = vectors[n] if vectors is not None else None
        scored.append(Scored(item, support.assess(item.sentence, prepared[item.evidence],
                                                  vector, common=common)))
    return scored


def policy_for(threshold: float, lexical: bool = False) -> support.SupportPolicy:
    return support.SupportPolicy(lexical=threshold) if lexical else support.SupportPolicy(
        cosine=threshold)


def flags(scored: Scored, policy: support.SupportPolicy, lexical: bool) -> bool:
    """True when the detector calls the sentence unsupported."""
    a = scored.assessment
    if lexical:
        a = support.Assessment(None, a.coverage, a.missing)
    return not support.supported(a, policy)


def metrics(scored: Sequence[Scored], threshold: float, lexical: bool = False) -> dict[str, Any]:
    policy = policy_for(threshold, lexical)
    tp = fp = fn = tn = 0
    for s in scored:
        flagged, truth = flags(s, policy, lexical), s.item.unsupported
        tp += flagged and truth
        fp += flagged and not truth
        fn += truth and not flagged
        tn += not truth and not flagged
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": threshold, "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4), "tp": tp, "fp": fp, "fn": fn, "tn": tn, "n": len(scored)}


def best_threshold(scored: Sequence[Scored], grid: Sequence[float], lexical: bool) -> float:
    """Best F1 (then precision); among equally good thresholds, the middle one."""
    results = [metrics(scored, t, lexical) for t in grid]
    top = max((m["f1"], m["precision"]) for m in results)
    tied = [m["threshold"] for m in results if (m["f1"], m["precision"]) == top]
    return float(tied[len(tied) // 2])


def calibrate(scored: Sequence[Scored]) -> dict[str, Any]:
    train = [s for s in scored if not s.item.heldout]
    heldout = [s for s in scored if s.item.heldout]
    cosine = best_threshold(train, COSINE_GRID, lexical=False)
    lexical = best_threshold(train, LEXICAL_GRID, lexical=True)
    chosen = policy_for(cosine)
    return {
        "positive_class": "unsupported",
        "selection": "max F1 on the calibration groups; ties: higher precision, then the "
                     "middle of the tied thresholds",
        "split": "groups at position % 3 == 2 are held out",
        "items": len(scored),
        "calibration_items": len(train),
        "heldout_items": len(heldout),
        "embedding": {
            "model": "all-MiniLM-L6-v2 int8 (kbassist.adapters.embeddings.MiniLMEmbedder)",
            "threshold": cosine,
            "calibration": metrics(train, cosine),
            "heldout": metrics(heldout, cosine),
        },
        "lexical_fallback": {
            "threshold": lexical,
            "calibration": metrics(train, lexical, lexical=True),
            "heldout": metrics(heldout, lexical, lexical=True),
        },
        "heldout_errors": [
            {"sentence": s.item.sentence, "unsupported": s.item.unsupported, "kind": s.item.kind,
             "similarity": round(s.assessment.similarity or 0.0, 3),
             "coverage": round(s.assessment.coverage, 3), "missing": list(s.assessment.missing)}
            for s in heldout if flags(s, chosen, False) != s.item.unsupported
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    args = parser.parse_args(argv)
    from kbassist.adapters.embeddings import MiniLMEmbedder

    result = calibrate(score_items(load_items(), MiniLMEmbedder().embed_batch))
    text = json.dumps(result, indent=2) + "\n"
    if args.write:
        RESULTS.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
