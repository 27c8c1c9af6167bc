import pytest

from distilleval.files import write_text_atomic


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
