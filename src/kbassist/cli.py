"""The ``kbassist`` command (see shared/spec/cli-contract.md). Exit codes: 0 ok, 1 the check
failed, 2 bad usage or bad input (one line on stderr, never a traceback)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from kbassist.app.runtime import configure_offline_environment
from kbassist.core.errors import KbassistError, KnowledgeError

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kb", type=Path, help="knowledge package folder (env KBASSIST_KB)")
    parser.add_argument(
        "--data-dir", type=Path, help="index, audit and eval data (env KBASSIST_DATA_DIR)"
    )
    parser.add_argument("--chroma-url", help="use a Chroma server (env KBASSIST_CHROMA_URL)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kbassist", description="Governed knowledge assistant for sales teams.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    index = commands.add_parser("index", help="validate the package, then index it")
    _common(index)
    index.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    ask = commands.add_parser("ask", help="governed answer with citations")
    _common(ask)
    ask.add_argument("question")
    ask.add_argument("--persona", help="persona id from icp.yaml")
    ask.add_argument("--segment", help="segment id from icp.yaml")
    ask.add_argument("--json", action="store_true", help="print JSON (see the CLI contract)")

    draft = commands.add_parser("draft", help="governed outreach draft")
    _common(draft)
    draft.add_argument("channel", choices=["email", "linkedin", "call-opener"])
    draft.add_argument("--persona", required=True, help="persona id from icp.yaml")
    draft.add_argument("--segment", help="segment id from icp.yaml")
    draft.add_argument("--account", help="the prospect's company")
    draft.add_argument("--contact", help="the person you are writing to")
    draft.add_argument("--context", help="a note about the prospect, e.g. 'asked about X'")
    draft.add_argument("--rep", help="your name, for the sign-off (env KBASSIST_REP_NAME)")
    draft.add_argument("--json", action="store_true")

    rfp = commands.add_parser("rfp", help="answer every question of an RFP or questionnaire")
    _common(rfp)
    rfp.add_argument("input", type=Path, help="questionnaire (.csv or .xlsx)")
    rfp.add_argument("-o", "--output", type=Path, required=True, help="answered .csv or .xlsx")
    rfp.add_argument("--question-col", help="question column: header name, number or letter")
    rfp.add_argument("--sheet", help="worksheet name (XLSX)")
    rfp.add_argument("--no-progress", action="store_true")

    fit = commands.add_parser("fit", help="ICP fit verdict with reasons")
    _common(fit)
    fit.add_argument("description")
    fit.add_argument("--json", action="store_true")

    audit = commands.add_parser("audit", help="export the audit log")
    _common(audit)
    audit.add_argument("--since", help="only outputs on or after this date (YYYY-MM-DD)")
    fmt = audit.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON (the default)")
    fmt.add_argument("--csv", action="store_true", help="CSV")

    gaps = commands.add_parser("gaps", help="unknown questions and roadmap requests, clustered")
    _common(gaps)
    gaps.add_argument("--since", help="only questions on or after this date (YYYY-MM-DD)")
    gfmt = gaps.add_mutually_exclusive_group()
    gfmt.add_argument("--json", action="store_true")
    gfmt.add_argument("--csv", action="store_true")

    report = commands.add_parser("report", help="the week's usage: Markdown plus an SVG chart")
    _common(report)
    report.add_argument("--days", type=int, default=7)
    report.add_argument("-o", "--output-dir", type=Path, help="write report.md and usage.svg")

    commands.add_parser("hash-password",
                        help="hash a password for the app's users file (KBASSIST_AUTH_FILE)")

    lint = commands.add_parser("lint", help="knowledge consistency report")
    _common(lint)
    lint.add_argument("--json", action="store_true")
    lint.add_argument("--no-embeddings", action="store_true",
                      help="find near-duplicate claims by word overlap only (faster)")

    evals = commands.add_parser("eval", help="run the eval suite; exit 1 on a gate failure")
    _common(evals)
    evals.add_argument("--json", action="store_true", help="print JSON (see the CLI contract)")
    evals.add_argument("--suite", default="default",
                       help="a folder under evals/ (default: evals/cases)")
    evals.add_argument("--cases", type=Path, help="case folder (overrides --suite's)")
    evals.add_argument("--gates", type=Path, help="gates file (default: evals/gates.yaml)")
    evals.add_argument("--baseline", type=Path,
                       help="baseline to compare with or save (default: evals/baseline.json)")
    evals.add_argument("--save-baseline", action="store_true",
                       help="write this run as the baseline")
    evals.add_argument("--repeat", type=int, default=1,
                       help="runs per case with an LLM backend (mean and spread reported)")
    evals.add_argument("--report-dir", type=Path, help="write report.html and summary.md here")
    evals.add_argument("--only", action="append", metavar="ID|TAG|KIND",
                       help="run only matching cases (repeatable)")
    evals.add_argument("--no-history", action="store_true",
                       help="don't append this run to <data-dir>/evals/history.jsonl")
    evals.add_argument("--package", action="append", metavar="NAME|all",
                       help="run the eval packages (evals/packages/NAME; repeatable; 'all')")

    diff = commands.add_parser("diff", help="what changed between two package versions")
    _common(diff)
    diff.add_argument("old", help="package folder or git ref (e.g. HEAD~1, v1.2, main:knowledge)")
    diff.add_argument("new", nargs="?", help="package folder or git ref (default: --kb)")
    diff.add_argument("--json", action="store_true", help="JSON for notifications")

    ui = commands.add_parser("ui", help="start the Gradio app")
    _common(ui)
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=7860)
    return parser


def _version() -> str:
    from kbassist import __version__

    return f"kbassist {__version__}"


def _settings(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from kbassist.app.settings import load_settings

    overrides = {"kb": args.kb, "data_dir": args.data_dir, "chroma_url": args.chroma_url}
    try:
        return load_settings(overrides, env=os.environ)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise KbassistError(f"bad setting {where}: {first.get('msg')}") from exc


def _assistant(args: argparse.Namespace) -> Any:
    from kbassist.app.wiring import build_assistant

    return build_assistant(_settings(args))


def cmd_index(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
    summary = assistant.reindex(progress=not args.no_progress and sys.stderr.isatty())
    if summary.unchanged:
        print(f"index is up to date: {summary.chunks} chunks, kb_version {summary.kb_version}")
    else:
        print(
            f"indexed {summary.chunks} chunks from {summary.files_total} files "
            f"({summary.files_reembedded} re-embedded, {summary.files_removed} removed, "
            f"{summary.chunks_embedded} chunks embedded) in {summary.seconds:.1f}s; "
            f"kb_version {summary.kb_version}"
        )
    return EXIT_OK


def cmd_ask(args: argparse.Namespace) -> int:
    question = args.question.strip()
    if not question:
        raise KbassistError("the question is empty")
    result = _assistant(args).ask(question, persona=args.persona, segment=args.segment)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(result.answer)
    if result.citations:
        print("\nSources:")
        for chunk in result.citations:
            status = f" ({chunk.status})" if chunk.status else ""
            print(f"  [{chunk.kind}] {chunk.ref_id}{status}  {chunk.source}")
    checks = result.governed.checks_json()
    print(f"\nGovernance: {checks['status']}", end="")
    print(f" ({len(checks['violations'])} caught)" if checks["violations"] else "")
    for change in checks.get("changes", []):
        print(f"  - {change}")
    return EXIT_OK


def cmd_draft(args: argparse.Namespace) -> int:
    from kbassist.core.draft import DraftRequest

    request = DraftRequest(
        channel=args.channel, persona=args.persona, segment=args.segment,
        account=args.account, contact=args.contact, context=args.context,
        rep_name=args.rep or os.environ.get("KBASSIST_REP_NAME"),
    )
    result = _assistant(args).draft(request)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return EXIT_OK
    if result.subject:
        print(f"Subject: {result.subject}\n")
    print(result.body)
    print("\nSources: " + ", ".join(c.ref_id for c in result.citations))
    print(f"Governance: {result.governed.status}")
    for change in result.governed.changes:
        print(f"  - {change}")
    return EXIT_OK


def cmd_rfp(args: argparse.Namespace) -> int:
    from kbassist.app.operations import answer_questionnaire

    summary = answer_questionnaire(
        _assistant(args), args.input, args.output, question_col=args.question_col,
        sheet=args.sheet, progress=not args.no_progress and sys.stderr.isatty())
    print(
        f"answered {summary.answered} question(s), {summary.resumed} resumed, "
        f"{summary.needs_review} need review, in {summary.seconds:.1f}s -> {summary.output}"
    )
    return EXIT_OK


def cmd_fit(args: argparse.Namespace) -> int:
    description = args.description.strip()
    if not description:
        raise KbassistError("the prospect description is empty")
    result = _assistant(args).fit(description)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{result.verdict.upper()}: {result.segment_name or 'no matching segment'}")
    for reason in result.reasons:
        print(f"  - {reason}")
    if result.missing:
        print("Not stated: " + ", ".join(result.missing))
    return EXIT_OK


def _since(value: str | None) -> Any:
    if value is None:
        return None
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise KbassistError(f"--since: {value!r} is not a date (use YYYY-MM-DD)") from exc


def cmd_audit(args: argparse.Namespace) -> int:
    from kbassist.app.operations import export_audit

    sys.stdout.write(export_audit(_settings(args), "csv" if args.csv else "json",
                                  since=_since(args.since)))
    return EXIT_OK


def cmd_gaps(args: argparse.Namespace) -> int:
    from kbassist.app.operations import gaps

    report = gaps(_assistant(args), since=_since(args.since))
    if args.json:
        print(report.dumps())
    elif args.csv:
        sys.stdout.write(report.to_csv())
    else:
        print(report.to_markdown())
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from kbassist.app.operations import usage

    if args.days < 1:
        raise KbassistError("--days must be at least 1")
    report = usage(_assistant(args), days=args.days)
    if args.output_dir:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        (args.output_dir / "usage.svg").write_text(report.to_svg(), encoding="utf-8")
        (args.output_dir / "report.md").write_text(report.to_markdown(chart="usage.svg"),
                                                    encoding="utf-8")
        print(f"wrote {args.output_dir / 'report.md'} and {args.output_dir / 'usage.svg'}")
    else:
        print(report.to_markdown())
    return EXIT_OK


def cmd_lint(args: argparse.Namespace) -> int:
    from kbassist.app.lint import rule_counts
    from kbassist.app.operations import lint

    report = lint(_assistant(args), embeddings=not args.no_embeddings)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        for finding in report.errors + report.warnings:
            print(finding.describe())
        counts = rule_counts(report.errors + report.warnings)
        by_rule = f" ({', '.join(f'{r} {n}' for r, n in sorted(counts.items()))})" \
            if counts else ""
        print(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s){by_rule}")
    return EXIT_CHECK_FAILED if report.errors else EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from kbassist.app.wiring import build_assistant
    from kbassist.evals import default_paths, load_history, run_eval, save_baseline

    if args.repeat < 1:
        raise KbassistError("--repeat must be at least 1")
    settings = _settings(args).model_copy(update={"audit": False})
    assistant = build_assistant(settings, channel="eval")
    if args.package:
        return _eval_packages(args, assistant)
    run = run_eval(assistant, suite=args.suite, cases_dir=args.cases, repeat=args.repeat,
                   baseline=args.baseline, gates=args.gates, record_history=not args.no_history,
                   only=args.only)
    if args.save_baseline:
        target = args.baseline or default_paths(args.suite)["baseline"]
        save_baseline(run, target)
        print(f"wrote the baseline {target}", file=sys.stderr)
    if args.report_dir:
        args.report_dir.mkdir(parents=True, exist_ok=True)
        history = load_history(settings.data_dir) or [run.history_entry()]
        (args.report_dir / "report.html").write_text(run.to_html(history), encoding="utf-8")
        (args.report_dir / "summary.md").write_text(run.to_markdown(), encoding="utf-8")
        print(f"wrote {args.report_dir / 'report.html'} and {args.report_dir / 'summary.md'}",
              file=sys.stderr)
    if args.json:
        print(json.dumps(run.to_json(), indent=2, ensure_ascii=False))
    else:
        print(run.to_markdown())
    return EXIT_OK if run.passed else EXIT_CHECK_FAILED


def _eval_packages(args: argparse.Namespace, assistant: Any) -> int:
    from kbassist.evals import EVALS_ROOT, load_history, save_baseline
    from kbassist.evals.packages import run_packages

    result = run_packages(assistant, args.package, evals_root=EVALS_ROOT, repeat=args.repeat,
                          record_history=not args.no_history, only=args.only)
    for name, run in result.runs.items():
        if args.save_baseline:
            target = EVALS_ROOT / "packages" / name / "baseline.json"
            save_baseline(run, target)
            print(f"wrote the baseline {target}", file=sys.stderr)
        if args.report_dir:
            folder = args.report_dir / name
            folder.mkdir(parents=True, exist_ok=True)
            history = [h for h in load_history(assistant.settings.data_dir)
                       if h.get("suite") == run.suite] or [run.history_entry()]
            (folder / "report.html").write_text(run.to_html(history), encoding="utf-8")
            (folder / "summary.md").write_text(run.to_markdown(), encoding="utf-8")
    if args.report_dir:
        args.report_dir.mkdir(parents=True, exist_ok=True)
        (args.report_dir / "summary.md").write_text(result.to_markdown(), encoding="utf-8")
        print(f"wrote {args.report_dir / 'summary.md'} and a report per package",
              file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print(result.to_markdown())
    return EXIT_OK if result.passed else EXIT_CHECK_FAILED


def cmd_diff(args: argparse.Namespace) -> int:
    from kbassist.app.operations import diff_versions

    result = diff_versions(_settings(args).kb, args.old, args.new)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print(result.to_markdown(), end="")
    return EXIT_OK


def cmd_ui(args: argparse.Namespace) -> int:
    from kbassist.ui.app import launch

    launch(_settings(args), host=args.host, port=args.port)
    return EXIT_OK


def cmd_hash_password(args: argparse.Namespace) -> int:
    from kbassist.app.auth import main as hash_main

    try:
        return hash_main()
    except EOFError as exc:
        raise KbassistError("no password given (type it twice at the prompts)") from exc


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "hash-password": cmd_hash_password,
    "index": cmd_index,
    "ask": cmd_ask,
    "draft": cmd_draft,
    "rfp": cmd_rfp,
    "fit": cmd_fit,
    "audit": cmd_audit,
    "gaps": cmd_gaps,
    "report": cmd_report,
    "lint": cmd_lint,
    "eval": cmd_eval,
    "diff": cmd_diff,
    "ui": cmd_ui,
}


def main(argv: Sequence[str] | None = None) -> int:
    configure_offline_environment()
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        print(f"kbassist: error: the knowledge package has {count} error(s); nothing was indexed "
              "and any previous index stays in service", file=sys.stderr)
        return EXIT_USAGE
    except KbassistError as exc:
        print(f"kbassist: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("kbassist: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `kbassist audit | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
