"""One exception hierarchy; the CLI turns these into one-line messages and exit code 2."""

from __future__ import annotations

from collections.abc import Sequence


class KbassistError(Exception):
    """Base class for errors a user can act on."""


class UsageError(KbassistError):
    """Bad flags, bad arguments or a bad input file."""


class KnowledgeError(KbassistError):
    """The knowledge package has problems; each one prints as ``path:line: message``."""

    def __init__(self, problems: Sequence[object]):
        self.problems = list(problems)
        count = len(self.problems)
        head = str(self.problems[0]) if self.problems else "unknown problem"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(f"knowledge package has {count} error(s): {head}{more}")


class IndexError_(KbassistError):
    """The index could not be built, opened or read."""


class BackendError(KbassistError):
    """An LLM backend failed (unreachable, bad key, unknown model, timeout)."""


class InputFileError(UsageError):
    """A spreadsheet or other input file cannot be used."""
