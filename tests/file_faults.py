"""Real file-system faults for tests: a folder that cannot be written, and damaged SQLite files.

A read-only folder is a read-only bind mount when the tests run as root (root writes through
``chmod``), else plain ``chmod 555``; where neither can be had the test is skipped, never faked.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def read_only_folder(folder: Path) -> Iterator[Path]:
    """``folder`` made read-only for the block (its files can be read, nothing created, renamed or written)."""
    folder = Path(folder)
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(mode)
        return
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot make a read-only folder as root here: {mounted.stderr.decode().strip()}")
    try:
        remounted = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True)
        if remounted.returncode != 0:
            pytest.skip(f"cannot remount read-only: {remounted.stderr.decode().strip()}")
        probe = folder / ".probe"
        try:
            probe.write_text("x")
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("the read-only mount still takes writes here")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def checkpointed(path: Path) -> None:
    """Fold a WAL-mode SQLite file's ``-wal`` into the file itself, so its bytes are all there."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def damage_a_page(path: Path, *, seed: int = 0) -> int:
    """Overwrite one page in the middle of an SQLite file with random bytes (the header page
    is kept, so the file still opens); returns the page number (1-based)."""
    checkpointed(path)
    with sqlite3.connect(path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    pages = path.stat().st_size // page_size
    assert pages >= 3, f"{path} has only {pages} pages"
    page = pages // 2 + 1
    with path.open("r+b") as handle:
        handle.seek((page - 1) * page_size)
        handle.write(random.Random(seed).randbytes(page_size))
    return page


@contextmanager
def small_disk(folder: Path, size_kib: int) -> Iterator[Path]:
    """A file system of ``size_kib`` KiB mounted at ``folder`` for the block (a disk that fills up).

    Needs root (a tmpfs mount); the test is skipped elsewhere.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a small file system needs root (tmpfs mount)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)
