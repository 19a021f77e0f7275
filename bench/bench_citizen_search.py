"""Citizen search on a city of a million: by parts of names and by national number.

    .venv/bin/python bench/bench_citizen_search.py --citizens 1000000 --searches 300

Creates and migrates a fresh PostgreSQL database; imports a synthetic city through
the same code as `satukartu registry import` (backend.registry.synth, importer), less
4 % that are added as Thai and Vietnamese names (valid Thai numbers, 12-digit
Vietnamese ones) with the highest ids, as a city with newcomers registered last would
have them; `ANALYZE`. Then it runs the searches the API runs
(`backend.registry.service.search`, first page of 20, through the ORM session), in a
shuffled order after a warm-up, and prints the median and the 95th percentile of each
kind and of all (and the 99th of all):

- name parts cut from people in the registry: a given name, given and family name,
  four to six letters from inside a name, a Thai name part, a Vietnamese name typed
  without its accents;
- names that nobody has (every trigram common, the match empty: the index's worst
  case);
- national numbers of people in the registry, and numbers nobody has.

`--keep NAME` keeps (or reuses) the database under that name; `--csv` keeps the CSV.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import unicodedata
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from backend import migrations
from backend.app import create_app
from backend.db import database, make_engine
from backend.registry import importer, service, synth
from backend.registry.names import clean_name, fold_name
from backend.registry.national_ids import make_thai

ADMIN_URL = os.environ.get("SATUKARTU_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
FOREIGN_SHARE = 0.04
THAI_GIVEN = ("สมชาย", "สมศักดิ์", "สุภาพร", "วิไลวรรณ", "ประเสริฐ", "กิตติศักดิ์", "นภาพร",
              "อรุณี", "ธนพล", "ศิริพร", "บุญมี", "มาลี", "ณัฐวุฒิ", "พิมพ์ชนก")
THAI_FAMILY = ("ใจดี", "แสงทอง", "ศรีสุข", "บุญเรือง", "วงศ์สวัสดิ์", "สุขสวัสดิ์", "ทองดี",
               "พรหมมา", "ชัยมงคล", "รัตนพันธ์", "มีสุข", "เพชรรัตน์")
VIET_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
               "Bùi", "Đỗ")
VIET_MIDDLE = ("Văn", "Thị", "Hữu", "Đức", "Ngọc", "Minh", "Thanh")
VIET_GIVEN = ("An", "Bình", "Cường", "Dũng", "Hà", "Hạnh", "Hương", "Lan", "Linh", "Mai",
              "Nam", "Phương", "Quang", "Thảo", "Tuấn", "Việt")
NOBODY = ("budi budi", "siti santoso wijaya", "dewi dewi", "agus ayu", "lestari budi",
          "nguyen nguyen", "xyzzy", "qwerty")


def _admin(statement: sql.Composable) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(statement)


def _exists(name: str) -> bool:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (name,)).fetchone() is not None


def _foreign_rows(count: int, rng: random.Random) -> list[tuple[str, str, str, str]]:
    """(national_number, full_name, name_search, language): half Thai, half Vietnamese."""
    rows = []
    for i in range(count):
        if i % 2 == 0:
            name = clean_name(f"{rng.choice(THAI_GIVEN)} {rng.choice(THAI_FAMILY)}")
            rows.append((make_thai(f"1{i:011d}"), name, fold_name(name), "th"))
        else:
            name = clean_name(f"{rng.choice(VIET_FAMILY)} {rng.choice(VIET_MIDDLE)} "
                              f"{rng.choice(VIET_GIVEN)}")
            rows.append((f"0790{i:08d}", name, fold_name(name), "vi"))
    return rows


def _add_foreign(url: str, count: int, rng: random.Random) -> None:
    columns = ("national_number, full_name, name_search, birth_date, sex, address, "
               "region_code, language")
    with (psycopg.connect(url) as conn, conn.cursor() as cur,
          cur.copy(f"COPY citizens ({columns}) FROM STDIN") as copy):
        for number, name, key, language in _foreign_rows(count, rng):
            copy.write_row((number, name, key, "1985-03-04", "F", "", "3578011001", language))


def _load(url: str, citizens: int, seed: int, csv: Path | None, workdir: Path) -> None:
    foreign = int(citizens * FOREIGN_SHARE)
    source = csv or workdir / "city.csv"
    if not source.exists():
        synth.write_file(source, citizens - foreign, seed)
    migrations.upgrade(url)
    app = create_app(DATABASE_URL=url, INSTANCE_DIR=str(workdir / "instance"))
    engine = make_engine(url)
    started = time.perf_counter()
    with app.app_context():
        report = importer.import_csv(engine, source, formats=("nik",), screen=False)
    engine.dispose()
    app.extensions["satukartu.db"].engine.dispose()
    _add_foreign(url, foreign, random.Random(seed))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE citizens")
    print(f"loaded {report.citizens:,} synthetic + {foreign:,} Thai and Vietnamese citizens "
          f"in {time.perf_counter() - started:.0f} s")


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text)
                   if not unicodedata.combining(c)).replace("đ", "d").replace("Đ", "D")


def _workload(url: str, searches: int, rng: random.Random) -> list[tuple[str, dict]]:
    """(kind, search arguments) drawn from the registry itself."""
    with psycopg.connect(url) as conn:
        people = conn.execute("SELECT full_name, national_number, language FROM citizens "
                              "TABLESAMPLE SYSTEM (1) LIMIT 20000").fetchall()
    local = [p for p in people if p[2] not in ("th", "vi")]
    thai = [p for p in people if p[2] == "th"]
    viet = [p for p in people if p[2] == "vi"]
    per_kind = max(1, searches // 8)
    work: list[tuple[str, dict]] = []
    for _ in range(per_kind):
        name = rng.choice(local)[0]
        words = name.split()
        work.append(("name: given name", {"name": words[0]}))
        if len(words) > 1:
            work.append(("name: given and family name", {"name": " ".join(words[:2])}))
        start = rng.randrange(max(1, len(name) - 4))
        part = name[start:start + rng.randint(4, 6)]
        if len(part.strip()) >= 3:
            work.append(("name: 4-6 letters inside", {"name": part}))
        if thai:
            work.append(("name: Thai part", {"name": rng.choice(rng.choice(thai)[0].split())}))
        if viet:
            words = rng.choice(viet)[0].split()
            work.append(("name: Vietnamese without accents",
                         {"name": _strip_accents(" ".join(words[-2:]))}))
        work.append(("name: nobody has it", {"name": rng.choice(NOBODY)}))
        work.append(("number: a citizen's", {"number": rng.choice(people)[1]}))
        work.append(("number: nobody's", {"number": f"9999{rng.randrange(10**12):012d}"}))
    rng.shuffle(work)
    return work


@dataclass
class Kind:
    """One kind of search: wall milliseconds of each, how many found someone, and the CPU
    seconds the hub's process and its PostgreSQL backend spent on all of them."""

    times: list[float] = field(default_factory=list)
    found: int = 0
    client_cpu: float = 0.0
    server_cpu: float | None = 0.0


def _backend_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a local PostgreSQL backend process, if readable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(url: str, work: list[tuple[str, dict]], warm_up: int
         ) -> tuple[dict[str, Kind], list[tuple[float, str]]]:
    """Each kind of search run as a block after a mixed warm-up; the slowest searches.

    One pooled connection, so one PostgreSQL backend serves every search and its CPU
    time (from /proc) is the server's cost, whatever else the machine runs."""
    app = create_app(DATABASE_URL=url, INSTANCE_DIR=tempfile.mkdtemp(prefix="bench-search-"))
    db = app.extensions["satukartu.db"]
    db.engine.dispose()
    db.engine = db.writer = make_engine(url, pool_size=1, max_overflow=0)
    db.sessions.configure(bind=db.engine)
    kinds: dict[str, Kind] = defaultdict(Kind)
    slowest: list[tuple[float, str]] = []
    blocks: dict[str, list[dict]] = defaultdict(list)
    for kind, args in work:
        blocks[kind].append(args)
    with app.app_context():
        with db.engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        for _kind, args in work[:warm_up]:
            _search(args)
        for kind, block in blocks.items():
            result = kinds[kind]
            server, client = _backend_cpu(pid), time.process_time()
            for args in block:
                started = time.perf_counter()
                result.found += bool(_search(args))
                elapsed = (time.perf_counter() - started) * 1000
                result.times.append(elapsed)
                slowest.append((elapsed, f"{kind}: {args}"))
            result.client_cpu = time.process_time() - client
            after = _backend_cpu(pid)
            result.server_cpu = None if server is None or after is None else after - server
    db.engine.dispose()
    return kinds, sorted(slowest, reverse=True)[:5]


def _search(args: dict) -> list:
    with database().sessions() as sess:
        people, _more = service.search(sess, number=args.get("number"),
                                       name=args.get("name"), page=1, per_page=20)
        return people


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[-1] if len(values) > 1 else values[0]


def _report(kinds: dict[str, Kind]) -> None:
    print(f"{'search':<34} {'n':>4} {'found':>6} {'median':>9} {'p95':>9} "
          f"{'CPU/search: PostgreSQL + hub':>29}")
    for name in sorted(kinds):
        kind = kinds[name]
        count = len(kind.times)
        server = ("  n/a" if kind.server_cpu is None
                  else f"{kind.server_cpu * 1000 / count:5.1f}")
        print(f"{name:<34} {count:>4} {kind.found / count:>6.0%} "
              f"{statistics.median(kind.times):>6.1f} ms {_p95(kind.times):>6.1f} ms "
              f"{server} ms + {kind.client_cpu * 1000 / count:4.1f} ms")
    every = [t for kind in kinds.values() for t in kind.times]
    print(f"{'all':<34} {len(every):>4} {'':>6} {statistics.median(every):>6.1f} ms "
          f"{_p95(every):>6.1f} ms  (p99 {_p99(every):.1f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=1_000_000)
    parser.add_argument("--searches", type=int, default=400,
                        help="about this many searches, in eight kinds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--csv", type=Path, help="reuse or keep the generated CSV here")
    parser.add_argument("--keep", metavar="NAME", help="keep (or reuse) the database NAME")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-search-"))
    name = args.keep or f"sk_bench_search_{uuid.uuid4().hex[:8]}"
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    reuse = args.keep is not None and _exists(name)
    if not reuse:
        _admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        if not reuse:
            _load(url, args.citizens, args.seed, args.csv, workdir)
        work = _workload(url, args.searches, random.Random(args.seed))
        kinds, slowest = _run(url, work, warm_up=20)
    finally:
        if args.keep is None:
            _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
    _report(kinds)
    print("slowest:", "; ".join(f"{ms:.0f} ms {what}" for ms, what in slowest))
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
