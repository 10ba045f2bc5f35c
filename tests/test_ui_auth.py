"""The app's users file: PBKDF2 hashes, a strict loader, and a constant-shape login check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbassist.app.auth import hash_password, load_users, make_authenticator, verify_password
from kbassist.core.errors import UsageError

FAST = 1_000  # iterations: enough to exercise the format, quick enough for tests


def test_hash_round_trips_and_is_salted() -> None:
    first = hash_password("s3cret", iterations=FAST)
    second = hash_password("s3cret", iterations=FAST)
    assert first != second  # a fresh salt each time
    assert first.startswith(f"pbkdf2_sha256${FAST}$")
    assert verify_password("s3cret", first)
    assert not verify_password("S3cret", first)


@pytest.mark.parametrize("encoded", [
    "", "plain-text-password", "md5$1000$salt$abc=", "pbkdf2_sha256$10$salt$abc=",
    "pbkdf2_sha256$many$salt$abc=", "pbkdf2_sha256$1000$$abc=", "pbkdf2_sha256$1000$salt$%%%",
])
def test_malformed_hashes_never_verify(encoded: str) -> None:
    assert not verify_password("anything", encoded)


def test_empty_password_is_refused() -> None:
    with pytest.raises(UsageError):
        hash_password("")


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_users_file_in_yaml_or_json(tmp_path: Path, suffix: str) -> None:
    users = {"dana": hash_password("pw-dana", iterations=FAST)}
    path = tmp_path / f"users{suffix}"
    path.write_text(json.dumps(users), encoding="utf-8")  # JSON is valid YAML too
    assert load_users(path) == users


@pytest.mark.parametrize("text, message", [
    ("[]", "expected a mapping"),
    ("{}", "expected a mapping"),
    ("dana: hunter2", "is not a pbkdf2_sha256 hash"),
    ("dana: [", "not valid YAML or JSON"),
])
def test_bad_users_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        load_users(path)


def test_missing_users_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the users file"):
        load_users(tmp_path / "nope.yaml")


def test_authenticator_accepts_only_the_right_pair() -> None:
    check = make_authenticator({"dana": hash_password("pw-dana", iterations=FAST)})
    assert check("dana", "pw-dana")
    assert not check("dana", "wrong")
    assert not check("eve", "pw-dana")
