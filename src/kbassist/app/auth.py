"""The app's users file: who may sign in to ``kbassist ui``, with salted, slow password hashes.

The file (``KBASSIST_AUTH_FILE``) is YAML or JSON, one ``username: hash`` pair per user::

    dana: "pbkdf2_sha256$600000$3f9c...$Jx2...="

A hash is ``pbkdf2_sha256$ITERATIONS$SALT$DIGEST`` (PBKDF2-HMAC-SHA256 from the standard
library, base64 digest), so no password is ever stored. Make one with::

    .venv/bin/python -m kbassist.app.auth  # prompts for the password, prints the hash

Verification takes the same time for an unknown user as for a wrong password, so a login
form doesn't reveal who has an account.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import secrets
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from kbassist.core.errors import UsageError

ALGORITHM = "pbkdf2_sha256"
# OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256; about 0.3 s per sign-in on one core.
DEFAULT_ITERATIONS = 600_000
MIN_ITERATIONS = 1_000  # anything lower is a typo or a test fixture gone astray


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS,
                  salt: str | None = None) -> str:
    """The users-file value for ``password``."""
    if not password:
        raise UsageError("the password is empty")
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"{ALGORITHM}${iterations}${salt}${base64.b64encode(digest).decode()}"


def _parse(encoded: str) -> tuple[int, str, bytes]:
    """(iterations, salt, digest); raises ValueError on anything malformed."""
    algorithm, iterations, salt, digest = encoded.split("$")
    if algorithm != ALGORITHM or not salt:
        raise ValueError(encoded)
    rounds = int(iterations)
    if rounds < MIN_ITERATIONS:
        raise ValueError(encoded)
    return rounds, salt, base64.b64decode(digest, validate=True)


def verify_password(password: str, encoded: str) -> bool:
    try:
        iterations, salt, expected = _parse(encoded)
    except ValueError:
        return False
    actual = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return hmac.compare_digest(actual, expected)


def load_users(path: Path) -> dict[str, str]:
    """Read and check a users file; every problem names the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the users file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML or JSON ({exc})") from exc
    if not isinstance(data, dict) or not data:
        raise UsageError(f"{path}: expected a mapping of username to password hash")
    users: dict[str, str] = {}
    for name, encoded in data.items():
        if not isinstance(name, str) or not name.strip():
            raise UsageError(f"{path}: user names must be non-empty text")
        try:
            _parse(str(encoded))
        except ValueError:
            raise UsageError(f"{path}: the hash for {name!r} is not a {ALGORITHM} hash; make "
                             "one with 'python -m kbassist.app.auth'") from None
        users[name] = str(encoded)
    return users


def make_authenticator(users: Mapping[str, str]) -> Callable[[str, str], bool]:
    """A ``(username, password) -> bool`` check for ``gr.Blocks.launch(auth=...)``."""
    decoy = hash_password(secrets.token_hex(8), iterations=DEFAULT_ITERATIONS)

    def authenticate(username: str, password: str) -> bool:
        encoded = users.get(username)
        matched = verify_password(password, encoded or decoy)
        return matched and encoded is not None

    return authenticate


def main() -> int:
    """Prompt for a password twice and print its hash for the users file."""
    password = getpass.getpass("Password: ")
    if password != getpass.getpass("Again: "):
        print("the passwords differ", file=sys.stderr)
        return 2
    try:
        print(hash_password(password))
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
