"""What every tab shares: the assistant, a dedicated output folder, friendly errors, pickers."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from kbassist.app.assistant import Assistant
from kbassist.core.errors import InputFileError, KbassistError
from kbassist.core.models import KnowledgePackage

log = logging.getLogger("kbassist.ui")

ANY = ""  # the pickers' "any persona / any segment" value
UNEXPECTED = "Something went wrong on our side; the details are in the server log."


@contextmanager
def user_errors(action: str) -> Iterator[None]:
    """KbassistError becomes a message in the app; anything else a generic one (the traceback
    goes to the server log only)."""
    try:
        yield
    except gr.Error:
        raise
    except KbassistError as exc:
        raise gr.Error(str(exc), title=f"Couldn't {action}", print_exception=False) from None
    except Exception:
        log.exception("unexpected error while trying to %s", action)
        raise gr.Error(UNEXPECTED, title=f"Couldn't {action}", print_exception=False) from None


@dataclass
class Outcome:
    """What ``reported`` caught: the one-line message a rep sees, if anything failed."""

    message: str | None = None


@contextmanager
def reported(action: str) -> Iterator[Outcome]:
    """Run a tab's work; a failure becomes a toast plus ``outcome.message`` for the tab to show
    in place of its result. A KbassistError says what to fix; anything else is a bug, logged
    with its traceback on the server and shown as a generic line."""
    outcome = Outcome()
    try:
        yield outcome
    except KbassistError as exc:
        outcome.message = str(exc)
    except Exception:
        log.exception("unexpected error while trying to %s", action)
        outcome.message = UNEXPECTED
    if outcome.message:
        gr.Warning(f"Couldn't {action}: {outcome.message}")


def persona_choices(package: KnowledgePackage, *, any_label: str | None) -> list[tuple[str, str]]:
    choices = [(p.name, p.id) for p in package.personas]
    return [(any_label, ANY), *choices] if any_label else choices


def segment_choices(package: KnowledgePackage) -> list[tuple[str, str]]:
    return [("Any segment", ANY), *((s.name, s.id) for s in package.segments)]


def safe_name(text: str, fallback: str) -> str:
    """A file name made only of letters, digits, dot, dash and underscore."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:60]
    return cleaned or fallback


@dataclass
class OutputFolder:
    """The only place the app writes files for download: a private temp folder per app, one
    sub-folder per browser session. Never the package or the data dir."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kbassist-ui-")))

    def session(self, request: gr.Request | None) -> Path:
        session = safe_name(getattr(request, "session_hash", None) or "", "shared")
        folder = self.root / session
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def fresh(self, request: gr.Request | None) -> Path:
        """A new, empty folder for one run (two runs never overwrite each other's files)."""
        return Path(tempfile.mkdtemp(dir=self.session(request)))

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def checked_upload(value: str | None, *, suffixes: tuple[str, ...], max_bytes: int,
                   blocked: list[Path]) -> Path:
    """An uploaded file's path, after checking it is one: a regular file in Gradio's upload
    folder, of an accepted type and size, and outside every blocked folder."""
    if not value:
        raise InputFileError("choose a file to upload first")
    path = Path(value).resolve()
    uploads = Path(gr.utils.get_upload_folder()).resolve()
    if not _inside(path, uploads) or any(_inside(path, b.resolve()) for b in blocked):
        raise InputFileError("that file was not uploaded through the app")
    if not path.is_file():
        raise InputFileError("the upload is missing; please upload the file again")
    if path.suffix.lower() not in suffixes:
        raise InputFileError(f"{path.name}: use a {' or '.join(suffixes)} file")
    if path.stat().st_size > max_bytes:
        raise InputFileError(f"{path.name} is larger than {max_bytes // 1_048_576} MB")
    return path


@dataclass
class UiContext:
    """Handed to every tab builder: the one assistant and where downloads go."""

    assistant: Assistant
    outputs: OutputFolder
    blocked: list[Path]

    @property
    def package(self) -> KnowledgePackage:
        return self.assistant.package
