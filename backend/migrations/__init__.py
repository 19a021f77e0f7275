"""Alembic migrations, shipped inside the package so `satukartu db upgrade` works anywhere."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

HERE = Path(__file__).parent
VERSIONS = HERE / "versions"
# 0013_staff_totp.py: the revision id is the file's number, the rest its message's slug.
_NUMBERED = re.compile(r"^(\d{4})_\w*\.py$")


class NothingToGenerate(Exception):
    """The models and the migrations agree: a new revision would be empty."""


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def next_revision_id(versions: Path = VERSIONS) -> str:
    """The number after the highest 00NN_ file's, as the next revision's id ("0014")."""
    numbers = [int(found.group(1)) for path in versions.iterdir()
               if (found := _NUMBERED.match(path.name))]
    return f"{max(numbers, default=0) + 1:04d}"


def autogenerate(message: str) -> Path:
    """Write the next revision into versions/ from the models' differences with a
    temporary SQLite database migrated to head; return its path.

    A scratch SQLite database, not the configured one: it is always at head, needs no
    server, and nothing real is read. Differences only PostgreSQL shows (its own index
    kinds, say) are the PostgreSQL test's to find (test_models_match_migrations.py).
    Raises NothingToGenerate, writing nothing, when the models match the migrations.
    """
    found_nothing: list[bool] = []

    def skip_when_empty(context: Any, revision: Any, directives: list[Any]) -> None:
        if directives and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            found_nothing.append(True)

    with tempfile.TemporaryDirectory(prefix="satukartu-revision-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'head.db'}"
        upgrade(url)
        cfg = alembic_config(url)
        cfg.attributes["process_revision_directives"] = skip_when_empty
        script = command.revision(cfg, message=message, autogenerate=True,
                                  rev_id=next_revision_id())
    if found_nothing or script is None:
        raise NothingToGenerate
    return Path(script.path)  # type: ignore[union-attr]
