"""Service modules import nothing of the hub but the plugin interface."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MODULE_FILES = sorted((ROOT / "services").rglob("*.py")) + sorted(
    (Path(__file__).parent / "thirdparty_pkg").rglob("*.py"))


def imported(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_service_module_imports_only_the_plugin_interface(path):
    hub = {name for name in imported(path)
           if name == "backend" or name.startswith(("backend.", "admin", "card_reader", "flask"))}
    assert hub <= {"backend.services"}, f"{path} reaches into the hub: {sorted(hub)}"


def test_every_programme_has_the_same_shape():
    for package in sorted(p for p in (ROOT / "services").iterdir() if p.is_dir()
                          and not p.name.startswith("__")):
        assert {f.name for f in package.glob("*.py")} >= {"__init__.py", "module.py",
                                                          "rules.py", "schemas.py"}, package
