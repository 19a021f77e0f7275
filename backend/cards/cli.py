"""`satukartu ca ...` and `satukartu card ...`: the CA and the card lifecycle at a console.

These run where the hub's database and CA folder are (the issuing office); `card
issue`, `card replace` and `card unblock-pin` also drive a card reader over pcscd.
Every change is one transaction with its audit record, attributed to the console user.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask

from backend.auth.principal import Principal

REVOKE_CHOICES = click.Choice(["unspecified", "keyCompromise", "affiliationChanged",
                               "superseded", "cessationOfOperation", "privilegeWithdrawn"])


def _app() -> Flask:
    from backend.cli import make_app

    return make_app()


def console_principal() -> Principal:
    """Who acts at the console, as the audit log names them."""
    return Principal(kind="staff", subject=f"console:{getpass.getuser()}", role="admin")


@contextmanager
def _transaction(app: Flask) -> Iterator[Any]:
    from backend.cli import refusals
    from backend.db import database

    with app.app_context(), refusals(), database().transaction() as tx:
        yield tx


def _write_crl(app: Flask) -> None:
    from backend.cards import crl
    from backend.db import database

    with app.app_context(), database().transaction() as tx:
        latest = crl.latest(tx)
        if latest is not None:
            crl.write_file(app.config["CA_DIR"], latest.der)


# --- ca -------------------------------------------------------------------------------


@click.group("ca")
def ca() -> None:
    """The city's issuing CA."""


@ca.command("init")
@click.option("--city", default=None, help="The CA's organisation (default: SATUKARTU_CITY_NAME).")
@click.option("--root-key-dir", type=click.Path(file_okay=False), default=None,
              help="Where to write the root key (default: CA_DIR/offline). Move it offline.")
def ca_init(city: str | None, root_key_dir: str | None) -> None:
    """Make an offline root CA and the issuing CA the hub signs cards with."""
    from backend.cards.ca import CaError, fingerprint, init_ca

    app = _app()
    try:
        made = init_ca(app.config["CA_DIR"], city or app.config["CITY_NAME"], root_key_dir)
    except CaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"root CA     {made.root.subject.rfc4514_string()}")
    click.echo(f"            SHA-256 {fingerprint(made.root)}")
    click.echo(f"issuing CA  {made.certificate.subject.rfc4514_string()}")
    click.echo(f"            SHA-256 {fingerprint(made.certificate)}")
    click.echo(f"CA folder   {app.config['CA_DIR']}")
    click.echo("The root CA's private key is in the offline folder: move it off this "
               "machine now.", err=True)


@ca.command("crl")
def ca_crl() -> None:
    """Sign a fresh CRL now and write it to CA_DIR/crl/."""
    from backend.cards import crl, lifecycle

    app = _app()
    with _transaction(app) as tx:
        row = crl.publish(tx, lifecycle.issuing_ca(), app.config["CRL_VALIDITY_HOURS"],
                          note="console")
        number, entries, der = row.number, row.entries, row.der
    path = crl.write_file(app.config["CA_DIR"], der)
    click.echo(f"CRL {number} with {entries} entries: {path}")


# --- card -----------------------------------------------------------------------------


@click.group("card")
def card() -> None:
    """Cards: issue, suspend, reinstate, revoke, replace, unblock a PIN."""


def _issue(app: Flask, reader: str, citizen_number: str, pin: str | None,
           old_reason: str) -> Any:
    """The console as its own enrolment desk: the desk's steps (backend/cards/desk.py),
    each in a transaction of its own, so a failed attempt stays recorded as failed."""
    from backend.cards import issuance, lifecycle
    from backend.cards.ca import CaError
    from backend.cli import refusals
    from backend.db import database
    from card_reader.client import PivSession
    from card_reader.pcsc import PcscConnection, PcscError
    from card_reader.piv import PivError

    try:
        with refusals(), app.app_context(), PcscConnection(reader) as conn:
            return issuance.issue_at_console(
                database().transaction, PivSession(conn), ca=lifecycle.issuing_ca(),
                settings=dict(app.config), citizen_number=citizen_number, pin=pin,
                old_reason=old_reason, principal=console_principal())
    except issuance.IssuanceError as exc:
        raise click.ClickException(str(exc)) from exc
    except (PivError, PcscError, CaError) as exc:
        raise click.ClickException(f"the card in {reader} could not be issued: {exc} "
                                   "(a blank card is needed)") from exc


def _print_issued(issued: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(issued.to_dict()))
        return
    click.echo(issued.serial)
    if issued.pin:
        click.echo(f"PIN {issued.pin}  (shown once: hand it to the citizen)", err=True)
    click.echo(f"PUK {issued.puk}  (shown once: for unblocking the PIN at a counter)",
               err=True)


@card.command("issue")
@click.option("--citizen", "citizen_number", required=True, help="The citizen's national number.")
@click.option("--reader", required=True, help="The PC/SC reader with the blank card.")
@click.option("--pin", default=None, help="The PIN the citizen chose (else one is generated).")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def card_issue(citizen_number: str, reader: str, pin: str | None, as_json: bool) -> None:
    """Personalise the blank card in READER for a citizen; prints its serial.

    Keys are made on the card; their certificates, the CHUID, a new management key, the
    PIN and PUK are written; the citizen's previous card, if any, is superseded.
    """
    app = _app()
    issued = _issue(app, reader, citizen_number, pin, "superseded")
    _write_crl(app)
    _print_issued(issued, as_json)


@card.command("replace")
@click.argument("serial")
@click.option("--reader", required=True, help="The PC/SC reader with the new blank card.")
@click.option("--reason", type=REVOKE_CHOICES, default="keyCompromise", show_default=True,
              help="What happened to the old card (keyCompromise: lost or stolen).")
@click.option("--pin", default=None, help="The PIN the citizen chose (else one is generated).")
@click.option("--json", "as_json", is_flag=True)
def card_replace(serial: str, reader: str, reason: str, pin: str | None, as_json: bool) -> None:
    """Issue a new card in READER to the holder of card SERIAL, retiring the old one."""
    from backend.cards import lifecycle
    from backend.registry.models import Citizen

    app = _app()
    with _transaction(app) as tx:
        old = lifecycle.get_card(tx, serial)
        number = tx.get(Citizen, old.citizen_id).national_number
    issued = _issue(app, reader, number, pin, "superseded" if reason == "superseded" else reason)
    _write_crl(app)
    _print_issued(issued, as_json)


def _lifecycle(action: str, serial: str, **kwargs: Any) -> None:
    from backend.cards import lifecycle

    app = _app()
    with _transaction(app) as tx:
        changed = getattr(lifecycle, action)(tx, serial, principal=console_principal(), **kwargs)
        status, reason = changed.status, changed.revocation_reason
    _write_crl(app)
    click.echo(f"{serial} {status}" + (f" ({reason})" if reason else ""))


@card.command("suspend")
@click.argument("serial")
@click.option("--reason", type=click.Choice(["certificateHold"]), default="certificateHold",
              show_default=True)
@click.option("--note", default="", help="Why, for the audit log.")
def card_suspend(serial: str, reason: str, note: str) -> None:
    """Put card SERIAL on hold (missing, under review)."""
    _lifecycle("suspend", serial, reason=reason, note=note)


@card.command("reinstate")
@click.argument("serial")
@click.option("--reason", type=click.Choice(["removeFromCRL"]), default="removeFromCRL",
              show_default=True)
@click.option("--note", default="", help="Why, for the audit log.")
def card_reinstate(serial: str, reason: str, note: str) -> None:
    """Lift the suspension of card SERIAL."""
    _lifecycle("reinstate", serial, note=note)


@card.command("revoke")
@click.argument("serial")
@click.option("--reason", type=REVOKE_CHOICES, required=True,
              help="RFC 5280: keyCompromise (lost, stolen), cessationOfOperation (death), ...")
@click.option("--note", default="", help="Why, for the audit log.")
def card_revoke(serial: str, reason: str, note: str) -> None:
    """Revoke card SERIAL for good."""
    _lifecycle("revoke", serial, reason=reason, note=note)


@card.command("unblock-pin")
@click.option("--reader", required=True, help="The counter's reader with the citizen's card.")
@click.option("--clerk", required=True, help="The clerk who checked the citizen's identity.")
@click.option("--puk", prompt=True, hide_input=True, help="The card's PUK (typed by the citizen).")
@click.option("--new-pin", prompt=True, hide_input=True, confirmation_prompt=True)
def card_unblock_pin(reader: str, clerk: str, puk: str, new_pin: str) -> None:
    """Reset a blocked PIN with the PUK, at a counter, vouched for by a clerk."""
    from backend.cards import unblock

    app = _app()
    try:
        with _transaction(app) as tx:
            serial = unblock.unblock_in_reader(tx, reader, clerk, puk, new_pin)
    except unblock.UnblockError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{serial} PIN reset")


def _attach_face() -> None:
    from backend.cards.face_cli import card_face

    card.add_command(card_face)


_attach_face()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(card())
