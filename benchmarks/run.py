"""kbassist benchmarks: `make bench`. Writes benchmarks/results.json and results.md.

Measures, on the sample package: full index time, incremental re-index after changing one
file, ask latency (offline backend, governed) p50/p95 over 200 questions, retrieval alone,
governance alone, peak RSS, and the cold start of `kbassist ask` as a subprocess.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from questions import questions_for

from kbassist.assistant import build_assistant
from kbassist.runtime import configure_offline_environment
from kbassist.settings import Settings

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, (time.perf_counter() - started) * 1000


def bench_sample(work: Path) -> dict[str, object]:
    kb = work / "knowledge"
    shutil.copytree(REPO / "knowledge", kb)
    settings = Settings(kb=kb, data_dir=work / "data")
    assistant = build_assistant(settings)
    assistant.embedder.embed_batch(["warm up"])
    summary, index_ms = timed(assistant.reindex)

    target = kb / "messaging" / sorted(os.listdir(kb / "messaging"))[0]
    target.write_text(target.read_text() + "\n\n## Benchmark note\n\nA changed paragraph.\n")
    incremental, incremental_ms = timed(assistant.reindex)

    questions = questions_for(assistant.package, 200)
    assistant.ask(questions[0])  # warm caches
    ask_ms = [timed(assistant.ask, q)[1] for q in questions]
    retrieve_ms = [timed(assistant.retrieve, q)[1] for q in questions]
    results = [assistant.ask(q) for q in questions[:50]]
    return {
        "package": "sample",
        "chunks": summary.chunks,
        "files": summary.files_total,
        "index_full_ms": round(index_ms, 1),
        "index_chunks_per_s": round(summary.chunks / (index_ms / 1000), 1),
        "reindex_one_file_ms": round(incremental_ms, 1),
        "reindex_files_reembedded": incremental.files_reembedded,
        "ask_p50_ms": round(percentile(ask_ms, 50), 2),
        "ask_p95_ms": round(percentile(ask_ms, 95), 2),
        "ask_mean_ms": round(statistics.mean(ask_ms), 2),
        "retrieve_p50_ms": round(percentile(retrieve_ms, 50), 2),
        "retrieve_p95_ms": round(percentile(retrieve_ms, 95), 2),
        "questions": len(questions),
        "governance_status_counts": {
            s: sum(r.governed.status == s for r in results) for s in ("pass", "revised", "blocked")
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "disk_mb": round(sum(f.stat().st_size for f in (work / "data").rglob("*")
                             if f.is_file()) / 1e6, 2),
    }


def bench_cold_start(work: Path) -> dict[str, object]:
    exe = Path(sys.executable).with_name("kbassist")
    env = {**os.environ, "KBASSIST_KB": str(work / "knowledge"),
           "KBASSIST_DATA_DIR": str(work / "data")}
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([str(exe), "ask", "How is it priced?", "--json"], env=env, check=True,
                       capture_output=True)
        runs.append((time.perf_counter() - started) * 1000)
    return {"cold_ask_p50_ms": round(statistics.median(runs), 1),
            "cold_ask_max_ms": round(max(runs), 1)}


def to_markdown(results: dict[str, object]) -> str:
    lines = ["# Benchmark results", "", f"Machine: {results['machine']}", "",
             "| metric | value |", "|---|---|"]
    for section in ("sample", "cold_start"):
        for key, value in dict(results[section]).items():  # type: ignore[call-overload]
            lines.append(f"| {section}.{key} | {value} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    configure_offline_environment()
    with tempfile.TemporaryDirectory(prefix="kbassist-bench-") as temp:
        work = Path(temp)
        results: dict[str, object] = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                       f"{platform.python_version()}",
            "date": time.strftime("%Y-%m-%d"),
            "sample": bench_sample(work),
        }
        results["cold_start"] = bench_cold_start(work)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "results.md").write_text(to_markdown(results))
    print(to_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
