"""tests/environment.py: a missing outside requirement skips locally and fails under CI=true."""

import pytest

from tests import environment


def test_a_missing_requirement_skips_with_its_reason_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="^chromium not found$"):
        environment.missing("chromium not found")


def test_a_missing_requirement_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="chromium not found .CI=true"):
        environment.missing("chromium not found")


@pytest.mark.parametrize("ci", ["true", None])
def test_absent_shared_data_goes_through_the_same_rule(monkeypatch, tmp_path, ci):
    if ci:
        monkeypatch.setenv("CI", ci)
    else:
        monkeypatch.delenv("CI", raising=False)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    (tmp_path / "banking77").mkdir()
    (tmp_path / "banking77" / "train.csv").write_text("text,category\n")
    monkeypatch.setattr(environment, "shared_data_dir", lambda: tmp_path)
    assert environment.require_shared_data("banking77/train.csv") == tmp_path / "banking77" / "train.csv"
    with pytest.raises(expected, match="shared/data/banking77/test.csv is not present"):
        environment.require_shared_data("banking77/test.csv")
    monkeypatch.setattr(environment, "shared_data_dir", lambda: None)
    with pytest.raises(expected, match="shared/data is not present on this machine"):
        environment.require_shared_data("banking77/train.csv")
