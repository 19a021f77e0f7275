"""What the catalogue's requests are made of and aimed at: the request (`Call`), the
test's hub and callers (`Ctx`), and builders of fresh objects (a citizen, a card, a
desk job, an appeal) that one caller's request may change without touching the next's;
and `send`, which puts a request to the hub as a caller.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from backend.cards import lifecycle
from backend.db import database, session
from backend.identity import accounts
from backend.registry import national_ids
from backend.registry.dedup.models import DuplicateCandidate
from backend.registry.models import Citizen
from backend.registry.national_ids import make_nik
from backend.testing.cards import KEY_BY_ASSURANCE, ask_challenge, authenticate
from backend.testing.identity import bearer, make_staff
from backend.testing.registry import DEFAULT_REGION, make_citizen, make_household
from tests.reliability.security.conftest import World, caller_kind

unique = itertools.count(1)
W = "/api/v1"
PURPOSE = {"purpose": "verify the person at the counter"}
TODAY = dt.date.today()


@dataclass
class Call:
    """A request; `token` replaces the caller's own when the request would end it."""

    path: str
    query: dict[str, Any] | None = None
    json: Any = None
    data: Any = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    token: str | None = None


@dataclass
class Ctx:
    app: Flask
    client: FlaskClient
    world: World
    soft_card: Callable[..., Any]

    def caller_terminal(self, caller: str) -> str | None:
        kind, role, _ = caller_kind(caller)
        return self.world.terminals[role].terminal_id if kind in ("terminal", "card") else None


Builder = Callable[[Ctx, str], Call]


def nik() -> str:
    birth = dt.date(1985, 3, 9)
    while True:
        number = make_nik(DEFAULT_REGION, birth, "M", next(unique) % 9999 + 1)
        if session().query(Citizen.id).filter_by(national_number=number).first() is None:
            return number


def family_card() -> str:
    while True:
        number = f"{DEFAULT_REGION[:6]}{TODAY:%d%m%y}{next(unique) % 9999 + 1:04d}"
        if national_ids.check_family_card(number) is None and not session().execute(
                _household_with(number)).first():
            return number


def _household_with(number: str) -> Any:
    from sqlalchemy import select

    from backend.registry.models import Household

    return select(Household.id).where(Household.family_card_number == number)


def new_staff(ctx: Ctx, role: str = "clerk") -> Any:
    return make_staff(ctx.app, role)


def new_terminal_id(ctx: Ctx) -> str:
    with database().transaction() as tx:
        row, _ = accounts.create_terminal(tx, kind="kiosk", name=f"target {next(unique)}")
        return row.id


def new_card(ctx: Ctx) -> Any:
    return ctx.soft_card(make_citizen(full_name="Dewi Sartika"))


def card_session_token(ctx: Ctx, kind: str, assurance: str) -> str:
    answer = authenticate(ctx.client, ctx.world.terminals[kind].token,
                          ctx.world.ani_card, ctx.app.config["ORIGIN"],
                          KEY_BY_ASSURANCE[assurance])
    assert answer.status_code == 200, answer.json
    return answer.json["session_token"]


def own_token(ctx: Ctx, caller: str) -> str | None:
    """A new token of the caller's very kind, for requests that end the one they carry."""
    kind, role, assurance = caller_kind(caller)
    if kind == "staff":
        return new_staff(ctx, role).token
    if kind == "card":
        return card_session_token(ctx, role, assurance)
    return None


def settle_call(ctx: Ctx, caller: str) -> Call:
    terminal_id = ctx.caller_terminal(caller) or ctx.world.terminals["agent"].terminal_id
    day = TODAY - dt.timedelta(days=next(unique))
    return Call("/api/v1/ledger/settlements", json={"terminal_id": terminal_id,
                                                    "day": day.isoformat()})


def token_call(ctx: Ctx, caller: str) -> Call:
    """A correctly signed card token for the caller's terminal (a nonce of its own)."""
    kind, role, _ = caller_kind(caller)
    nonce = (ask_challenge(ctx.client, ctx.world.terminals[role].token)
             if kind == "terminal" else b"\x07" * 32)
    token = ctx.world.ani_card.token(nonce, ctx.app.config["ORIGIN"])
    return Call("/api/v1/auth/token", json=token)


def suspended_card(ctx: Ctx) -> str:
    card = new_card(ctx)
    lifecycle.suspend(session(), card.serial)
    session().commit()
    return card.serial


def household_with_child(ctx: Ctx) -> str:
    child = make_citizen(full_name="Putri Ayu")
    family = make_household(members=[(child, "child")])
    return f"/api/v1/households/{family.id}/members/{child.id}"


def pdf_of(ctx: Ctx, public_id: str) -> bytes:
    answer = ctx.client.get(f"/api/v1/documents/{public_id}/pdf",
                            headers=bearer(ctx.world.staff["admin"].token))
    assert answer.status_code == 200
    return answer.data


def citizen_id(ctx: Ctx) -> int:
    return make_citizen(full_name="Rudi Hermawan", sex="M").id


def duplicate_candidate(ctx: Ctx) -> int:
    """An open pair in the clerks' queue: two fresh look-alike records."""
    existing = make_citizen(full_name="Rudi Hermawan", sex="M")
    new = make_citizen(full_name="Hermawan Rudi", sex="M")
    row = DuplicateCandidate(new_citizen_id=new.id, existing_citizen_id=existing.id,
                             score=0.9, name_similarity=100.0, matched="name,birth_date",
                             source="registration", status="open")
    sess = session()
    sess.add(row)
    sess.commit()
    return row.id


def desk_job(ctx: Ctx, caller: str, step: str = "requested") -> Any:
    """An issuance job at the caller's desk (the world's desk for any other caller) for a
    fresh citizen, taken in-process as far as `step` (claimed, keys_certified)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from backend.cards import desk

    _, role, _ = caller_kind(caller)
    desk_id = (ctx.caller_terminal(caller) if role == "desk" else None) or \
        ctx.world.terminals["desk"].terminal_id
    job = desk.start(session(), citizen_number=make_citizen(full_name="Made Wirawan")
                     .national_number, desk_id=desk_id)
    at = desk.Desk(desk_id)
    if step != "requested":
        desk.claim(session(), at, ca=lifecycle.issuing_ca(), settings=dict(ctx.app.config),
                   job_id=job.id)
    if step == "keys_certified":
        desk.certify_keys(session(), job.id, at, card_uuid=job.card_uuid, ca=lifecycle.
                          issuing_ca(), public_keys={ref: ec.generate_private_key(
                              ec.SECP256R1()).public_key() for ref in ("9A", "9E")})
    session().commit()
    return job


def desk_call(ctx: Ctx, caller: str, step: str) -> Call:
    """A desk's step on a job of its own that is ready for it."""
    if step == "claim":
        desk_job(ctx, caller)
        return Call(f"{W}/desk/jobs/claim")
    job = desk_job(ctx, caller, "keys_certified" if step == "activate" else "claimed")
    body: dict[str, Any] = {"card_uuid": job.card_uuid}
    if step == "certify":
        body["public_keys"] = {"9A": public_key_b64()}
    if step == "fail":
        body["reason"] = "card_removed"
    return Call(f"{W}/desk/jobs/{job.id}/{step}", json=body)


def public_key_b64() -> str:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    return base64.b64encode(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def approval_request(ctx: Ctx, maker: str | None = None, approved: bool = False) -> int:
    """A cards.revoke request for two fresh cards by `maker` (a fresh admin if None),
    approved by another fresh admin if asked."""
    from backend.approvals import service
    from backend.auth.principal import Principal

    maker = maker or new_staff(ctx, "admin").username
    row = service.request_approval(session(), "cards.revoke", {
        "serials": [new_card(ctx).serial, new_card(ctx).serial], "reason": "keyCompromise"},
        Principal(kind="staff", subject=maker, role="admin"))
    if approved:
        checker = new_staff(ctx, "admin").username
        service.approve(session(), row.id, Principal(kind="staff", subject=checker,
                                                     role="admin"))
    session().commit()
    return row.id


def bulk_job(ctx: Ctx, status: str = "finished") -> int:
    """A bulk revocation job: finished (two cards, done directly), or queued or
    cancelled (an approved request carried out, its task not run)."""
    from backend.approvals import service
    from backend.auth.principal import Principal
    from backend.bulk import jobs
    from backend.cards.bulk import revoke_many

    admin = Principal(kind="staff", subject=new_staff(ctx, "admin").username, role="admin")
    if status == "finished":
        started = revoke_many(session(), [new_card(ctx).serial, "ZZZZ-0000-ZZZZ"],
                              "keyCompromise", admin)
        session().commit()
        return started.job.id  # type: ignore[union-attr]
    _, done = service.carry_out(session(), approval_request(ctx, approved=True), admin,
                                send=False)
    if status == "cancelled":
        jobs.cancel_job(session(), done.job_id, admin)  # type: ignore[arg-type]
    session().commit()
    return done.job_id  # type: ignore[return-value]


def grievance(ctx: Ctx, caller: str | None = None) -> int:
    """A fresh citizen's open appeal against a refusal (as the API records one); assigned
    to `caller` if staff."""
    from backend.audit import record
    from backend.audit.sequencer import settle
    from backend.auth.principal import Principal
    from backend.grievances import service, subjects
    from backend.testing.audit import list_records

    holder = make_citizen(full_name="Sri Wahyuni")
    now = dt.datetime.now(dt.UTC)
    filer = Principal(kind="staff", subject=new_staff(ctx, "clerk").username, role="clerk")
    record(session(), action="api.services.run_action", outcome="not_eligible",
           citizen_id=holder.id, principal=filer,
           details={"path_args": {"key": "elderly", "action_name": "withdraw"}})
    session().commit()
    settle(database().engine)
    seq = list_records(session().connection(), citizen_id=holder.id)[-1]["seq"]
    subject = subjects.refusal(session(), holder.id, seq, now)
    row = service.file_appeal(session(), filer, citizen_id=holder.id, channel="counter",
                              subject=subject, now=now).grievance
    kind, role, _ = caller_kind(caller or "")
    if kind == "staff" and role in service.ASSIGNEES:
        username = ctx.world.staff[role].username
        service.assign(session(), Principal(kind="staff", subject=username, role=role),
                       row.id)
    session().commit()
    return row.id




def send(ctx: Ctx, method: str, call: Call, token: str | None) -> Any:
    token = call.token or token
    headers = {**(bearer(token) if token else {}), **call.headers}
    kwargs: dict[str, Any] = {"headers": headers, "query_string": call.query}
    if call.json is not None:
        kwargs["json"] = call.json
    elif call.data is not None:
        kwargs["data"] = call.data
        if call.content_type:
            kwargs["content_type"] = call.content_type
    return ctx.client.open(call.path, method=method.upper(), **kwargs)
