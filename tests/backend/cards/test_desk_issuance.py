"""Issuance at an enrolment desk, through the API: an admin starts a job, the desk claims
it, the hub certifies the keys the card made, the desk reports the card written and the
hub activates it. Keys here are software keys standing in for the card's (the whole
flow with a card in a reader through pcscd is tests/card_reader/test_desk_mode.py)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from sqlalchemy import select

from backend.cards import ca as ca_module
from backend.cards import desk, issuance, lifecycle
from backend.cards.desk_models import IssuanceJob
from backend.cards.models import Card
from backend.db import database, session
from backend.testing.cards import ask_challenge, present_token
from backend.testing.identity import bearer
from card_reader import wire
from card_reader.client import PivSession
from card_reader.piv import PivError
from card_reader.vcard import open_card

JOBS = "/api/v1/issuance-jobs"
DESK = "/api/v1/desk/jobs"


@pytest.fixture
def admin(staff_token):
    return staff_token("admin")


@pytest.fixture
def desk_terminal(terminal):
    return terminal("desk")


@pytest.fixture
def holder(citizen):
    return citizen(full_name="Ayu Kartika")


def start(client, admin, holder, desk_id, **extra):
    return client.post(JOBS, json={"citizen": holder.national_number, "desk": desk_id, **extra},
                       headers=bearer(admin))


def claim(client, desk_terminal):
    answer = client.post(f"{DESK}/claim", headers=bearer(desk_terminal.token))
    assert answer.status_code == 200, answer.json
    return answer.json["job"]


def spki(key: ec.EllipticCurvePrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def new_keys() -> dict[str, ec.EllipticCurvePrivateKey]:
    return {ref: ec.generate_private_key(ec.SECP256R1()) for ref in ("9A", "9E")}


def certify(client, desk_terminal, job, keys, card_uuid=None):
    return client.post(f"{DESK}/{job['job_id']}/certify", headers=bearer(desk_terminal.token),
                       json={"card_uuid": card_uuid or job["card_uuid"],
                             "public_keys": {ref: spki(key) for ref, key in keys.items()}})


def activate(client, desk_terminal, job):
    return client.post(f"{DESK}/{job['job_id']}/activate", headers=bearer(desk_terminal.token),
                       json={"card_uuid": job["card_uuid"]})


def certified_job(client, admin, holder, desk_terminal, keys=None):
    """A job started, claimed and certified at `desk_terminal`: (claimed job, keys,
    certificates by key reference)."""
    assert start(client, admin, holder, desk_terminal.terminal_id).status_code == 201
    job = claim(client, desk_terminal)
    keys = keys or new_keys()
    answer = certify(client, desk_terminal, job, keys)
    assert answer.status_code == 200, answer.json
    certs = {ref: base64.b64decode(der) for ref, der in answer.json["certificates"].items()}
    return job, keys, certs


def job_row(job_id: int) -> IssuanceJob:
    session().expire_all()
    return session().get(IssuanceJob, job_id)


def cards_of(holder) -> list[Card]:
    return list(session().execute(select(Card).where(Card.citizen_id == holder.id)).scalars())


# --- starting -------------------------------------------------------------------------


def test_an_admin_starts_a_job_for_a_citizen_at_a_desk(client, admin, holder, desk_terminal,
                                                       audit_log):
    answer = start(client, admin, holder, desk_terminal.terminal_id)
    assert answer.status_code == 201, answer.json
    assert (answer.json["status"], answer.json["desk_id"], answer.json["citizen_id"]) == (
        "requested", desk_terminal.terminal_id, holder.id)
    assert audit_log(action="issuance.start")[-1]["citizen_id"] == holder.id


def test_a_deceased_citizen_gets_no_job(client, admin, citizen, desk_terminal):
    holder = citizen(died_on=dt.date(2025, 1, 1))
    answer = start(client, admin, holder, desk_terminal.terminal_id)
    assert answer.status_code == 409 and answer.json["error"]["reason"] == "citizen_deceased"


def test_an_unknown_national_number_gets_no_job(client, admin, desk_terminal):
    answer = client.post(JOBS, json={"citizen": "0000000000000000",
                                     "desk": desk_terminal.terminal_id}, headers=bearer(admin))
    assert answer.status_code == 404 and answer.json["error"]["reason"] == "not_found"


def test_a_job_is_started_only_at_a_desk(client, admin, holder, terminal):
    answer = start(client, admin, holder, terminal("kiosk").terminal_id)
    assert answer.status_code == 409 and answer.json["error"]["reason"] == "not_a_desk"


def test_a_job_is_not_started_at_a_disabled_desk(client, admin, holder, desk_terminal):
    disabled = client.post(f"/api/v1/terminals/{desk_terminal.terminal_id}/disable",
                           headers=bearer(admin))
    assert disabled.status_code == 200, disabled.json
    answer = start(client, admin, holder, desk_terminal.terminal_id)
    assert answer.status_code == 409 and answer.json["error"]["reason"] == "terminal_disabled"


def test_a_citizen_has_one_open_job_at_a_time(client, admin, holder, desk_terminal):
    first = start(client, admin, holder, desk_terminal.terminal_id)
    again = start(client, admin, holder, desk_terminal.terminal_id)
    assert again.status_code == 409
    assert again.json["error"]["reason"] == "issuance_job_open"
    assert again.json["error"]["details"]["job_id"] == first.json["job_id"]


def test_a_desk_registered_from_the_console_has_the_kind_desk():
    from backend.cli import main

    assert "desk" in CliRunner().invoke(main, ["terminal", "add", "--help"]).output


# --- claiming -------------------------------------------------------------------------


def test_the_desk_claims_its_job_with_this_cards_own_management_key(app, client, admin,
                                                                    holder, desk_terminal,
                                                                    card_ca):
    start(client, admin, holder, desk_terminal.terminal_id)
    answer = client.post(f"{DESK}/claim", headers=bearer(desk_terminal.token))
    job = answer.json["job"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert bytes.fromhex(job["management_key"]) == ca_module.card_management_key(
        dict(app.config), job["card_uuid"])
    assert job["holder"] == {"national_number": holder.national_number,
                             "full_name": "Ayu Kartika"}
    assert (job["attempt"], job["pin_digits"], job["puk_digits"]) == (1, 6, 8)


def test_handing_the_holders_name_to_the_desk_is_in_their_access_log(client, admin, holder,
                                                                     desk_terminal, card_ca,
                                                                     audit_log):
    start(client, admin, holder, desk_terminal.terminal_id)
    claim(client, desk_terminal)
    read = audit_log(action="issuance.holder.read")[-1]
    assert (read["citizen_id"], read["terminal_id"]) == (holder.id, desk_terminal.terminal_id)


def test_a_desk_does_not_get_another_desks_job(client, admin, holder, desk_terminal,
                                               terminal, card_ca):
    start(client, admin, holder, desk_terminal.terminal_id)
    assert claim(client, terminal("desk")) is None
    assert claim(client, desk_terminal) is not None


def test_a_desk_with_nothing_to_do_gets_no_job(client, desk_terminal, card_ca):
    assert claim(client, desk_terminal) is None


# --- certifying -----------------------------------------------------------------------


def test_the_cards_public_keys_come_back_certified_by_the_issuing_ca(client, admin, holder,
                                                                     desk_terminal, card_ca):
    job, keys, certs = certified_job(client, admin, holder, desk_terminal)
    for ref, der in certs.items():
        cert = x509.load_der_x509_certificate(der)
        cert.verify_directly_issued_by(card_ca.certificate)
        assert cert.public_key().public_numbers() == keys[ref].public_key().public_numbers()
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
            f"urn:uuid:{job['card_uuid']}"]
    assert job_row(job["job_id"]).status == "keys_certified"


def test_keys_may_come_one_at_a_time_as_the_card_makes_them(client, admin, holder,
                                                            desk_terminal, card_ca):
    start(client, admin, holder, desk_terminal.terminal_id)
    job = claim(client, desk_terminal)
    keys = new_keys()
    first = certify(client, desk_terminal, job, {"9A": keys["9A"]})
    assert (first.status_code, first.json["status"]) == (200, "claimed")
    second = certify(client, desk_terminal, job, {"9E": keys["9E"]})
    assert (second.status_code, second.json["status"]) == (200, "keys_certified")
    assert list(second.json["certificates"]) == ["9E"]


def test_a_key_is_certified_once_per_attempt(client, admin, holder, desk_terminal, card_ca):
    start(client, admin, holder, desk_terminal.terminal_id)
    job = claim(client, desk_terminal)
    certify(client, desk_terminal, job, {"9A": new_keys()["9A"]})
    again = certify(client, desk_terminal, job, {"9A": new_keys()["9A"]})
    assert again.status_code == 409
    assert again.json["error"]["reason"] == "key_already_certified"


def test_one_key_for_both_slots_is_refused(client, admin, holder, desk_terminal, card_ca):
    start(client, admin, holder, desk_terminal.terminal_id)
    job = claim(client, desk_terminal)
    same = ec.generate_private_key(ec.SECP256R1())
    answer = certify(client, desk_terminal, job, {"9A": same, "9E": same})
    assert answer.status_code == 422
    assert answer.json["error"]["reason"] == "public_key_invalid"


def test_a_key_that_is_not_p256_is_refused(client, admin, holder, desk_terminal, card_ca):
    start(client, admin, holder, desk_terminal.terminal_id)
    job = claim(client, desk_terminal)
    answer = certify(client, desk_terminal, job, {"9A": ec.generate_private_key(ec.SECP384R1())})
    assert answer.status_code == 422
    assert answer.json["error"]["reason"] == "public_key_invalid"


def test_no_card_exists_until_activation(app, client, admin, holder, desk_terminal, terminal,
                                         card_ca):
    job, keys, certs = certified_job(client, admin, holder, desk_terminal)
    assert cards_of(holder) == []
    kiosk = terminal("kiosk").token
    nonce = ask_challenge(client, kiosk)
    signature = keys["9E"].sign(wire.signed_digest(app.config["ORIGIN"], nonce),
                                ec.ECDSA(Prehashed(hashes.SHA256())))
    answer = present_token(client, kiosk, wire.CardToken(certs["9E"], signature, "9E",
                                                         nonce).to_dict())
    assert answer.json["error"]["reason"] == "card_unknown"


# --- activating -----------------------------------------------------------------------


def test_activation_records_the_card_as_the_holders_active_card(client, admin, holder,
                                                                desk_terminal, card_ca):
    job, _, _ = certified_job(client, admin, holder, desk_terminal)
    answer = activate(client, desk_terminal, job)
    assert answer.status_code == 200, answer.json
    assert (answer.json["serial"], answer.json["card_uuid"]) == (job["serial"], job["card_uuid"])
    [card] = cards_of(holder)
    assert (card.serial, card.status) == (job["serial"], "active")
    row = job_row(job["job_id"])
    assert (row.status, row.card_id, row.cert_9a, row.cert_9e) == ("active", card.id, None, None)


def test_activation_retires_the_holders_previous_card(client, admin, holder, desk_terminal,
                                                      soft_card):
    old = soft_card(holder)
    job, _, _ = certified_job(client, admin, holder, desk_terminal)
    activate(client, desk_terminal, job)
    assert lifecycle.get_card(session(), old.serial).status == "superseded"


def test_activation_asked_again_answers_the_same_card(client, admin, holder, desk_terminal,
                                                      card_ca):
    job, _, _ = certified_job(client, admin, holder, desk_terminal)
    first = activate(client, desk_terminal, job)
    again = activate(client, desk_terminal, job)
    assert again.status_code == 200 and again.json == first.json
    assert len(cards_of(holder)) == 1


def test_a_job_is_not_activated_before_both_keys_are_certified(client, admin, holder,
                                                               desk_terminal, card_ca):
    start(client, admin, holder, desk_terminal.terminal_id)
    job = claim(client, desk_terminal)
    certify(client, desk_terminal, job, {"9A": new_keys()["9A"]})
    answer = activate(client, desk_terminal, job)
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == "issuance_job_state_invalid"


def test_every_step_is_audited(client, admin, holder, desk_terminal, card_ca, audit_log):
    job, _, _ = certified_job(client, admin, holder, desk_terminal)
    activate(client, desk_terminal, job)
    actions = [r["action"] for r in audit_log(citizen_id=holder.id)]
    for action in ("issuance.start", "issuance.claim", "issuance.certify", "card.issue",
                   "issuance.activate"):
        assert action in actions


# --- failing, retrying, cancelling ----------------------------------------------------


def test_a_failed_attempt_leaves_no_card_and_the_next_claim_is_a_fresh_attempt(
        client, admin, holder, desk_terminal, card_ca):
    first, _, _ = certified_job(client, admin, holder, desk_terminal)
    failed = client.post(f"{DESK}/{first['job_id']}/fail", headers=bearer(desk_terminal.token),
                         json={"reason": "card_removed", "card_uuid": first["card_uuid"]})
    assert (failed.status_code, failed.json["status"]) == (200, "failed")
    assert cards_of(holder) == []
    second = claim(client, desk_terminal)
    assert second["job_id"] == first["job_id"] and second["attempt"] == 2
    assert (second["serial"], second["card_uuid"]) != (first["serial"], first["card_uuid"])
    certify(client, desk_terminal, second, new_keys())
    assert activate(client, desk_terminal, second).status_code == 200
    assert [c.serial for c in cards_of(holder)] == [second["serial"]]


def test_a_desk_that_claims_again_gives_up_the_attempt_it_held(client, admin, holder,
                                                               desk_terminal, card_ca):
    start(client, admin, holder, desk_terminal.terminal_id)
    first = claim(client, desk_terminal)
    second = claim(client, desk_terminal)
    assert second["attempt"] == 2
    late = certify(client, desk_terminal, first, new_keys())
    assert late.status_code == 409 and late.json["error"]["reason"] == "card_uuid_mismatch"


def test_a_cancelled_job_goes_no_further(client, admin, holder, desk_terminal, card_ca):
    job, _, _ = certified_job(client, admin, holder, desk_terminal)
    cancelled = client.post(f"{JOBS}/{job['job_id']}/cancel", json={"note": "wrong person"},
                            headers=bearer(admin))
    assert cancelled.json["status"] == "cancelled"
    answer = activate(client, desk_terminal, job)
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == "issuance_job_state_invalid"
    assert cards_of(holder) == []
    assert start(client, admin, holder, desk_terminal.terminal_id).status_code == 201


def test_an_active_job_cannot_be_cancelled(client, admin, holder, desk_terminal, card_ca):
    job, _, _ = certified_job(client, admin, holder, desk_terminal)
    activate(client, desk_terminal, job)
    answer = client.post(f"{JOBS}/{job['job_id']}/cancel", json={}, headers=bearer(admin))
    assert answer.json["error"]["reason"] == "issuance_job_state_invalid"


# --- who may do what ------------------------------------------------------------------


@pytest.mark.parametrize("step", ["certify", "activate", "fail"])
def test_another_desk_cannot_advance_the_job(client, admin, holder, desk_terminal, terminal,
                                             card_ca, step):
    start(client, admin, holder, desk_terminal.terminal_id)
    job = claim(client, desk_terminal)
    body = {"certify": {"card_uuid": job["card_uuid"], "public_keys": {"9A": spki(
        new_keys()["9A"])}}, "activate": {"card_uuid": job["card_uuid"]},
        "fail": {"reason": "not mine"}}[step]
    answer = client.post(f"{DESK}/{job['job_id']}/{step}", json=body,
                         headers=bearer(terminal("desk").token))
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == "issuance_job_other_desk"
    assert job_row(job["job_id"]).status == "claimed"


def test_an_admin_token_cannot_work_a_desks_job(client, admin):
    answer = client.post(f"{DESK}/claim", headers=bearer(admin))
    assert answer.status_code == 403 and answer.json["error"]["reason"] == "role_not_allowed"


def test_a_desk_cannot_start_jobs(client, holder, desk_terminal):
    answer = client.post(JOBS, json={"citizen": holder.national_number,
                                     "desk": desk_terminal.terminal_id},
                         headers=bearer(desk_terminal.token))
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == "terminal_kind_not_allowed"


def test_a_kiosk_cannot_claim_jobs(client, terminal):
    answer = client.post(f"{DESK}/claim", headers=bearer(terminal("kiosk").token))
    assert answer.json["error"]["reason"] == "terminal_kind_not_allowed"


def test_a_card_session_at_a_desk_is_the_citizen_not_the_desk(client, card_session, holder):
    token = card_session(holder, assurance="pin", terminal_kind="desk")
    answer = client.post(f"{DESK}/claim", headers=bearer(token))
    assert answer.status_code == 403 and answer.json["error"]["reason"] == "forbidden"


def test_admins_list_jobs_by_status_and_desk(client, admin, citizen, desk_terminal, terminal,
                                             card_ca):
    other = terminal("desk")
    start(client, admin, citizen(), desk_terminal.terminal_id)
    start(client, admin, citizen(), other.terminal_id)
    claim(client, other)
    listed = client.get(JOBS, query_string={"status": "requested",
                                            "desk": desk_terminal.terminal_id},
                        headers=bearer(admin)).json["jobs"]
    assert [(j["desk_id"], j["status"]) for j in listed] == [
        (desk_terminal.terminal_id, "requested")]


# --- the console is a desk of its own --------------------------------------------------


class EngineLink:
    """The virtual card's APDU engine as a client connection (no PC/SC in between)."""

    def __init__(self, engine):
        self.engine = engine
        engine.power_on()

    def transmit(self, apdu: bytes) -> bytes:
        return self.engine.process(apdu)


def console_issue(app, piv, holder):
    with app.app_context():
        return issuance.issue_at_console(
            database().transaction, piv, ca=lifecycle.issuing_ca(), settings=dict(app.config),
            citizen_number=holder.national_number, pin="135790")


def test_card_issue_at_the_console_goes_through_a_job_of_the_console(app, card_ca, holder,
                                                                     tmp_path):
    issued = console_issue(app, PivSession(EngineLink(open_card(tmp_path / "c.json"))), holder)
    [job] = desk.list_jobs(session(), citizen_id=holder.id)
    assert (job.desk_id, job.status, job.serial) == (None, "active", issued.serial)


def test_a_failed_console_attempt_is_recorded_and_the_next_issue_takes_it_up(
        app, card_ca, holder, citizen, tmp_path):
    used = PivSession(EngineLink(open_card(tmp_path / "used.json")))
    console_issue(app, used, citizen())
    with pytest.raises(PivError):
        console_issue(app, used, holder)
    [failed] = desk.list_jobs(session(), citizen_id=holder.id)
    assert (failed.status, cards_of(holder)) == ("failed", [])
    issued = console_issue(app, PivSession(EngineLink(open_card(tmp_path / "new.json"))), holder)
    job = job_row(failed.id)
    assert (job.status, job.attempts, job.serial) == ("active", 2, issued.serial)


def test_a_desks_job_is_not_taken_over_by_the_console(app, client, admin, holder,
                                                      desk_terminal, card_ca, tmp_path):
    start(client, admin, holder, desk_terminal.terminal_id)
    with pytest.raises(issuance.IssuanceError, match="open"):
        console_issue(app, PivSession(EngineLink(open_card(tmp_path / "c.json"))), holder)


def test_a_job_id_from_the_console_is_not_claimable_by_a_desk(app, card_ca, holder,
                                                               desk_terminal):
    job = desk.start(session(), citizen_number=holder.national_number, desk_id=None)
    with pytest.raises(Exception, match="console"):
        desk.claim(session(), desk.Desk(desk_terminal.terminal_id), ca=card_ca,
                   settings=dict(app.config), job_id=job.id)
