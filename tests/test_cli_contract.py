"""The `satukartu` commands that scripts outside the code depend on keep their names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from backend import config
from backend.cli import main

STABLE = [
    ("demo",), ("db", "upgrade"), ("registry", "synth"), ("registry", "import"),
    ("serve",), ("worker",), ("beat",), ("ca", "init"), ("vcard",), ("card", "issue"),
    ("card", "suspend"), ("card", "reinstate"), ("card", "revoke"), ("reader",),
    ("audit", "verify"),
]
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("path", STABLE, ids=" ".join)
def test_stable_command_exists(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("option", ["--state", "--port"])
def test_vcard_keeps_its_options(option):
    assert option in CliRunner().invoke(main, ["vcard", "--help"]).output


@pytest.mark.parametrize("option", ["--once", "--json", "--pin"])
def test_reader_keeps_its_options(option):
    assert option in CliRunner().invoke(main, ["reader", "--help"]).output


@pytest.mark.parametrize("option", ["--citizen", "--reader", "--pin", "--json"])
def test_card_issue_keeps_its_options(option):
    assert option in CliRunner().invoke(main, ["card", "issue", "--help"]).output


def test_readme_documents_every_setting_as_the_code_declares_it():
    text = README.read_text()
    for row in config.markdown_table().splitlines()[2:]:
        assert row in text, f"README's configuration table is stale: {row}"


def test_readme_names_the_two_commands_that_ci_runs():
    text = README.read_text()
    assert re.search(r"^\./run demo", text, re.M) and re.search(r"^\./run test", text, re.M)
    ci = (README.parent / ".ci" / "run").read_text()
    assert "./run test" in ci


BLOCK_HUB = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"flask", "sqlalchemy", "celery", "alembic", "pydantic"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from backend.cli import main
main(["--help"])
"""


def test_reader_commands_work_without_the_hub_dependencies():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", BLOCK_HUB], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "reader" in done.stdout and "vcard" in done.stdout
    assert "registry" not in done.stdout
