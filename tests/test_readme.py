"""The README stays in step with the settings and the commands."""

from conftest import ROOT

from config import SETTINGS

README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme():
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in README]

    assert missing == []


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    assert "make run" in README
    assert "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()
