"""File helpers: atomic writes (readers see the old file or the new one, never half of one) and content hashes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through ``<name>.tmp`` in the same folder, renamed over it.

    The rename is atomic on one file system, so an interrupted write leaves the old file in
    place; the temp file is removed when the write fails. The folder must already exist.

    Args:
        path: the file to create or replace.
        text: its whole new content.

    Raises:
        OSError: the temp file cannot be written or renamed.
    """
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks so a large data file is never held whole.

    Args:
        path: the file.

    Returns:
        64 lowercase hex digits.

    Raises:
        OSError: the file cannot be read.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
