import hashlib
import os
from pathlib import Path

import pytest

from distilleval.files import LockHeld, claim_new_directory, exclusive_lock, file_sha256, write_text_atomic


def test_write_text_atomic_replaces_the_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text("old", encoding="utf-8")
    write_text_atomic(path, "new ✓\n")
    assert path.read_text(encoding="utf-8") == "new ✓\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_failed_write_keeps_the_old_file_and_removes_the_temp(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("old", encoding="utf-8")
    # A lone surrogate cannot be encoded as UTF-8: the failure comes after the temp file is open.
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(path, "half \ud800 written")
    assert path.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_file_sha256_changes_with_content(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"label": "shipping"}\n', encoding="utf-8")
    b.write_text('{"label": "billing"}\n', encoding="utf-8")
    assert file_sha256(a) != file_sha256(b)
    assert len(file_sha256(a)) == 64


def test_file_sha256_matches_hashing_the_whole_file_across_block_boundaries(tmp_path):
    # Larger than one 1 MiB read block, so the streamed digest must join blocks correctly.
    path = tmp_path / "big.bin"
    path.write_bytes(bytes(range(256)) * 5000)
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_write_text_atomic_from_two_processes_at_once_never_fails(tmp_path):
    # With one fixed temp name, one process renamed or removed the other's temp file:
    # FileNotFoundError on 113-174 of 600 writes.
    import subprocess
    import sys

    target = tmp_path / "summary.json"
    script = (
        "import sys; from pathlib import Path; from distilleval.files import write_text_atomic\n"
        "for i in range(300):\n    write_text_atomic(Path(sys.argv[1]), sys.argv[2] * 1000)\n"
    )
    root = Path(__file__).resolve().parents[1]
    writers = [subprocess.Popen([sys.executable, "-c", script, str(target), tag], cwd=root,
                                stderr=subprocess.PIPE, text=True) for tag in "ab"]
    errors = [writer.communicate(timeout=120)[1] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], errors
    assert target.read_text() in ("a" * 1000, "b" * 1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_claim_new_directory_never_hands_out_one_folder_twice(tmp_path):
    first = claim_new_directory(tmp_path / "runs", "intents-score-20260101-000000")
    second = claim_new_directory(tmp_path / "runs", "intents-score-20260101-000000")
    third = claim_new_directory(tmp_path / "runs", "intents-score-20260101-000000")
    assert [first.name, second.name, third.name] == [
        "intents-score-20260101-000000", "intents-score-20260101-000000-2", "intents-score-20260101-000000-3"]
    assert all(folder.is_dir() for folder in (first, second, third))


def test_exclusive_lock_refuses_a_second_holder_until_released(tmp_path):
    lock = tmp_path / ".lock"
    with exclusive_lock(lock):
        with pytest.raises(LockHeld) as held:
            with exclusive_lock(lock):
                pass
        assert held.value.holder == str(os.getpid())
    with exclusive_lock(lock):
        pass


def test_exclusive_lock_leaves_no_file_behind(tmp_path):
    with exclusive_lock(tmp_path / ".lock"):
        assert (tmp_path / ".lock").read_text() == str(os.getpid())
    assert list(tmp_path.iterdir()) == []
