"""File helpers: atomic writes (readers see the old file or the new one, never half of one),
content hashes, new directories claimed atomically, and exclusive locks between processes."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temp file in the same folder, renamed over it.

    The rename is atomic on one file system, so an interrupted write leaves the old file in
    place; the temp file is removed when the write fails. Its name is unique per call
    (``<name>.<pid>.<random>.tmp``), so processes writing the same path at once never share
    or remove each other's temp file: each rename lands whole, the last one wins. The folder
    must already exist.

    Args:
        path: the file to create or replace.
        text: its whole new content.

    Raises:
        OSError: the temp file cannot be written or renamed.
    """
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("x", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def claim_new_directory(parent: Path, name: str) -> Path:
    """Create ``parent/name``, or ``name-2``, ``name-3``, ... whichever is free first.

    Creating is the claim (``mkdir`` fails when the folder exists), so two processes that
    pick the same name in the same second still get different folders.

    Raises:
        OSError: ``parent`` cannot be created or written.
    """
    parent.mkdir(parents=True, exist_ok=True)
    suffix = 1
    while True:
        candidate = parent / (name if suffix == 1 else f"{name}-{suffix}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            suffix += 1


class LockHeld(Exception):
    """Another process holds the lock; ``holder`` is its process id as it wrote it (or "")."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is held by process {holder or '(unknown)'}")
        self.path = path
        self.holder = holder


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` while the block runs; the file holds the
    holder's process id and is removed when the block ends.

    The lock is the operating system's (``flock``): it goes when the process dies, so a
    killed run never leaves a stale lock (at most an unlocked file, taken over by the next
    holder). It does not wait.

    Raises:
        LockHeld: another process holds it.
    """
    import fcntl

    for _ in range(3):
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise LockHeld(path, holder) from None
        # The last holder may have removed the file between our open and our lock: the lock
        # then guards a file nobody else can see, so open the path afresh.
        try:
            same_file = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same_file = False
        if same_file:
            break
        handle.close()
    else:
        raise LockHeld(path, "")
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        path.unlink(missing_ok=True)  # while still locked, so no one can take a file that is going away
        handle.close()  # closing releases the lock


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
