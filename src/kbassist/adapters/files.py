"""The one atomic file writer: readers see the old file or the new one, never half of one.

A temporary file is written beside the target and ``os.replace``d over it. ``durable`` also
fsyncs the file and its folder, so the new version survives a power loss, not just a crash.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_atomic(path: Path, write: Callable[[IO[bytes]], None], *, durable: bool = True,
                 mode: int | None = None) -> None:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path``.
    ``mode`` sets the file's permissions (else the umask applies, as for any new file).
    On any failure the temporary file is removed and ``path`` is untouched."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def write_text_atomic(path: Path, text: str, *, durable: bool = True,
                      mode: int | None = None) -> None:
    data = text.encode("utf-8")

    def write(handle: IO[bytes]) -> None:
        handle.write(data)

    write_atomic(path, write, durable=durable, mode=mode)


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not supported on this platform
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
