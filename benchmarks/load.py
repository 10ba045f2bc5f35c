"""Bounded load test: N simulated reps ask and draft against the running app's HTTP API.

    .venv/bin/python benchmarks/load.py [--reps 20] [--seconds 120]

Starts the Gradio app on loopback (sample package, a temp data dir, offline backend), then
each rep loops over mixed questions and drafts through ``gradio_client`` (the public "ask"
and "draft" endpoints) until time is up. Reports throughput, p50/p95/p99 latency and errors,
and checks nothing was lost: the audit gains exactly one row per successful call and the
feedback table is untouched. Writes benchmarks/load_results.json and load_results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "How is Halden Dispatch priced?", "Do you support single sign-on with Okta?",
    "Is there an offline mobile app for technicians?", "When is the Dynamics connector coming?",
    "Can we host it on-premises?", "How long does a pilot take?",
    "Do you have SOC 2 Type II?", "What does onboarding include?",
    "Do you offer AR remote assistance?", "How does live rescheduling work?",
]
DRAFTS = [("email", "coo"), ("linkedin", "cfo"), ("call-opener", "service-manager")]


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as con:
        return {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("outputs", "feedback")}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def rep(index: int, url: str, stop: float, out: list[dict[str, Any]]) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    n = index
    while time.monotonic() < stop:
        n += 1
        started = time.perf_counter()
        try:
            if n % 4 == 0:
                channel, persona = DRAFTS[n % len(DRAFTS)]
                result = client.predict(channel=channel, persona=persona, account="Acme FM",
                                        contact="Sam", api_name="/draft")
                ok = bool(result.get("body"))
                kind = "draft"
            else:
                result = client.predict(question=QUESTIONS[n % len(QUESTIONS)], api_name="/ask")
                ok = bool(result.get("answer"))
                kind = "ask"
            error = None if ok else "empty result"
        except Exception as exc:  # counted, not raised: the report says what failed
            kind, error = "error", f"{type(exc).__name__}: {exc}"[:200]
        out.append({"kind": kind, "ms": (time.perf_counter() - started) * 1000,
                    "error": error})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "load_results")
    args = parser.parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from kbassist.llm.local import free_loopback_port
    from kbassist.settings import Settings
    from kbassist.ui.app import launch

    data = Path(tempfile.mkdtemp(prefix="kbassist-load-"))
    settings = Settings(kb=ROOT / "knowledge", data_dir=data)
    port = free_loopback_port()
    app = launch(settings, host="127.0.0.1", port=port, block=False)
    url = f"http://127.0.0.1:{port}/"
    db = data / "audit.sqlite3"
    before = counts(db)
    results: list[dict[str, Any]] = []
    stop = time.monotonic() + args.seconds
    started = time.perf_counter()
    threads = [threading.Thread(target=rep, args=(i, url, stop, results), daemon=True)
               for i in range(args.reps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    time.sleep(1.0)
    after = counts(db)
    app.close()
    ok = [r["ms"] for r in results if r["error"] is None]
    errors = [r["error"] for r in results if r["error"]]
    report = {
        "reps": args.reps, "seconds": round(wall, 1), "requests": len(results),
        "ok": len(ok), "errors": len(errors), "error_samples": errors[:5],
        "throughput_rps": round(len(ok) / wall, 2),
        "latency_ms": {"p50": round(percentile(ok, 50), 1), "p95": round(percentile(ok, 95), 1),
                       "p99": round(percentile(ok, 99), 1), "mean": round(statistics.mean(ok), 1)}
        if ok else {},
        "by_kind": {k: sum(1 for r in results if r["kind"] == k) for k in ("ask", "draft")},
        "audit_rows": {"before": before["outputs"], "after": after["outputs"],
                       "added": after["outputs"] - before["outputs"], "expected": len(ok)},
        "feedback_rows": {"before": before["feedback"], "after": after["feedback"]},
        "lost": (after["outputs"] - before["outputs"]) != len(ok)
        or after["feedback"] < before["feedback"],
        "backend": "offline", "cpus": os.cpu_count(), "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    lat = report["latency_ms"]
    md = (f"# Load test ({report['date']}, {report['cpus']} CPUs, offline backend)\n\n"
          f"{args.reps} concurrent reps for {report['seconds']} s against the app's HTTP API "
          f"(ask and draft, mixed) on loopback.\n\n"
          "| requests | ok | errors | throughput (req/s) | p50 ms | p95 ms | p99 ms | "
          "audit rows added / expected | feedback rows |\n|---|---|---|---|---|---|---|---|---|\n"
          f"| {len(results)} | {len(ok)} | {len(errors)} | {report['throughput_rps']} | "
          f"{lat.get('p50')} | {lat.get('p95')} | {lat.get('p99')} | "
          f"{report['audit_rows']['added']} / {len(ok)} | "
          f"{before['feedback']} -> {after['feedback']} |\n")
    args.out.with_suffix(".md").write_text(md)
    print(md)
    return 0 if not errors and not report["lost"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
