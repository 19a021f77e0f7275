"""Bulk import of a city's registry from CSV: every row checked, all or nothing.

The CSV format is described in `backend.registry.csvformat`. The import runs in one
transaction in four steps:

1. each row is checked on its own (RowParser), the rules between rows as the rows pass
   (AcrossRows: a number twice in the file, a family card without exactly one head, a
   household whose rows disagree on the decile), and the good rows are streamed into a
   temporary staging table: COPY on PostgreSQL (psycopg's cursor.copy), executemany
   batches on SQLite;
2. the staged rows are checked against the registry in SQL: a national number or a
   family card already registered;
3. if any row is bad, every problem is reported with its line and nothing is written;
4. otherwise set-based INSERT ... SELECT statements move the rows into the registry
   (people, households, members, enrolments, health), and one audit record names the
   file (and its SHA-256), who imported it and the counts. People's history rows start
   with their first change after the import: a history row per person would cost as
   much as the people themselves;
5. the people imported are screened for duplicates (`dedup.review.check_import`): a
   person who looks like someone registered, or like another row, is imported and the
   pair put in the clerks' queue, never merged or dropped. A number already registered
   is refused in step 2, as a different person never shares one.

Row-by-row ORM inserts would take an hour for a city; this takes about a minute for
a million people on PostgreSQL (bench/bench_import.py, BENCHMARKS.md).
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from backend.db import driver_connection
from backend.registry import bulk, trail
from backend.registry.csvformat import (
    STAGED,
    AcrossRows,
    BadRow,
    RowError,
    RowParser,
    check_header,
)
from backend.registry.dedup import review
from backend.registry.history import Actor

MAX_REPORTED = 1000
SQLITE_BATCH = 5000
STAGING = "registry_import_rows"


@dataclass
class ImportReport:
    source: str
    rows: int = 0
    citizens: int = 0
    households: int = 0
    enrolments: int = 0
    health: int = 0
    duplicates: int = 0  # pairs put in the clerks' queue (step 5)
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append(error)


class ImportFailed(Exception):
    """Bad rows: nothing was written. `report.errors` lists them with line numbers."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{report.error_count} problem(s) in {report.source}")
        self.report = report


def import_csv(engine: Engine, source: Path, *, formats: Sequence[str],
               actor: Actor | None = None, progress: Callable[[int], None] | None = None,
               screen: bool = True) -> ImportReport:
    """Import `source` into the registry on `engine`, all or nothing.

    `progress(n)` is called with the number of characters read since the last call.
    `screen` False skips the duplicate screening: only for a registry made up whole
    (the synthetic city, the benchmarks), never for a city's file.
    Raises ImportFailed (with every problem found) when any row is bad.
    """
    started = time.perf_counter()
    report = ImportReport(source=str(source))
    actor = actor or Actor("system", "import")
    with engine.connect() as conn:
        try:
            with conn.begin():
                _create_staging(conn)
                with _phase(report, "check rows and stage"):
                    _stage(conn, source, formats, report, progress)
                with _phase(report, "check against registry"):
                    _check_registered(conn, report)
                if report.error_count:
                    report.errors.sort(key=lambda error: error.line)
                    raise ImportFailed(report)
                with _phase(report, "insert"):
                    _move(conn, report, actor, source)
                if screen:
                    with _phase(report, "screen for duplicates"):
                        _screen(conn, report)
        finally:
            if conn.dialect.name == "sqlite":  # PostgreSQL drops it at commit or rollback
                with conn.begin():
                    conn.exec_driver_sql("DROP TABLE IF EXISTS temp.registry_import_rows")
    report.seconds = time.perf_counter() - started
    return report


@contextmanager
def _phase(report: ImportReport, name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    report.phases[name] = time.perf_counter() - started


def _create_staging(conn: Connection) -> None:
    pg = conn.dialect.name == "postgresql"
    # On PostgreSQL each staged row takes its citizen id from the citizens sequence as it
    # is copied, so later steps need no join on the national number to find it.
    citizen_id = ("integer DEFAULT nextval(pg_get_serial_sequence('citizens', 'id'))"
                  if pg else "integer")
    on_commit = " ON COMMIT DROP" if pg else ""
    conn.exec_driver_sql(f"""
        CREATE TEMPORARY TABLE {STAGING} (
            line integer NOT NULL, national_number varchar(32) NOT NULL,
            full_name varchar(200) NOT NULL, name_search varchar(200) NOT NULL,
            birth_date date NOT NULL, sex varchar(1) NOT NULL, address varchar(300) NOT NULL,
            region_code varchar(10) NOT NULL, language varchar(8) NOT NULL,
            photo_ref varchar(200), died_on date, family_card_number varchar(32),
            relationship varchar(8), welfare_decile integer, school_code varchar(32),
            school_name varchar(200), school_level varchar(8), school_grade integer,
            academic_year varchar(9), facility_code varchar(32), facility_name varchar(200),
            jkn_class integer, premium_assisted boolean,
            citizen_id {citizen_id}){on_commit}""")


def _rows(source: Path, report: ImportReport, formats: Sequence[str],
          progress: Callable[[int], None] | None) -> Iterator[tuple[Any, ...]]:
    """The staged tuples of the good rows; bad rows and rules between rows to the report."""
    with source.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(_counting(handle, progress))
        header = next(reader, None)
        if header is None:
            report.add_error(RowError(1, None, "the file is empty"))
            return
        positions, errors = check_header(header)
        for error in errors:
            report.add_error(error)
        if errors:
            return
        parse = RowParser(positions, formats).parse
        across = AcrossRows()
        card_at = positions.get("family_card_number")
        line = reader.line_num
        for row in reader:
            start, line = line + 1, reader.line_num
            if not row:
                continue
            report.rows += 1
            try:
                staged = parse(start, row)
            except BadRow as bad:
                report.add_error(RowError(start, bad.column, bad.problem))
                if card_at is not None and card_at < len(row):
                    across.taint(row[card_at].strip())
                continue
            problem = across.add(staged)
            if problem is None:
                yield staged
            else:
                report.add_error(problem)
        for error in across.households():
            report.add_error(error)


def _counting(handle: Any, progress: Callable[[int], None] | None) -> Iterator[str]:
    """The file's lines, reporting progress every megabyte or so (if asked)."""
    return handle if progress is None else _reporting(handle, progress)


def _reporting(handle: Any, progress: Callable[[int], None]) -> Iterator[str]:
    pending = 0
    for text in handle:
        pending += len(text)
        if pending > 1 << 20:
            progress(pending)
            pending = 0
        yield text
    progress(pending)


def _stage(conn: Connection, source: Path, formats: Sequence[str], report: ImportReport,
           progress: Callable[[int], None] | None) -> None:
    rows = _rows(source, report, formats, progress)
    try:
        if conn.dialect.name == "postgresql":
            _copy(conn, rows)
        else:
            _executemany(conn, rows)
    except UnicodeDecodeError as exc:
        report.add_error(RowError(report.rows + 1, None, f"not UTF-8 text ({exc.reason})"))
        # On PostgreSQL the COPY was cut short and took the transaction with it: report
        # now, as no further check can run in it.
        report.errors.sort(key=lambda error: error.line)
        raise ImportFailed(report) from exc


def _copy(conn: Connection, rows: Iterator[tuple[Any, ...]]) -> None:
    cursor = driver_connection(conn).cursor()
    with cursor.copy(f"COPY {STAGING} ({', '.join(STAGED)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    # Temporary tables are never analysed automatically; the joins below need the numbers.
    cursor.execute(f"ANALYZE {STAGING}")


def _executemany(conn: Connection, rows: Iterator[tuple[Any, ...]]) -> None:
    cursor = driver_connection(conn).cursor()
    # Constant names only: the staging table and its columns, never row data.
    statement = (f"INSERT INTO {STAGING} ({', '.join(STAGED)}) "  # noqa: S608
                 f"VALUES ({', '.join('?' * len(STAGED))})")
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= SQLITE_BATCH:
            cursor.executemany(statement, batch)
            batch.clear()
    if batch:
        cursor.executemany(statement, batch)
    cursor.close()


# What the file is checked against: the registry as it is (the file's own rules between
# rows are checked as it streams, in csvformat.AcrossRows).
REGISTERED_CHECKS = (
    ("national_number", """
        SELECT s.line, 'already registered (citizen ' || c.id || ')'
        FROM registry_import_rows s JOIN citizens c ON c.national_number = s.national_number"""),
    ("family_card_number", """
        SELECT s.line, 'family card already registered (household ' || h.id || ')'
        FROM registry_import_rows s
        JOIN households h ON h.family_card_number = s.family_card_number
        WHERE s.relationship = 'head'"""),
)


def _check_registered(conn: Connection, report: ImportReport) -> None:
    found: list[RowError] = []
    for column, query in REGISTERED_CHECKS:
        for line, problem in conn.exec_driver_sql(f"{query} ORDER BY 1 LIMIT {MAX_REPORTED}"):
            found.append(RowError(line, column, problem))
    for error in sorted(found, key=lambda e: e.line):
        report.add_error(error)


def _move(conn: Connection, report: ImportReport, actor: Actor, source: Path) -> None:
    pg = conn.dialect.name == "postgresql"
    if pg:
        # Hash joins and sorts of a million rows: give them memory for this transaction.
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
    if pg and bulk.worth_it(conn, report.rows):
        with bulk.indexes_built_after(conn):
            _insert_all(conn, report, pg)
    else:
        _insert_all(conn, report, pg)
    _audit(conn, report, actor, source)
    if pg:
        conn.exec_driver_sql("ANALYZE citizens, households, household_members, "
                             "school_enrolments, health_assignments")


def _insert_all(conn: Connection, report: ImportReport, pg: bool) -> None:
    report.citizens = _insert_citizens(conn, pg)
    report.households = _run(conn, """
        INSERT INTO households (family_card_number, head_citizen_id, region_code,
                                welfare_decile)
        SELECT family_card_number, citizen_id, region_code, welfare_decile
        FROM registry_import_rows WHERE relationship = 'head'""")
    if pg:  # fresh statistics, or the next join is planned as if households were empty
        conn.exec_driver_sql("ANALYZE households")
    _run(conn, """
        INSERT INTO household_members (citizen_id, household_id, relationship)
        SELECT s.citizen_id, h.id, s.relationship
        FROM registry_import_rows s
        JOIN households h ON h.family_card_number = s.family_card_number""")
    report.enrolments = _run(conn, """
        INSERT INTO school_enrolments (citizen_id, school_code, school_name, level, grade,
                                       academic_year, active)
        SELECT citizen_id, school_code, school_name, school_level, school_grade,
               academic_year, TRUE
        FROM registry_import_rows WHERE school_code IS NOT NULL""")
    report.health = _run(conn, """
        INSERT INTO health_assignments (citizen_id, facility_code, facility_name, jkn_class,
                                        premium_assisted, active)
        SELECT citizen_id, facility_code, facility_name, jkn_class, premium_assisted, TRUE
        FROM registry_import_rows WHERE facility_code IS NOT NULL""")


def _run(conn: Connection, statement: str, **params: Any) -> int:
    return conn.execute(sa.text(statement), params).rowcount


def _insert_citizens(conn: Connection, pg: bool) -> int:
    if pg:
        return _run(conn, """
            INSERT INTO citizens (id, national_number, full_name, name_search, birth_date, sex,
                                  address, region_code, language, photo_ref, died_on)
            SELECT citizen_id, national_number, full_name, name_search, birth_date, sex,
                   address, region_code, language, photo_ref, died_on
            FROM registry_import_rows""")
    count = _run(conn, """
        INSERT INTO citizens (national_number, full_name, name_search, birth_date, sex,
                              address, region_code, language, photo_ref, died_on)
        SELECT national_number, full_name, name_search, birth_date, sex, address,
               region_code, language, photo_ref, died_on
        FROM registry_import_rows ORDER BY line""")
    conn.exec_driver_sql("""
        UPDATE registry_import_rows SET citizen_id = (
            SELECT id FROM citizens c
            WHERE c.national_number = registry_import_rows.national_number)""")
    return count


def _screen(conn: Connection, report: ImportReport) -> None:
    imported = [row[0] for row in conn.exec_driver_sql(
        "SELECT citizen_id FROM registry_import_rows")]
    report.duplicates = review.check_import(conn, imported)
    if report.duplicates:
        trail.changed(conn, "duplicate.flag", subject_type="registry_import", subject_id=0,
                      citizen_id=None, details={"pairs": report.duplicates})


def _audit(conn: Connection, report: ImportReport, actor: Actor, source: Path) -> None:
    """One audit record for the whole import, chained in this transaction."""
    trail.changed(conn, "import", subject_type="registry_import", subject_id=0,
                  citizen_id=None, fields=[], details={
                      "file": source.name, "sha256": _sha256(source), "by": actor.name,
                      "rows": report.rows, "citizens": report.citizens,
                      "households": report.households, "enrolments": report.enrolments,
                      "health_assignments": report.health})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
