"""`satukartu dci peer ...`: the SPDCI peers allowed to call `/dci/`.

A peer is registered with the public keys it signs with (its JWKS: a file, `-` for
stdin, or fetched once from its URL) and the base URI of its callbacks; its OAuth2
client id and secret are printed once. `set-keys` replaces its keys when it rotates
them; `disable` ends its tokens at once. Each is audited (`dci.peer.*`) with the
operating-system user as the actor.
"""

from __future__ import annotations

import json
from typing import IO

import click

from backend.cli import cli_operator

JWKS_HELP = "Its public signing keys as a JWKS file (Ed25519 OKP keys); - for stdin."
URL_HELP = "Or the https URL of its JWKS, fetched once now (not followed afterwards)."
MAX_JWKS = 1 << 20


def _jwks_text(jwks_file: IO[bytes] | None, jwks_url: str | None) -> str:
    """The JWKS given, as text; a one-line error for a file or answer that is not one."""
    if (jwks_file is None) == (jwks_url is None):
        raise click.UsageError("give --jwks or --jwks-url")
    if jwks_file is not None:
        raw = jwks_file.read(MAX_JWKS)
    else:
        import requests

        assert jwks_url is not None
        if not jwks_url.startswith("https://"):
            raise click.ClickException("the JWKS URL must be https")
        try:
            answer = requests.get(jwks_url, timeout=(5, 30), allow_redirects=False)
        except requests.RequestException as exc:
            raise click.ClickException(f"cannot fetch {jwks_url}: "
                                       f"{exc.__class__.__name__}") from exc
        if answer.status_code != 200:
            raise click.ClickException(f"{jwks_url} answered HTTP {answer.status_code}")
        raw = answer.content[:MAX_JWKS]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException("the JWKS is not UTF-8 text") from exc


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
@click.option("--jwks", "jwks_file", type=click.File("rb"), help=JWKS_HELP)
@click.option("--jwks-url", help=URL_HELP)
@click.option("--json", "as_json", is_flag=True)
def peer_add(sender_id: str, name: str, callback_uri: str, scope: str,
             jwks_file: IO[bytes] | None, jwks_url: str | None, as_json: bool) -> None:
    """Register a peer; its client secret is shown once."""
    from backend.cli import make_app
    from backend.db import database
    from backend.dci import peers

    document = _jwks_text(jwks_file, jwks_url)
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


def _change(sender_id: str, change: str, **kwargs: object) -> None:
    from backend.cli import make_app
    from backend.db import database
    from backend.dci import peers

    app = make_app()
    try:
        with app.app_context(), database().transaction() as tx:
            getattr(peers, change)(tx, sender_id, by=cli_operator(), **kwargs)
    except peers.PeerError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        app.extensions["satukartu.db"].engine.dispose()


@peer.command("set-keys")
@click.argument("sender_id")
@click.option("--jwks", "jwks_file", type=click.File("rb"), help=JWKS_HELP)
@click.option("--jwks-url", help=URL_HELP)
def peer_set_keys(sender_id: str, jwks_file: IO[bytes] | None, jwks_url: str | None) -> None:
    """Replace a peer's public keys (it rotated its own)."""
    _change(sender_id, "set_keys", jwks_document=_jwks_text(jwks_file, jwks_url))
    click.echo(f"{sender_id}: keys replaced")


@peer.command("disable")
@click.argument("sender_id")
def peer_disable(sender_id: str) -> None:
    """Disable a peer; its tokens stop working at once."""
    _change(sender_id, "set_enabled", enabled=False)
    click.echo(f"{sender_id}: disabled")


@peer.command("enable")
@click.argument("sender_id")
def peer_enable(sender_id: str) -> None:
    """Enable a peer again (it fetches a new token)."""
    _change(sender_id, "set_enabled", enabled=True)
    click.echo(f"{sender_id}: enabled")
