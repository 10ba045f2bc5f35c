"""Bounded load test: N simulated reps ask, draft and rate answers through the app's HTTP API.

    .venv/bin/python benchmarks/load.py [--reps 20] [--seconds 120] [--out PATH]

Starts the Gradio app on loopback (sample package, a temp data dir, offline backend), then
each rep loops over mixed questions and drafts through ``gradio_client`` (the public "ask"
and "draft" endpoints) until time is up, and sends a thumbs up or down through "feedback" on
every third answer it gets. Reports throughput, p50/p95/p99 latency and errors, overall and per
endpoint, and checks nothing was lost: the audit log gains exactly one output per successful
ask or draft (with the ids the API returned), the feedback table exactly one row per successful
feedback call (with the output id and rating sent), and each thumbs-down exactly one gap event.
Writes PATH.json and PATH.md (default benchmarks/load_results.*); exits 1 on any error or loss.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
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
ENDPOINTS = ("ask", "draft", "feedback")
FEEDBACK_EVERY = 3  # a rep rates every third answer it gets
Call = dict[str, Any]  # one API call: kind, ms, error, output_id, rating


def snapshot(db: Path) -> dict[str, int]:
    """Row counts and the highest ids of the stores the load test must not lose rows from."""
    with sqlite3.connect(db) as con:
        one = lambda sql: int(con.execute(sql).fetchone()[0])  # noqa: E731
        return {
            "outputs": one("SELECT COUNT(*) FROM outputs"),
            "feedback": one("SELECT COUNT(*) FROM feedback"),
            "thumbs_down": one("SELECT COUNT(*) FROM gap_events WHERE kind = 'thumbs_down'"),
            "max_output": one("SELECT COALESCE(MAX(id), 0) FROM outputs"),
            "max_feedback": one("SELECT COALESCE(MAX(id), 0) FROM feedback"),
        }


def added_rows(db: Path, before: dict[str, int]) -> tuple[list[int], list[tuple[int, str]]]:
    """Output ids, and (output id, rating) of feedback rows, written since ``before``."""
    with sqlite3.connect(db) as con:
        outputs = [r[0] for r in con.execute(
            "SELECT id FROM outputs WHERE id > ?", (before["max_output"],))]
        feedback = [(r[0], r[1]) for r in con.execute(
            "SELECT output_id, rating FROM feedback WHERE id > ?", (before["max_feedback"],))]
    return outputs, feedback


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def latency(ms: Sequence[float]) -> dict[str, float]:
    if not ms:
        return {}
    return {"p50": round(percentile(ms, 50), 1), "p95": round(percentile(ms, 95), 1),
            "p99": round(percentile(ms, 99), 1), "mean": round(statistics.mean(ms), 1)}


def timed(client: Any, kind: str, check: Callable[[Any], str | None], **kwargs: Any) -> Call:
    """One API call; an exception or a bad result is counted as an error, not raised."""
    started = time.perf_counter()
    result: Any = None
    try:
        result = client.predict(**kwargs, api_name=f"/{kind}")
        error = check(result)
    except Exception as exc:  # the report says what failed
        error = f"{type(exc).__name__}: {exc}"[:200]
    output_id = result.get("output_id") if isinstance(result, dict) else None
    return {"kind": kind, "ms": (time.perf_counter() - started) * 1000, "error": error,
            "output_id": output_id, "rating": kwargs.get("rating")}


def made(field: str) -> Callable[[Any], str | None]:
    """Checks an ask or draft result: its text, and the audit id that feedback needs."""
    def check(result: Any) -> str | None:
        if not isinstance(result, dict) or not result.get(field):
            return f"no {field} in the result"
        if not isinstance(result.get("output_id"), int):
            return "no output_id in the result"
        return None
    return check


def recorded(output_id: int, rating: str) -> Callable[[Any], str | None]:
    """Checks a feedback result: a new feedback id, for the output and rating sent."""
    def check(result: Any) -> str | None:
        ok = (isinstance(result, dict) and isinstance(result.get("feedback_id"), int)
              and result.get("output_id") == output_id and result.get("rating") == rating)
        return None if ok else f"unexpected feedback result {str(result)[:100]}"
    return check


def rep(index: int, url: str, stop: float, out: list[Call]) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    n, answers = index, 0
    while time.monotonic() < stop:
        n += 1
        if n % 4 == 0:
            channel, persona = DRAFTS[n % len(DRAFTS)]
            out.append(timed(client, "draft", made("body"), channel=channel, persona=persona,
                             account="Acme FM", contact="Sam"))
            continue
        asked = timed(client, "ask", made("answer"), question=QUESTIONS[n % len(QUESTIONS)])
        out.append(asked)
        if asked["error"] is not None:
            continue
        answers += 1
        if answers % FEEDBACK_EVERY or time.monotonic() >= stop:
            continue
        output_id = asked["output_id"]
        rating = "down" if (answers // FEEDBACK_EVERY) % 2 else "up"
        comment = f"rep {index}: the buyer wanted a case study" if rating == "down" else ""
        rated = timed(client, "feedback", recorded(output_id, rating), output_id=output_id,
                      rating=rating, comment=comment)
        out.append({**rated, "output_id": output_id})


def summarise(results: Sequence[Call], wall: float) -> dict[str, Any]:
    """Requests, ok, errors, throughput and latency (of successful calls), overall and per
    endpoint."""
    def block(calls: Sequence[Call]) -> dict[str, Any]:
        ok = [c["ms"] for c in calls if c["error"] is None]
        return {"requests": len(calls), "ok": len(ok), "errors": len(calls) - len(ok),
                "throughput_rps": round(len(ok) / wall, 2) if wall > 0 else 0.0,
                "latency_ms": latency(ok)}

    return {"overall": block(results),
            "by_endpoint": {k: block([c for c in results if c["kind"] == k]) for k in ENDPOINTS}}


def store_checks(before: dict[str, int], after: dict[str, int], results: Sequence[Call],
                 outputs_added: Sequence[int],
                 feedback_added: Sequence[tuple[int, str]]) -> dict[str, Any]:
    """Did every successful call leave exactly its row, and nothing else?"""
    ok = [c for c in results if c["error"] is None]
    made = [c["output_id"] for c in ok if c["kind"] in ("ask", "draft")]
    rated = [(c["output_id"], c["rating"]) for c in ok if c["kind"] == "feedback"]
    expected = {"outputs": len(made), "feedback": len(rated),
                "thumbs_down": sum(1 for _, rating in rated if rating == "down")}
    checks: dict[str, Any] = {
        table: {"before": before[table], "after": after[table],
                "added": after[table] - before[table], "expected": expected[table]}
        for table in ("outputs", "feedback", "thumbs_down")}
    checks["output_ids_match"] = sorted(made) == sorted(outputs_added)
    checks["feedback_rows_match"] = Counter(rated) == Counter(feedback_added)
    checks["lost"] = (any(checks[t]["added"] != checks[t]["expected"] for t in expected)
                      or not checks["output_ids_match"] or not checks["feedback_rows_match"])
    return checks


def summary_line(report: dict[str, Any]) -> str:
    overall, stores = report["overall"], report["stores"]
    lat = overall["latency_ms"]
    return (f"load: {report['reps']} reps, {report['seconds']} s, {overall['requests']} requests, "
            f"{overall['errors']} errors, {overall['throughput_rps']} req/s, "
            f"p50 {lat.get('p50')} ms, p95 {lat.get('p95')} ms, p99 {lat.get('p99')} ms; "
            f"audit outputs +{stores['outputs']['added']}/{stores['outputs']['expected']}, "
            f"feedback +{stores['feedback']['added']}/{stores['feedback']['expected']}: "
            + ("ROWS LOST OR UNEXPECTED" if stores["lost"] else "nothing lost"))


def markdown(report: dict[str, Any]) -> str:
    def row(name: str, block: dict[str, Any]) -> str:
        lat = block["latency_ms"]
        return (f"| {name} | {block['requests']} | {block['ok']} | {block['errors']} | "
                f"{block['throughput_rps']} | {lat.get('p50')} | {lat.get('p95')} | "
                f"{lat.get('p99')} |\n")

    stores = report["stores"]
    names = {"outputs": "audit outputs", "feedback": "feedback",
             "thumbs_down": "thumbs-down gap events"}
    md = (f"# Load test ({report['date']}, {report['cpus']} CPUs, offline backend)\n\n"
          f"{report['reps']} concurrent reps for {report['seconds']} s against the app's HTTP API "
          "on loopback: mixed questions and drafts (every 4th call a draft), and a thumbs up or "
          "down through `feedback` on every third answer. Latency is of "
          "successful calls; \"all\" includes the feedback calls.\n\n"
          f"`{summary_line(report)}`\n\n"
          "| endpoint | requests | ok | errors | throughput (req/s) | p50 ms | p95 ms | p99 ms |\n"
          "|---|---|---|---|---|---|---|---|\n"
          + row("all", report["overall"])
          + "".join(row(k, report["by_endpoint"][k]) for k in ENDPOINTS)
          + "\n| store | before | after | added | expected |\n|---|---|---|---|---|\n"
          + "".join(f"| {names[t]} | {stores[t]['before']} | {stores[t]['after']} | "
                    f"{stores[t]['added']} | {stores[t]['expected']} |\n" for t in names)
          + f"\nOutput ids returned by the API match the audit rows: "
            f"{'yes' if stores['output_ids_match'] else 'NO'}; feedback rows match the output "
            f"ids and ratings sent: {'yes' if stores['feedback_rows_match'] else 'NO'}.\n")
    if report["error_samples"]:
        md += "\nErrors:\n\n" + "".join(f"- {e}\n" for e in report["error_samples"])
    return md


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "load_results",
                        help="write OUT.json and OUT.md (default benchmarks/load_results)")
    args = parser.parse_args()
    if args.reps < 1 or not 0 < args.seconds <= 3600:
        parser.error("--reps must be at least 1 and --seconds in (0, 3600]")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from kbassist.adapters.llm.local import free_loopback_port
    from kbassist.app.settings import Settings
    from kbassist.ui.app import launch

    data = Path(tempfile.mkdtemp(prefix="kbassist-load-"))
    try:
        settings = Settings(kb=ROOT / "knowledge", data_dir=data)
        port = free_loopback_port()
        app = launch(settings, host="127.0.0.1", port=port, block=False)
        url = f"http://127.0.0.1:{port}/"
        db = data / "audit.sqlite3"
        before = snapshot(db)
        results: list[Call] = []
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
        after = snapshot(db)
        outputs_added, feedback_added = added_rows(db, before)
        app.close()
    finally:
        shutil.rmtree(data, ignore_errors=True)
    errors = [c["error"] for c in results if c["error"]]
    report: dict[str, Any] = {
        "reps": args.reps, "seconds": round(wall, 1), **summarise(results, wall),
        "error_samples": errors[:5],
        "stores": store_checks(before, after, results, outputs_added, feedback_added),
        "backend": "offline", "cpus": os.cpu_count(), "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    md = markdown(report)
    args.out.with_suffix(".md").write_text(md)
    print(md)
    print(summary_line(report))
    return 0 if not errors and not report["stores"]["lost"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
