"""Fail the image's build when the installed SatuKartu lacks a file of the source tree
(a template, a translation, a migration): the wheel is what a city runs.

    python check_wheel.py SOURCE_DIR PACKAGE...
"""

import importlib.util
import sys
from pathlib import Path


def missing(source: Path, packages: list[str]) -> list[str]:
    absent = []
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            absent.append(f"{package}/ (not installed)")
            continue
        installed = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted((source / package).rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            relative = path.relative_to(source / package)
            if not (installed / relative).is_file():
                absent.append(f"{package}/{relative}")
    return absent


if __name__ == "__main__":
    absent = missing(Path(sys.argv[1]), sys.argv[2:])
    if absent:
        print(f"the installed package lacks {len(absent)} files of the source tree:",
              *absent[:40], sep="\n  ", file=sys.stderr)
        sys.exit(1)
