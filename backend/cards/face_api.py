"""`GET /api/v1/cards/<serial>/face.pdf`: the card's printed face, for an admin's card
printer (`backend.cards.face`)."""

from __future__ import annotations

from flask import Response, current_app

from backend.api.routing import Api
from backend.auth.principal import Requirement, current_principal
from backend.cards.face import face_pdf
from backend.db import session
from backend.reasons import Reason

api = Api("card_face", tag="cards")

ADMIN = Requirement(roles=("admin",))


@api.route("/cards/<serial>/face.pdf", summary="The card's printed face (CR80 PDF)",
           auth=ADMIN, content_type="application/pdf",
           reasons=(Reason.NOT_FOUND, Reason.CARD_STATE_INVALID))
def card_face(serial: str) -> Response:
    """One 85.60 × 53.98 mm page (CR80, ID-1) for a card printer: the holder's name and
    national number, a photo box, the serial and expiry, and a QR code of the serial.
    Reading the holder's name and number is written to the holder's access log with
    the purpose "print the card face". A revoked or superseded card has no face
    (`card_state_invalid`)."""
    printed, pdf = face_pdf(session(), serial, current_app.config, current_principal())
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="card-{printed}.pdf"',
        "Cache-Control": "no-store"})
