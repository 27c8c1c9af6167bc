import hashlib

import pytest

from distilleval.files import file_sha256, write_text_atomic


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
