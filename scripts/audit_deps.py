"""Audit the pinned dependencies against PyPI's vulnerability data (pip-audit's default source).

    python scripts/audit_deps.py [--lock requirements.lock] [--known security/known-advisories.json]

For each ``name==version`` in the lock file it asks PyPI's JSON API for that release's
advisories (``/pypi/NAME/VERSION/json``, what ``pip-audit -s pypi`` asks). Where a registry
serves only the project document (``/pypi/NAME/json``, as the PyPI mirror on our CI machines
does), that document's advisories are those of the latest release, so they are used when the
pin *is* the latest release; older pins are listed as unaudited, never passed silently.

Exit codes: 0 no advisory left; 1 an advisory that isn't acknowledged in the known-advisories
file, or an acknowledgement past its review date; 2 bad input or the registry unreachable.
Stdlib only, so it runs before (or without) the venv.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = "https://pypi.org/pypi"


class AuditError(Exception):
    """Bad input or an unreachable registry: one line, exit 2."""


@dataclass
class Finding:
    name: str
    version: str
    ids: list[str]  # the advisory id first, then its aliases
    fixed_in: list[str]
    summary: str


@dataclass
class Report:
    audited: int = 0
    unaudited: list[str] = field(default_factory=list)  # name==version (why)
    findings: list[Finding] = field(default_factory=list)


def read_lock(path: Path) -> list[tuple[str, str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AuditError(f"{path}: {exc.strerror or exc}") from None
    pins = []
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not name.strip() or not version.strip():
            raise AuditError(f"{path}:{number}: not a name==version pin: {raw.strip()}")
        pins.append((name.strip(), version.strip()))
    if not pins:
        raise AuditError(f"{path}: no pins")
    return pins


def _get(url: str, timeout: float) -> dict[str, Any] | None:
    """The JSON at ``url``; None for 404; AuditError when the registry can't be reached."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise AuditError(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AuditError(f"{url}: registry unreachable ({reason})") from None
    except ValueError:
        raise AuditError(f"{url}: the registry answered with something that isn't JSON") from None


def advisories(name: str, version: str, registry: str,
               timeout: float) -> list[dict[str, Any]] | str:
    """The release's advisories, or a string saying why it could not be audited."""
    release = _get(f"{registry}/{name}/{version}/json", timeout)
    if release is not None:
        return list(release.get("vulnerabilities") or [])
    project = _get(f"{registry}/{name}/json", timeout)
    if project is None:
        return "not on the registry"
    latest = str((project.get("info") or {}).get("version", ""))
    if "vulnerabilities" not in project:
        return "the registry serves no vulnerability data"
    if latest != version:
        return f"the registry has advisories only for the latest release, {latest}"
    return list(project["vulnerabilities"] or [])


def audit(pins: list[tuple[str, str]], *, registry: str = REGISTRY,
          timeout: float = 30.0) -> Report:
    report = Report()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda pin: advisories(*pin, registry, timeout), pins))
    for (name, version), answer in zip(pins, answers, strict=True):
        if isinstance(answer, str):
            report.unaudited.append(f"{name}=={version} ({answer})")
            continue
        report.audited += 1
        for vuln in answer:
            if vuln.get("withdrawn"):
                continue
            report.findings.append(Finding(
                name=name, version=version,
                ids=[str(vuln.get("id"))] + [str(a) for a in vuln.get("aliases") or []],
                fixed_in=[str(v) for v in vuln.get("fixed_in") or []],
                summary=" ".join(str(vuln.get("summary") or vuln.get("details") or "").split())))
    return report


def read_known(path: Path) -> dict[str, dict[str, str]]:
    """Acknowledged advisories: {id: {"package", "reason", "review_by"}}."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise AuditError(f"{path}: not valid JSON ({exc})") from None
    known = {}
    for entry in data.get("advisories", []):
        missing = {"id", "package", "reason", "review_by"} - set(entry)
        if missing:
            missing_keys = ', '.join(sorted(missing))
            raise AuditError(f"{path}: {entry.get('id', '?')}: missing {missing_keys}")
        try:
            date.fromisoformat(entry["review_by"])
        except ValueError:
            raise AuditError(f"{path}: {entry['id']}: review_by is not a YYYY-MM-DD date") from None
        known[entry["id"]] = entry
    return known


def judge(report: Report, known: dict[str, dict[str, str]],
          today: date) -> tuple[list[str], list[str]]:
    """(problems that fail the audit, acknowledged findings), one line each."""
    groups: list[tuple[set[str], Finding]] = []  # PYSEC and GHSA records of one advisory
    for finding in report.findings:
        same = next((g for g in groups if g[1].name == finding.name and g[0] & set(finding.ids)),
                    None)
        if same is None:
            groups.append((set(finding.ids), finding))
        else:
            same[0].update(finding.ids)
    problems, acknowledged = [], []
    for ids, finding in groups:
        key = next((i for i in sorted(ids)
                    if i in known and known[i]["package"].lower() == finding.name.lower()), None)
        label = f"{finding.name}=={finding.version}: {' / '.join(sorted(ids))}"
        fix = f"fixed in {', '.join(finding.fixed_in)}" if finding.fixed_in else "no fixed release"
        if key is None:
            problems.append(f"{label} ({fix}): {finding.summary[:160]}")
        elif date.fromisoformat(known[key]["review_by"]) < today:
            problems.append(f"{label}: acknowledged until {known[key]['review_by']}; review it")
        else:
            acknowledged.append(f"{label} ({fix}): acknowledged: {known[key]['reason']}")
    return problems, acknowledged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements.lock")
    parser.add_argument("--known", type=Path, default=ROOT / "security" / "known-advisories.json")
    parser.add_argument("--registry", default=REGISTRY, help="JSON API root (tests)")
    parser.add_argument("--today", type=date.fromisoformat, default=date.today())
    args = parser.parse_args(argv)
    try:
        pins = read_lock(args.lock)
        known = read_known(args.known)
        report = audit(pins, registry=args.registry.rstrip("/"))
    except AuditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problems, acknowledged = judge(report, known, args.today)
    for line in acknowledged:
        print(f"known: {line}")
    for line in report.unaudited:
        print(f"unaudited: {line}")
    for line in problems:
        print(f"VULNERABLE: {line}")
    print(f"{len(pins)} pins: {report.audited} audited, {len(report.unaudited)} unaudited, "
          f"{len(acknowledged)} acknowledged advisories, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
