"""card_reader talks to the hub over HTTP only, and pyscard lives in one adapter."""

from __future__ import annotations

import ast
from pathlib import Path

import card_reader

PACKAGE = Path(card_reader.__file__).parent
FORBIDDEN = ("flask", "backend", "admin", "services", "sqlalchemy", "celery")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_card_reader_imports_nothing_of_the_hub():
    for path in PACKAGE.rglob("*.py"):
        bad = {n for n in imports_of(path) if n.split(".")[0] in FORBIDDEN}
        assert not bad, f"{path} imports {bad}"


def test_only_pcsc_module_imports_pyscard():
    users = {path.name for path in PACKAGE.rglob("*.py")
             if any(n.split(".")[0] == "smartcard" for n in imports_of(path))}
    assert users == {"pcsc.py"}


PLAIN_DATA = {"__future__", "collections.abc", "dataclasses", "enum"}


def test_piv_module_does_no_io_and_no_crypto():
    assert imports_of(PACKAGE / "piv.py") <= PLAIN_DATA | {"card_reader.ber"}


def test_ber_module_does_no_io_and_no_crypto():
    assert imports_of(PACKAGE / "ber.py") <= PLAIN_DATA
