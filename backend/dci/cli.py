"""`satukartu dci peer add|list`: the SPDCI peers allowed to call `/dci/`.

A peer is registered with the public keys it signs with (its JWKS, a file or `-` for
stdin) and the base URI of its callbacks; its OAuth2 client id and secret are printed
once. Registering is audited (`dci.peer.register`) with the operating-system user as
the actor.
"""

from __future__ import annotations

import json
from typing import IO

import click

from backend.cli import cli_operator


@click.group()
def dci() -> None:
    """The SPDCI Social Registry API's peers (other registries and programme systems)."""


@dci.group()
def peer() -> None:
    """Peers: OAuth2 clients of /dci/ that sign their messages."""


@peer.command("add")
@click.option("--sender-id", required=True, help="The peer's sender_id (its header's, and "
              "the first part of its signatures' kidId).")
@click.option("--name", required=True, help="Whose system it is, e.g. 'Dinsos DTKS'.")
@click.option("--callback-uri", required=True, help="Base URI of its callbacks "
              "(on-search, notify...); a request's sender_uri must be below it.")
@click.option("--scope", default="dci.person", show_default=True,
              help="What its answers may show: 'dci.person', or 'dci.person dci.household' "
              "(addresses, family cards, welfare deciles).")
@click.option("--jwks", "jwks_file", type=click.File("rb"), required=True,
              help="Its public signing keys as a JWKS file (Ed25519 OKP keys); - for stdin.")
@click.option("--json", "as_json", is_flag=True)
def peer_add(sender_id: str, name: str, callback_uri: str, scope: str, jwks_file: IO[bytes],
             as_json: bool) -> None:
    """Register a peer; its client secret is shown once."""
    from backend.cli import make_app
    from backend.db import database
    from backend.dci import peers

    try:
        document = jwks_file.read(1 << 20).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException("the JWKS file is not UTF-8 text") from exc
    app = make_app()
    try:
        with app.app_context(), database().transaction() as tx:
            row, secret = peers.add(tx, sender_id=sender_id, name=name,
                                    callback_uri=callback_uri, scope=scope,
                                    jwks_document=document, by=cli_operator())
            out = {"sender_id": row.sender_id, "client_id": row.client_id,
                   "client_secret": secret, "scope": row.scope,
                   "token_endpoint": "/dci/oauth2/client/token"}
    except peers.PeerError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        app.extensions["satukartu.db"].engine.dispose()
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"peer {out['sender_id']} ({out['scope']})\nclient_id:     {out['client_id']}\n"
               f"client_secret: {secret}  (shown once)")


@peer.command("list")
@click.option("--json", "as_json", is_flag=True)
def peer_list(as_json: bool) -> None:
    """Every registered peer."""
    from backend.cli import make_app
    from backend.db import database
    from backend.dci import peers

    app = make_app()
    try:
        with app.app_context(), database().transaction() as tx:
            rows = [{"sender_id": p.sender_id, "name": p.name, "client_id": p.client_id,
                     "scope": p.scope, "callback_uri": p.callback_uri, "enabled": p.enabled}
                    for p in peers.listed(tx)]
    finally:
        app.extensions["satukartu.db"].engine.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no peers registered")
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        click.echo(f"{row['sender_id']:<24} {state:<9} {row['scope']:<26} {row['name']}")
