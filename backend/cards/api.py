"""Card authentication for terminals, card sessions, and the card lifecycle for admins."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from flask import Flask, Response, current_app, g, request
from pydantic import BaseModel, Field, StrictBool
from sqlalchemy import select

from backend.api.routing import MAX_INT, Api, OutModel, StrictModel
from backend.audit import record
from backend.auth.principal import (
    PUBLIC,
    TERMINAL_KINDS,
    Principal,
    Requirement,
    current_principal,
)
from backend.cards import authentication as auth
from backend.cards import crl, desk_api, lifecycle, taplock
from backend.cards.context import state
from backend.cards.models import Card
from backend.cards.sessions import log_out
from backend.cards.store import utcnow
from backend.cards.tokens import parse_token
from backend.db import database, session
from backend.errors import ApiError
from backend.identity.resolver import (
    check_in_view,
    judge_from_memory,
    judge_terminal,
    pending_terminal_check,
)
from backend.reasons import Reason
from backend.registry.refs import CITIZEN_REF_DOC, citizen_ref

api = Api("cards", tag="cards")

TERMINALS = Requirement(terminal_kinds=TERMINAL_KINDS)
CARD_SESSION = Requirement(terminal_kinds=TERMINAL_KINDS, card=True)
ADMIN = Requirement(roles=("admin",))
CARD_READERS = Requirement(roles=("admin", "clerk", "auditor"))
# The holder with the PIN, where there is a PIN pad: see `taplock.py`.
TAP_LOCKERS = Requirement(terminal_kinds=taplock.TAP_LOCK_TERMINALS, card=True,
                          assurance="pin")
TOKEN_REASONS = (
    Reason.TOKEN_MALFORMED, Reason.TOKEN_OVERSIZED, Reason.NONCE_UNKNOWN,
    Reason.NONCE_EXPIRED, Reason.NONCE_REUSED, Reason.NONCE_OTHER_TERMINAL,
    Reason.CERTIFICATE_UNTRUSTED, Reason.CERTIFICATE_EXPIRED,
    Reason.CERTIFICATE_NOT_YET_VALID, Reason.CERTIFICATE_WRONG_USAGE, Reason.CARD_UNKNOWN,
    Reason.CARD_SUSPENDED, Reason.CARD_REVOKED, Reason.CARD_SUPERSEDED, Reason.TAP_LOCKED,
    Reason.SIGNATURE_INVALID,
)
BURN_KEY = "cards_nonce_to_burn"


def _terminal() -> Principal:
    principal = current_principal()
    if principal is None or principal.kind != "terminal":
        raise ApiError(Reason.FORBIDDEN, "only a terminal's own token may do this", 403)
    return principal


# --- authentication -----------------------------------------------------------------


class ChallengeOut(OutModel):
    nonce: str = Field(description="base64 of 64 bytes (32 random, then the hub's proof "
                       "of issuer, expiry and terminal); the card signs "
                       "SHA-256(SHA-256(origin) || SHA-256(nonce))")
    expires_at: str


class TokenIn(BaseModel):
    """The card's answer to a challenge (`card_reader.wire.CardToken`). Checked by the
    hub itself, so that every defect has its own reason (token_malformed, ...)."""

    certificate: str = Field(description="base64 DER certificate of the key used")
    signature: str = Field(description="base64 DER ECDSA signature")
    key_ref: Literal["9A", "9E"]
    nonce: str = Field(description="base64 nonce from the challenge")
    algorithm: Literal["ES256"]


class SessionOut(OutModel):
    session_token: str
    assurance: Literal["tap", "pin"]
    card_serial: str
    citizen_ref: str = Field(description=CITIZEN_REF_DOC)
    expires_at: str


@api.route("/auth/challenge", "POST", summary="A single-use nonce for this terminal",
           auth=TERMINALS, response=ChallengeOut, reasons=(Reason.FORBIDDEN,))
def challenge() -> dict:
    """Valid for SATUKARTU_CHALLENGE_TTL seconds (5 minutes), once, at this terminal only."""
    terminal = _terminal()
    issued = auth.issue_challenge(state().nonce_key, terminal.terminal_id or terminal.subject,
                                  current_app.config["CHALLENGE_TTL"], utcnow())
    return issued.to_dict()


@api.route("/auth/token", "POST", summary="Open a card session with a signed challenge",
           auth=TERMINALS, response=SessionOut, reasons=TOKEN_REASONS, doc_body=TokenIn)
def token() -> dict:
    """Checks, in this order, each refusal with its reason: shape and size; nonce known,
    unexpired, unused, this terminal's; certificate from a trusted issuing CA, valid now,
    usage and policy right for the key; card active (and, for the tap key 9E, not locked
    for taps by its holder: `tap_locked`); signature. A nonce that passed its own checks
    is spent even when a later check refuses the token."""
    terminal = _terminal()
    run = database().server_run  # one run for the nonce's key and the statement's check
    settings = {"key": state().nonce_key_for(run), "origin": current_app.config["ORIGIN"],
                "ttl": current_app.config["SESSION_TTL"], "now": utcnow()}
    try:
        parsed = parse_token(request.get_data(cache=False), state().trust_store())
        # As served on PostgreSQL: one statement judges the terminal (the resolver left
        # it to this view: `init_app`), opens the session and queues its audit record.
        alone = auth.authenticate_alone(parsed, terminal, pending_terminal_check(), **settings,
                                        run=run, connection=lambda: session().connection())
    except ApiError:
        judge_terminal()  # refused before the statement: the terminal's refusal goes first
        raise
    if alone is not None:
        return alone.to_wire().to_dict()
    judge_terminal()
    opened = auth.authenticate(session().connection(), parsed, terminal, **settings, run=run,
                               nonce_spent=_remember_nonce)
    g.pop(BURN_KEY, None)
    record(session(), action="card.auth", subject_type="card", subject_id=opened.card.serial,
           principal=opened.principal(), details={"certificate": parsed.certificate.sha256})
    return opened.to_wire().to_dict()


def _remember_nonce(spent: dict) -> None:
    setattr(g, BURN_KEY, spent)


def burn_refused_nonce(_principal: Principal | None, op: object, _error: ApiError) -> None:
    """Refusal hook: a token refused after its nonce checks still spends the nonce."""
    spent = g.pop(BURN_KEY, None)
    if spent is None:
        return
    with database().sessions() as own, own.begin():
        auth.burn_nonce(own.connection(), spent)


class SessionInfo(OutModel):
    session_id: str
    card_serial: str
    citizen_ref: str = Field(description=CITIZEN_REF_DOC)
    assurance: str
    terminal_id: str
    tap_locked: bool = Field(description="the holder locked this card for taps: only the "
                             "PIN key opens sessions (POST /auth/tap-lock)")


@api.route("/auth/session", summary="The card session behind this token", auth=CARD_SESSION,
           response=SessionInfo)
def session_info() -> SessionInfo:
    card = current_principal().card  # type: ignore[union-attr]
    assert card is not None
    return SessionInfo(session_id=card.session_id, card_serial=card.card_serial,
                       citizen_ref=citizen_ref(card.citizen_id), assurance=card.assurance,
                       terminal_id=card.terminal_id,
                       tap_locked=taplock.tap_locked(session(), card.card_serial))


class TapLockIn(StrictModel):
    locked: StrictBool = Field(description="true: taps (key 9E) are refused `tap_locked` "
                               "and every use needs the PIN; false: taps work again")


class TapLockOut(OutModel):
    card_serial: str
    tap_locked: bool


@api.route("/auth/tap-lock", "POST", summary="Lock or unlock this card for taps (the "
           "holder, with the PIN)", auth=TAP_LOCKERS, body=TapLockIn, response=TapLockOut,
           reasons=(Reason.CARD_STATE_INVALID,))
def tap_lock(body: TapLockIn) -> TapLockOut:
    """The session's own card. Locking ends the card's open tap sessions at once; this
    PIN session goes on. Setting the state the card already has is a success that
    changes nothing (only changes are audited: card.tap_lock, card.tap_unlock). A new
    card, a replacement too, starts unlocked."""
    principal = current_principal()
    assert principal is not None and principal.card is not None
    locked = taplock.set_tap_lock(session(), principal, body.locked)
    return TapLockOut(card_serial=principal.card.card_serial, tap_locked=locked)


@api.route("/auth/logout", "POST", summary="End this card session (logout, card removed)",
           auth=CARD_SESSION, status=204)
def logout() -> None:
    principal = current_principal()
    assert principal is not None and principal.card is not None
    log_out(session(), principal.card, "logout")


# --- lifecycle --------------------------------------------------------------------------


class CardOut(OutModel):
    serial: str
    card_uuid: str
    citizen_id: int
    status: str
    revocation_reason: str | None
    status_changed_at: dt.datetime | None
    tap_locked: bool = Field(description="the holder locked it for taps (PIN only)")
    issued_at: dt.datetime
    expires_at: dt.datetime


class CardList(OutModel):
    cards: list[CardOut]


class CardQuery(StrictModel):
    citizen: int = Field(ge=1, le=MAX_INT, description="the citizen's id")


class SuspendIn(StrictModel):
    reason: Literal["certificateHold"] = "certificateHold"
    note: str = Field("", max_length=500)


class RevokeIn(StrictModel):
    reason: Literal[lifecycle.REVOKE_REASONS]  # type: ignore[valid-type]
    note: str = Field("", max_length=500)


class ReinstateIn(StrictModel):
    note: str = Field("", max_length=500)


LIFECYCLE_REASONS = (Reason.NOT_FOUND, Reason.CARD_STATE_INVALID)


@api.route("/cards", summary="A citizen's cards, newest first", auth=CARD_READERS,
           query=CardQuery, response=CardList)
def list_cards(query: CardQuery) -> CardList:
    found = session().execute(select(Card).where(Card.citizen_id == query.citizen)
                              .order_by(Card.id.desc())).scalars().all()
    return CardList(cards=[CardOut.model_validate(c) for c in found])


@api.route("/cards/<serial>", summary="One card", auth=CARD_READERS, response=CardOut,
           reasons=(Reason.NOT_FOUND,))
def get_card(serial: str) -> CardOut:
    return CardOut.model_validate(lifecycle.get_card(session(), serial))


@api.route("/cards/<serial>/suspend", "POST", summary="Put a card on hold", auth=ADMIN,
           body=SuspendIn, response=CardOut, reasons=LIFECYCLE_REASONS)
def suspend(serial: str, body: SuspendIn) -> CardOut:
    return CardOut.model_validate(lifecycle.suspend(session(), serial, body.reason, body.note))


@api.route("/cards/<serial>/reinstate", "POST", summary="Lift a card's suspension",
           auth=ADMIN, body=ReinstateIn, response=CardOut, reasons=LIFECYCLE_REASONS)
def reinstate(serial: str, body: ReinstateIn) -> CardOut:
    return CardOut.model_validate(lifecycle.reinstate(session(), serial, body.note))


@api.route("/cards/<serial>/revoke", "POST", summary="Revoke a card for good", auth=ADMIN,
           body=RevokeIn, response=CardOut, reasons=LIFECYCLE_REASONS)
def revoke(serial: str, body: RevokeIn) -> CardOut:
    return CardOut.model_validate(lifecycle.revoke(session(), serial, body.reason, body.note))


class UnblockOut(OutModel):
    serial: str
    authorised: bool


@api.route("/cards/<serial>/pin-unblock", "POST", summary="Authorise a PIN unblock at a "
           "counter (the counter's reader then resets the PIN with the PUK)",
           auth=Requirement(roles=("clerk", "admin")), response=UnblockOut,
           reasons=LIFECYCLE_REASONS)
def pin_unblock(serial: str) -> UnblockOut:
    card = lifecycle.authorise_pin_unblock(session(), serial)
    return UnblockOut(serial=card.serial, authorised=True)


@api.route("/crl", summary="The issuing CA's latest CRL (DER)", auth=PUBLIC,
           content_type="application/pkix-crl", reasons=(Reason.SERVICE_UNAVAILABLE,))
def current_crl() -> Response:
    """Signed by the issuing CA; a new one follows every suspension and revocation."""
    latest = crl.latest(session())
    if latest is None:
        latest = crl.publish(session(), lifecycle.issuing_ca(),
                             current_app.config["CRL_VALIDITY_HOURS"], note="first request")
    return Response(latest.der, mimetype="application/pkix-crl",
                    headers={"Cache-Control": "public, max-age=300"})


def init_app(app: Flask) -> None:
    from backend.api.routing import add_refusal_hook

    add_refusal_hook(app, burn_refused_nonce)
    check_in_view(app, f"{api.blueprint.name}.{token.__name__}")
    judge_from_memory(app, f"{api.blueprint.name}.{challenge.__name__}")
    app.register_blueprint(desk_api.api.blueprint)  # issuance jobs: admins' and desks' routes
