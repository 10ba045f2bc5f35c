"""Package versions from folders or git: ``export_version(spec, kb)`` turns a CLI argument
into a package folder: a folder path, or a git ref (``HEAD~1``, ``v1.2``, ``main:knowledge``)
exported with ``git archive`` into a temporary folder."""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory

from kbassist.core.errors import UsageError


@dataclass
class Version:
    """One side of a diff: where it came from and the date it stood for."""

    label: str
    path: Path
    as_of: date


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"git failed: {exc}") from exc


def _repo_root(start: Path) -> Path | None:
    folder = start if start.is_dir() else start.parent
    while not folder.exists():
        folder = folder.parent
    done = _git(["rev-parse", "--show-toplevel"], folder)
    return Path(done.stdout.decode().strip()) if done.returncode == 0 else None


@contextmanager
def export_version(spec: str, kb: Path, today: date | None = None) -> Iterator[Version]:
    """A package folder for ``spec``: an existing folder, else a git ref exported with
    ``git archive`` (``REF`` exports the ``kb`` folder's path at REF; ``REF:path`` another
    path). The temporary export is removed on exit."""
    today = today or date.today()
    folder = Path(spec)
    if folder.is_dir():
        yield Version(spec, folder, today)
        return
    root = _repo_root(kb.resolve())
    if root is None:
        raise UsageError(f"{spec}: not a folder, and {kb} is not inside a git repository")
    ref, _, rel = spec.partition(":")
    if not rel:
        try:
            rel = kb.resolve().relative_to(root).as_posix()
        except ValueError as exc:
            raise UsageError(f"{kb} is not inside the git repository {root}") from exc
    archive = _git(["archive", "--format=tar", ref, "--", rel], root)
    if archive.returncode != 0:
        message = archive.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"{spec}: not a folder and not a git ref with {rel}/ "
                         f"({message[-1] if message else 'git archive failed'})")
    with TemporaryDirectory(prefix="kbassist-diff-") as temp:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(temp, filter="data")
        yield Version(spec, Path(temp) / rel, _commit_date(ref, root) or today)


def _commit_date(ref: str, root: Path) -> date | None:
    done = _git(["log", "-1", "--format=%cs", ref, "--"], root)
    try:
        return date.fromisoformat(done.stdout.decode().strip()) if done.returncode == 0 else None
    except ValueError:
        return None
