"""README lists every `satukartu` command, and the reader's variables as its options
declare them (regenerate with `.venv/bin/python -m backend.cli_docs commands|reader`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.cli_docs import commands
from card_reader.cli import environment_table

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(name: str) -> str:
    found = re.search(rf"<!-- {name}:start[^>]*-->\n(.*?)<!-- {name}:end -->", README.read_text(),
                      re.S)
    assert found, f"README has no {name} block"
    return found.group(1)


@pytest.mark.parametrize("path", [path for path, _ in commands()])
def test_readme_lists_the_command(path):
    assert re.search(rf"`satukartu {re.escape(path)}[ `]", _block("commands")), (
        f"README's command list lacks `satukartu {path}`: "
        ".venv/bin/python -m backend.cli_docs commands")


def test_readme_lists_the_readers_variables_as_its_options_declare_them():
    assert _block("reader-env").strip() == environment_table(), (
        "README's reader variables are stale: .venv/bin/python -m backend.cli_docs reader")
