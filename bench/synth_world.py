"""A database filled by `satukartu registry synth`, for the benchmarks at registry size.

`build` makes a fresh PostgreSQL database and an issuing CA, then runs the real
command (`satukartu registry synth --citizens N`) in a subprocess, timed end to end;
the city's cards and balances are the command's own. A built world can be kept
(`save`, a folder holding the instance and `world.json`) and reused by
bench_auth.py and bench_redeem.py (`--world DIR`), since a 10-million city takes
long to make. `draw` picks cards across the whole registry, by random citizen ids,
and rebuilds each from its row (`backend.cards.synthetic`) so it can sign.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SATUKARTU = str(Path(sys.executable).parent / "satukartu")
WORLD_FILE = "world.json"


@dataclass
class World:
    name: str  # the database
    url: str
    folder: str  # holds the instance (the CA) and world.json
    citizens: int
    seed: int
    secret_key: str
    seconds: float  # the synth command, end to end

    @property
    def instance(self) -> Path:
        return Path(self.folder) / "instance"

    def settings(self, origin: str) -> dict[str, str]:
        return {"DATABASE_URL": self.url, "INSTANCE_DIR": str(self.instance), "ORIGIN": origin,
                "SECRET_KEY": self.secret_key, "LOG_LEVEL": "WARNING"}

    def env(self, origin: str) -> dict[str, str]:
        return {f"SATUKARTU_{key}": value for key, value in self.settings(origin).items()}

    def save(self) -> None:
        (Path(self.folder) / WORLD_FILE).write_text(json.dumps(asdict(self), indent=2))


def load(folder: Path) -> World:
    return World(**json.loads((folder / WORLD_FILE).read_text()))


def build(citizens: int, *, seed: int = 1, jobs: int | None = None,
          folder: Path | None = None, echo: bool = True) -> World:
    """A fresh database with a synthetic city of `citizens`, cards and balances."""
    from backend import migrations
    from backend.cards import ca
    from backend.testing import databases

    folder = folder or Path(tempfile.mkdtemp(prefix="bench-synth-"))
    folder.mkdir(parents=True, exist_ok=True)
    name = databases.unique_name("sk_synth")
    url = databases.create_pg_database(name)
    world = World(name, url, str(folder), citizens, seed, secrets.token_urlsafe(32), 0.0)
    migrations.upgrade(url)
    world.instance.mkdir(exist_ok=True)
    ca.init_ca(world.instance / "ca", "Kota Sintetis")
    cmd = [SATUKARTU, "registry", "synth", "--citizens", str(citizens), "--seed", str(seed)]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    started = time.perf_counter()
    answer = subprocess.run(cmd, env={**os.environ, **world.env("http://127.0.0.1")},
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, check=False)
    world.seconds = time.perf_counter() - started
    if echo:
        print(answer.stdout, end="")
    if answer.returncode != 0:
        drop(world)
        raise RuntimeError(f"{' '.join(cmd)} failed ({answer.returncode})")
    world.save()
    return world


def drop(world: World) -> None:
    from backend.testing import databases

    databases.drop_pg_database(world.name)
    shutil.rmtree(world.folder, ignore_errors=True)


def draw(world: World, count: int, *, food_balance_at_least: int = 0,
         rng: random.Random | None = None) -> list[Any]:
    """`count` active cards of citizens drawn at random across the whole id range, as
    `backend.testing.cards.SoftCard`s; with `food_balance_at_least`, only holders whose
    household's food balance is at least that, one holder a household (whose members
    share the balance)."""
    import sqlalchemy as sa

    from backend.cards.ca import load_issuing_ca
    from backend.cards.synthetic import CardMaker, card_secret
    from backend.db import make_engine
    from backend.testing.cards import SoftCard

    rng = rng or random.Random(1)
    query = sa.text(_DRAW_FOOD if food_balance_at_least else _DRAW)
    engine = make_engine(world.url, pool_size=1, max_overflow=0)
    chosen: dict[int, Any] = {}
    with engine.connect() as conn:
        top = conn.execute(sa.text("SELECT max(id) FROM citizens")).scalar_one()
        while len(chosen) < count:
            ids = [rng.randint(1, top) for _ in range(max(64, count * 8))]
            for row in conn.execute(query, {"ids": ids, "need": food_balance_at_least}):
                chosen.setdefault(row.owner, row)
    engine.dispose()
    maker = CardMaker(load_issuing_ca({"CA_DIR": str(world.instance / "ca")}),
                      card_secret(world.instance / "ca"))
    cards = []
    for row in list(chosen.values())[:count]:
        made = maker.rebuild(row.citizen_id, row.national_number, row.card_uuid,
                             row.issued_at, row.expires_at,
                             (row.cert_9a_sha256, row.cert_9e_sha256))
        cards.append(SoftCard(made.serial, made.card_uuid, row.national_number,
                              row.citizen_id, dict(made.keys), dict(made.certificates)))
    return cards


_CARD = ("SELECT {owner} AS owner, k.citizen_id, c.national_number, k.card_uuid, "
         "k.issued_at, k.expires_at, k.cert_9a_sha256, k.cert_9e_sha256 "
         "FROM cards k JOIN citizens c ON c.id = k.citizen_id")
_DRAW = (_CARD.format(owner="k.citizen_id")
         + " WHERE k.citizen_id = ANY(:ids) AND k.status = 'active'")
_DRAW_FOOD = (_CARD.format(owner="m.household_id")
              + " JOIN household_members m ON m.citizen_id = k.citizen_id "
              "JOIN ledger_accounts a ON a.programme = 'food' AND a.purse = 'groceries' "
              "AND a.owner_type = 'household' AND a.owner_id = m.household_id "
              "WHERE k.citizen_id = ANY(:ids) AND k.status = 'active' AND a.balance >= :need")
