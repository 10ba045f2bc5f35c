"""Measure check() latency on realistic answers built from a knowledge package.

    .venv/bin/python evals/governance/bench_check.py [--kb knowledge] [--n 200] [--write]

Each answer is 80-130 words: a greeting or not, three or four approved claims, sometimes a
roadmap item's approved wording, sometimes an injected violation (a made-up figure, an
unapproved customer, a banned phrase, an overpromise), sometimes a sign-off. The evidence is
the chunks the answer was built from. Reports p50/p95 per answer for: rules only
(check_support=False), rules + lexical support (no embedder), and rules + embedding support
with the real MiniLM embedder (evidence vectors cached, the answer's sentences embedded).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from kbassist.adapters.package.loader import load_package
from kbassist.core.chunks import Chunk
from kbassist.core.governance import GovernanceContext, check, support
from kbassist.core.models import KnowledgePackage

HERE = Path(__file__).resolve().parent
INJECTED = [
    "Most teams see a 47% drop in costs within 3 weeks.",
    "Customers like Globex Industrial and Initech already rely on us.",
    "It's a revolutionary, best-in-class platform.",
    "We guarantee results in the first month.",
    "Our roadmap item ships next quarter for every customer.",
]
GREETINGS = ["Hi Sam,\n\n", "Hello Priya,\n\nThanks for your time today. ", ""]
SIGN_OFFS = ["\n\nWould a 20-minute call next week help?\n\nBest regards,\nDana", "", ""]


def _claim_chunk(claim_id: str, text: str) -> Chunk:
    return Chunk(node_id=f"claim:{claim_id}", kind="claim", ref_id=claim_id,
                 source="claims.yaml", title=claim_id, text=text)


def build_answers(package: KnowledgePackage, today: date, n: int, seed: int = 7
                  ) -> list[tuple[str, list[Chunk]]]:
    rng = random.Random(seed)
    claims = package.approved_claims(today)
    items = [i for i in package.roadmap if i.status != "available" and i.say]
    disclaimer = package.config.policy.roadmap_disclaimer
    answers = []
    while len(answers) < n:
        chosen = rng.sample(claims, k=min(len(claims), rng.choice([3, 4])))
        parts = [c.text for c in chosen]
        evidence = [_claim_chunk(c.id, c.text) for c in chosen]
        if items and rng.random() < 0.3:
            item = rng.choice(items)
            parts.append(item.say or "")
            parts += [disclaimer] if item.status == "next" else []
            evidence.append(Chunk(node_id=f"roadmap:{item.id}", kind="roadmap", ref_id=item.id,
                                  source="roadmap.yaml", title=item.title,
                                  text=item.public_text(), status=item.status))
        if rng.random() < 0.4:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(INJECTED))
        text = rng.choice(GREETINGS) + " ".join(parts) + rng.choice(SIGN_OFFS)
        if 80 <= len(text.split()) <= 130:
            answers.append((text, evidence))
    return answers


def _warm_evidence_only(ctx: GovernanceContext, evidence: list[Chunk]) -> None:
    """Steady state of the app: evidence vectors cached, the answer's sentences not (a model's
    sentences are new; these answers quote claims verbatim, which would hit the cache)."""
    ctx.vectors.clear()
    ctx.embed_texts(support.evidence_units([c.text for c in evidence]))


def _time(ctx: GovernanceContext, answers: list[tuple[str, list[Chunk]]], check_support: bool
          ) -> list[float]:
    timings = []
    for text, evidence in answers:
        if ctx.embed is not None:
            _warm_evidence_only(ctx, evidence)
        started = time.perf_counter()
        check(text, ctx, evidence, check_support=check_support)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _summary(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {"p50_ms": round(statistics.median(ordered), 3),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
            "mean_ms": round(statistics.fmean(ordered), 3)}


def run(kb: Path, n: int) -> dict[str, Any]:
    from kbassist.adapters.embeddings import MiniLMEmbedder

    package = load_package(kb)
    today = date.today()
    answers = build_answers(package, today, n)
    plain = GovernanceContext.from_package(package, today)
    embedder = MiniLMEmbedder()
    embedded = GovernanceContext.from_package(package, today, embed=embedder.embed_batch)
    embedder.embed_batch(["warm up the model"])
    _time(plain, answers[:10], True)  # warm regex and stem caches
    words = [len(t.split()) for t, _ in answers]
    return {
        "package": str(kb), "answers": len(answers), "median_words": statistics.median(words),
        "rules_only": _summary(_time(plain, answers, False)),
        "rules_and_lexical_support": _summary(_time(plain, answers, True)),
        "rules_and_embedding_support": _summary(_time(embedded, answers, True)),
        "note": "embedding timings include embedding each answer's factual sentences with "
                "MiniLM on this machine's CPU; evidence vectors are cached beforehand",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, default=Path("knowledge"))
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--write", action="store_true", help="write check_latency.json")
    args = parser.parse_args(argv)
    result = json.dumps(run(args.kb, args.n), indent=2) + "\n"
    if args.write:
        (HERE / "check_latency.json").write_text(result, encoding="utf-8")
    sys.stdout.write(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
