"""Workflow figures for the closing notes: a 500-question RFP offline, and the gaps report
after 200 mixed rep questions. Writes benchmarks/rep_workflows.json and gaps_sample.md.

    .venv/bin/python benchmarks/rep_workflows.py
"""

from __future__ import annotations

import csv
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from questions import UNKNOWN, questions_for

from kbassist.app.gaps import gaps_report
from kbassist.app.rfp import run_rfp
from kbassist.app.runtime import configure_offline_environment
from kbassist.app.settings import Settings
from kbassist.app.wiring import build_assistant

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXTRA_UNKNOWN = [
    "How do we compare to ServiceTitan on price?",
    "Do you integrate with Salesforce Field Service?",
    "What is your support SLA for priority one incidents?", "Can customers pay monthly by card?",
    "Is there a partner programme for resellers?", "Do you have a bug bounty programme?",
    "What is your recovery time objective?", "Can you sign our MSA without changes?",
]


def rfp_500(work: Path, assistant) -> dict[str, object]:  # type: ignore[no-untyped-def]
    questions = questions_for(assistant.package, 480) + EXTRA_UNKNOWN * 3
    source = work / "rfp-500.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID", "Section", "Question", "Answer"])
        for number, question in enumerate(questions[:500], start=1):
            writer.writerow([f"Q{number}", "General", question, ""])
    started = time.perf_counter()
    summary = run_rfp(source, work / "rfp-500-answered.xlsx", assistant.answer_rfp_row,
                      kb_version=assistant.package.kb_version, checkpoint_dir=work / "data")
    seconds = time.perf_counter() - started
    return {"rows": summary.rows, "answered": summary.answered, "seconds": round(seconds, 1),
            "ms_per_row": round(seconds * 1000 / summary.rows, 1),
            "needs_review": summary.needs_review}


def mixed_questions(assistant, count: int = 200) -> dict[str, object]:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    package = assistant.package
    pool = questions_for(package, 120) + UNKNOWN + EXTRA_UNKNOWN
    pool += [f"When will {item.title.lower()} be available?" for item in package.roadmap
             if item.status != "available"]
    personas = [None] + [p.id for p in package.personas]
    segments = [None] + [s.id for s in package.segments]
    for _ in range(count):
        assistant.ask(rng.choice(pool), persona=rng.choice(personas),
                      segment=rng.choice(segments))
    report = gaps_report(assistant.audit, package, assistant.embedder.embed_batch)
    (HERE / "gaps_sample.md").write_text(report.to_markdown(), encoding="utf-8")
    data = report.to_json()
    return {"questions": count, "clusters": len(data.get("clusters", [])),
            "roadmap_items_requested": len(data.get("roadmap", data.get("roadmap_requests", [])))}


def main() -> int:
    configure_offline_environment()
    with tempfile.TemporaryDirectory(prefix="kbassist-workflows-") as temp:
        work = Path(temp)
        shutil.copytree(REPO / "knowledge", work / "knowledge")
        settings = Settings(kb=work / "knowledge", data_dir=work / "data")
        assistant = build_assistant(settings)
        assistant.reindex()
        results = {"rfp_500": rfp_500(work, assistant)}
        gaps_settings = Settings(kb=work / "knowledge", data_dir=work / "gaps-data")
        results["gaps_200"] = mixed_questions(build_assistant(gaps_settings))
        results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    (HERE / "rep_workflows.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
