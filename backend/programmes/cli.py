"""`satukartu programme ...`: see and change the programmes from a console.

`set` makes the same change as `PATCH /api/v1/programmes/<key>`, audited with the
operating-system user as the actor (`cli:<user>`). A change that needs a second admin
(amounts, eligibility rules) is refused `approval_required` unless `--approval ID`
names the approved request for exactly this change: the approvals module checks that
and carries it out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import click
from sqlalchemy.orm import Session

from backend.cli import ROW_ID, cli_operator, refusals


@contextmanager
def _transaction() -> Iterator[Session]:
    """One committed unit of work on SATUKARTU_DATABASE_URL; a refusal exits non-zero
    with its reason."""
    from backend.cli import make_app
    from backend.db import database

    app = make_app()
    try:
        with refusals(), app.app_context(), database().transaction() as tx:
            yield tx
    finally:
        app.extensions["satukartu.db"].engine.dispose()


def _plain(view: Any) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(view), default=str))


def _line(view: Any) -> str:
    state = "enabled " if view.enabled else "disabled"
    why = f" ({view.problem})" if view.problem else ""
    return f"{view.key:<18} {state} by {view.enabled_source:<8} {view.title}{why}"


def _details(view: Any) -> str:
    lines = [_line(view), f"version {view.version}"
             + (f", last changed by {view.updated_by} at {view.updated_at}"
                if view.updated_by else "")]
    for p in view.parameters:
        mark = "approval" if p.needs_approval else "direct"
        lines.append(f"  {p.name:<20} {p.value:>12}  {p.source:<8} {mark:<8} {p.doc}")
        if p.ignored:
            lines.append(f"  {'':<20} stored {p.stored!r} left out: {p.ignored}")
    return "\n".join(lines)


@click.group("programme")
def programme() -> None:
    """Programmes: enable, disable and re-set them while the hub runs."""


@programme.command("list")
@click.option("--json", "as_json", is_flag=True)
def programme_list(as_json: bool) -> None:
    """Every installed programme, and whether it runs."""
    from backend.programmes.settings import list_programmes

    with _transaction() as tx:
        views = list_programmes(tx)
        if as_json:
            click.echo(json.dumps([_plain(v) for v in views], indent=2))
        else:
            click.echo("\n".join(_line(v) for v in views))


@programme.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True)
def programme_show(key: str, as_json: bool) -> None:
    """One programme's parameters: value, source (default, config, database), and
    whether changing it needs approval."""
    from backend.programmes.settings import describe

    with _transaction() as tx:
        view = describe(key, tx)
        click.echo(json.dumps(_plain(view), indent=2) if as_json else _details(view))


def _assignments(values: tuple[str, ...], resets: tuple[str, ...]) -> dict[str, str | None]:
    changes: dict[str, str | None] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r}: write NAME=VALUE", param_hint="--param")
        changes[name.strip()] = value.strip()
    for name in resets:
        changes[name.strip()] = None
    return changes


@programme.command("set")
@click.argument("key")
@click.option("--enable/--disable", "enabled", default=None,
              help="Run the programme, or stop it (hidden at every terminal).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter's new value (repeat for more).")
@click.option("--reset", "resets", multiple=True, metavar="NAME",
              help="Back to the city's configured value (repeat for more).")
@click.option("--approval", "approval_id", type=ROW_ID, default=None,
              help="The approved request for exactly this change.")
@click.option("--json", "as_json", is_flag=True)
def programme_set(key: str, enabled: bool | None, params: tuple[str, ...],
                  resets: tuple[str, ...], approval_id: int | None, as_json: bool) -> None:
    """Change KEY: takes effect in every hub process within SATUKARTU_PROGRAMME_REFRESH_MS."""
    from backend.programmes import settings

    changes = _assignments(params, resets)
    with _transaction() as tx:
        if approval_id is None:
            settings.apply_change(tx, key, enabled=enabled, parameters=changes,
                                  principal=cli_operator())
        else:
            _carry_out(tx, approval_id, settings.approval_payload(key, enabled, changes))
        view = settings.describe(key, tx)
    click.echo(json.dumps(_plain(view), indent=2) if as_json else _details(view))


def _carry_out(tx: Session, approval_id: int, payload: dict[str, Any]) -> None:
    """Have the approvals module check that request `approval_id` approved exactly this
    change, and carry it out (it calls `settings.apply_change` with the request's id)."""
    from backend.approvals.service import carry_out
    from backend.programmes.settings import KIND

    carry_out(tx, approval_id, cli_operator(), kind=KIND, payload=payload, send=False)
