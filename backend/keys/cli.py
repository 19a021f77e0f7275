"""`satukartu keys ...`: list the signing keyrings and rotate a key.

A rotation is audited (`keys.rotate`) with the operating-system user as the actor
(`cli:<user>`). It takes effect at once: running hub and worker processes notice the
replaced key file at their next signature, no restart needed.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click

from backend.cli import cli_operator
from backend.keys.purposes import PURPOSES

PURPOSE_HELP = ("documents: civil documents, receipts and statements; checkpoints: audit "
                "log checkpoints; dci: messages to SPDCI peer registries.")


@click.group()
def keys() -> None:
    """The Ed25519 keys that sign documents, audit checkpoints and SPDCI messages."""


@keys.command("list")
@click.option("--purpose", type=click.Choice(sorted(PURPOSES)), help="Only this keyring. "
              + PURPOSE_HELP)
@click.option("--json", "as_json", is_flag=True, help="As JSON, with each public key (PEM).")
def list_keys(purpose: str | None, as_json: bool) -> None:
    """Each key by id: when it became current, and whether it is current or retired."""
    from backend.cli import make_app
    from backend.keys.purposes import keyring
    from backend.keys.ring import KeyringError

    app = make_app()
    chosen = [purpose] if purpose else sorted(PURPOSES)
    rows = []
    try:
        for name in chosen:
            for key in keyring(app.config, name, create=False).keys:
                rows.append({"purpose": name, "key_id": key.key_id, "status": key.status,
                             "created": _when(key.created), "retired": _when(key.retired),
                             "public_key_pem": key.public_pem().decode("ascii")})
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no keys yet: each is made when it first signs")
    for row in rows:
        retired = f"  retired {row['retired']}" if row["retired"] else ""
        click.echo(f"{row['purpose']:<12} {row['key_id']}  {row['status']:<8} "
                   f"created {row['created'] or 'unknown'}{retired}")


@keys.command()
@click.option("--purpose", type=click.Choice(sorted(PURPOSES)), required=True,
              help="Which key to rotate. " + PURPOSE_HELP)
def rotate(purpose: str) -> None:
    """Make a new key current; the old one is retired and keeps verifying what it signed."""
    from backend.audit import record
    from backend.cli import make_app
    from backend.db import database
    from backend.keys.purposes import store
    from backend.keys.ring import KeyringError

    app = make_app()
    try:
        with app.app_context(), database().transaction() as tx:
            retired, new = store(app.config, purpose).rotate()
            record(tx, action="keys.rotate", subject_type="signing_key",
                   subject_id=new.key_id, principal=cli_operator(),
                   details={"purpose": purpose, "retired": retired.key_id,
                            "current": new.key_id})
    except KeyringError as exc:
        click.echo(f"Error: cannot rotate the {purpose} key: {exc}", err=True)
        sys.exit(1)
    finally:
        app.extensions["satukartu.db"].engine.dispose()
    click.echo(f"{purpose}: {new.key_id} is current; {retired.key_id} is retired")


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None
