"""`satukartu card face SERIAL --out FILE`: the card's printed face at the issuing office."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("face")
@click.argument("serial")
@click.option("--out", "out", required=True,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Where to write the PDF (one CR80 page for the card printer).")
def card_face(serial: str, out: Path) -> None:
    """Write the printed face of card SERIAL: name, number, photo box, QR of the serial.

    Reading the holder's name and number is in their access log ("print the card
    face"), attributed to the console user. A revoked or superseded card has no face.
    """
    from backend.cards.cli import _app, _transaction, console_principal
    from backend.cards.face import face_pdf

    app = _app()
    with _transaction(app) as tx:
        printed, pdf = face_pdf(tx, serial, app.config, console_principal())
    out.write_bytes(pdf)
    click.echo(f"{printed} face: {out}")
