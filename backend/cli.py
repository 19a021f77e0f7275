"""The `satukartu` command: one click group, each domain adding its own subgroup.

Scripts outside the code depend on these names (DESIGN.md, "Interfaces that stay
stable"); rename nothing without a deprecation path.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flask import Flask

# What a kiosk PC lacks when it installed only the `reader` extra.
HUB_ONLY_DEPENDENCIES = frozenset({"flask", "sqlalchemy", "alembic", "celery", "kombu",
                                   "pydantic", "reportlab", "psycopg", "argon2", "joserfc",
                                   "werkzeug", "jinja2", "gunicorn"})

# (module, attribute) of each command or group attached to `satukartu`.
COMMANDS = (
    ("backend.registry.cli", "registry"),
    ("backend.registry.cli", "citizen"),
    ("backend.identity.cli", "staff"),
    ("backend.identity.cli", "terminal"),
    ("backend.cards.cli", "ca"),
    ("backend.cards.cli", "card"),
    ("backend.audit.cli", "audit"),
    ("backend.ledger.cli", "ledger"),
    ("backend.programmes.cli", "programme"),
    ("backend.approvals.cli", "approval"),
    ("backend.bulk.cli", "job"),
    ("backend.documents.cli", "reports"),
    ("backend.runtime", "serve"),
    ("backend.runtime", "worker"),
    ("backend.runtime", "beat"),
    ("backend.demo", "demo"),
    ("card_reader.cli", "vcard_command"),
    ("card_reader.cli", "reader_command"),
)
# (module, attribute, group) of commands added to a group another module owns.
SUBCOMMANDS = (
    ("backend.bulk.cli", "revoke_many", "card"),
)


# A row's id at the console: ids are INTEGER (backend.registry.models.MAX_ID), so a larger
# number names no row and is refused here rather than overflowing in SQL.
ROW_ID = click.IntRange(min=1, max=2**31 - 1)


def make_app(**overrides: Any) -> Flask:
    from backend.app import create_app

    return create_app(**overrides)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """SatuKartu: one citizen card, every city service."""


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION on SATUKARTU_DATABASE_URL."""
    from alembic.util import CommandError

    from backend import migrations

    if not revision.strip():
        raise click.BadParameter("give a revision, e.g. head", param_hint="--revision")
    app = make_app()
    try:
        migrations.upgrade(app.config["DATABASE_URL"], revision)
    except CommandError as exc:  # e.g. an unknown or ambiguous revision
        raise click.ClickException(str(exc)) from exc
    click.echo(f"database at {revision}: {_safe_url(app.config['DATABASE_URL'])}")


@main.group("config")
def config_group() -> None:
    """The settings and their defaults."""


@config_group.command("show")
@click.option("--markdown", is_flag=True, help="The README's table of variables.")
def config_show(markdown: bool) -> None:
    from backend import config

    if markdown:
        click.echo(config.markdown_table())
        return
    values = config.load()
    for setting in config.SETTINGS:
        value = values[setting.name]
        if "SECRET" in setting.name and value:
            value = "***"
        if setting.name == "DATABASE_URL":
            value = _safe_url(value)
        click.echo(f"{config.PREFIX}{setting.name}={value}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _attach_commands() -> None:
    for module_name, attribute in COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] in HUB_ONLY_DEPENDENCIES:
                continue  # a reader-only install: the hub's commands are not here
            raise
        main.add_command(getattr(module, attribute))
    for module_name, attribute, group in SUBCOMMANDS:
        if group in main.commands:  # absent on a reader-only install
            command = getattr(importlib.import_module(module_name), attribute)
            main.commands[group].add_command(command)  # type: ignore[attr-defined]


_attach_commands()
