"""One closing line for a test run made of several pytest runs (`./run test`).

    python tests/junit_totals.py REPORT.xml [REPORT.xml ...]
prints `Total: N passed, N failed, N skipped`, summed over the JUnit reports given (a
missing or broken report counts nothing: its run's own failure is in the exit code).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET  # our own pytest's reports

COUNTS = ("tests", "failures", "errors", "skipped")


def totals(paths: list[str]) -> dict[str, int]:
    summed = dict.fromkeys(COUNTS, 0)
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError):
            continue
        for suite in root.iter("testsuite"):
            for key in COUNTS:
                summed[key] += int(suite.get(key, 0))
    return summed


def main() -> None:
    found = totals(sys.argv[1:])
    failed = found["failures"] + found["errors"]
    passed = found["tests"] - failed - found["skipped"]
    print(f"Total: {passed} passed, {failed} failed, {found['skipped']} skipped")


if __name__ == "__main__":
    main()
