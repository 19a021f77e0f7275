"""Receipts: one signed, printable receipt for every redemption and withdrawal."""

import datetime as dt
import json

from sqlalchemy import func, select

from backend.db import session
from backend.documents import formats, receipts
from backend.documents.models import IssuedDocument
from backend.reasons import Reason
from tests.backend.documents import pdftools

BASKET = {"items": [{"name": "Beras 5 kg", "category": "rice", "quantity": 1,
                     "unit_price": 68_000},
                    {"name": "Telur 1 kg", "category": "eggs", "quantity": 2,
                     "unit_price": 28_000}],
          "amount": 124_000}


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def _redeem(citizen, household, fund, terminal, card_session_at, call_service,
            name="Siti Rahayu"):
    holder = citizen(full_name=name)
    fund("food", "groceries", household(head=holder, welfare_decile=2), 200_000)
    shop = terminal("agent", name="e-Warong Melati")
    token = card_session_at(holder, shop)
    answer = call_service(token, "food", "redeem", BASKET)
    assert answer.status_code == 200, answer.json
    return holder, shop, token, answer.json["receipt"]


def test_redemption_receipt_shows_agent_items_amounts_balance_and_verification_url(
        citizen, household, fund, terminal, card_session_at, call_service, client):
    holder, shop, token, number = _redeem(citizen, household, fund, terminal,
                                          card_session_at, call_service)
    answer = client.get(f"/api/v1/receipts/{number}", headers=_auth(token))
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    words = pdftools.text(answer.data)
    document = receipts.find_for_entry(session(), number)
    for expected in ("e-Warong Melati", shop.terminal_id, "Beras 5 kg", "Telur 1 kg",
                     "Rp 68.000", "Rp 56.000", "Rp 124.000", "Rp 76.000", str(number),
                     "S*** R***"):
        assert expected in words, expected
    assert "Siti Rahayu" not in words
    assert (f"https://hub.test.satukartu/api/v1/documents/{document.public_id}/verify"
            in pdftools.unbroken(answer.data))


def test_receipt_prints_on_one_roll_page_with_a_readable_qr_code(
        citizen, household, fund, terminal, card_session_at, call_service, client,
        tmp_path):
    _, _, token, number = _redeem(citizen, household, fund, terminal, card_session_at,
                                  call_service)
    pdf = client.get(f"/api/v1/receipts/{number}", headers=_auth(token)).data
    [page] = pdftools.pages(pdf, tmp_path, dpi=300)
    assert pdftools.ink_share(page) > 0.02
    document = receipts.find_for_entry(session(), number)
    assert pdftools.qr_codes(page) == [
        f"https://hub.test.satukartu/api/v1/documents/{document.public_id}/verify"]


def test_receipt_time_is_the_redemption_time_in_the_city_zone(
        citizen, household, fund, terminal, card_session_at, call_service, client):
    from backend.ledger.models import JournalEntry

    _, _, token, number = _redeem(citizen, household, fund, terminal, card_session_at,
                                  call_service)
    words = pdftools.text(client.get(f"/api/v1/receipts/{number}", headers=_auth(token)).data)
    created = session().get(JournalEntry, number).created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    assert formats.moment(created, "Asia/Jakarta") in words


def test_the_holder_prints_the_receipt_later_at_a_kiosk(
        citizen, household, fund, terminal, card_session_at, card_session, call_service,
        client):
    holder, _, _, number = _redeem(citizen, household, fund, terminal, card_session_at,
                                   call_service)
    kiosk = card_session(holder, assurance="tap", terminal_kind="kiosk")
    assert client.get(f"/api/v1/receipts/{number}", headers=_auth(kiosk)).status_code == 200


def test_the_agent_terminal_fetches_its_own_receipt(
        citizen, household, fund, terminal, card_session_at, call_service, client):
    _, shop, _, number = _redeem(citizen, household, fund, terminal, card_session_at,
                                 call_service)
    assert client.get(f"/api/v1/receipts/{number}",
                      headers=_auth(shop.token)).status_code == 200


def test_another_agent_or_citizen_gets_no_receipt(
        citizen, household, fund, terminal, card_session_at, card_session, call_service,
        client):
    _, _, _, number = _redeem(citizen, household, fund, terminal, card_session_at,
                              call_service)
    other_shop = terminal("agent")
    stranger = card_session(citizen(), assurance="pin", terminal_kind="kiosk")
    for token in (other_shop.token, stranger):
        answer = client.get(f"/api/v1/receipts/{number}", headers=_auth(token))
        assert answer.status_code == 404
        assert answer.json["error"]["reason"] == Reason.DOCUMENT_NOT_FOUND
    signed = session().scalar(select(func.count()).select_from(IssuedDocument).where(
        IssuedDocument.source == receipts.source_of(number)))
    assert signed == 1  # the redemption's own; the refused fetches added nothing


def test_a_grant_has_no_receipt(citizen, household, fund, staff_token, client):
    posting = fund("food", "groceries", household(head=citizen(), welfare_decile=2), 1_000)
    answer = client.get(f"/api/v1/receipts/{posting.entry_id}",
                        headers=_auth(staff_token("admin")))
    assert answer.status_code == 404
    assert answer.json["error"]["reason"] == Reason.DOCUMENT_NOT_FOUND


def test_each_redemption_has_exactly_one_receipt_however_often_it_is_fetched(
        citizen, household, fund, terminal, card_session_at, call_service, client):
    _, _, token, number = _redeem(citizen, household, fund, terminal, card_session_at,
                                  call_service)
    first = client.get(f"/api/v1/receipts/{number}", headers=_auth(token)).data
    second = client.get(f"/api/v1/receipts/{number}", headers=_auth(token)).data
    assert first == second
    count = session().scalar(select(func.count()).select_from(IssuedDocument).where(
        IssuedDocument.source == receipts.source_of(number)))
    assert count == 1


def test_a_fetched_receipt_verifies_as_the_issued_file(
        citizen, household, fund, terminal, card_session_at, call_service, client):
    _, _, token, number = _redeem(citizen, household, fund, terminal, card_session_at,
                                  call_service)
    pdf = client.get(f"/api/v1/receipts/{number}", headers=_auth(token)).data
    public_id = receipts.find_for_entry(session(), number).public_id
    verdict = client.post(f"/api/v1/documents/{public_id}/verify", data=pdf,
                          content_type="application/pdf")
    assert verdict.status_code == 200, verdict.json
    assert verdict.json["kind"] == "receipt" and verdict.json["holder"] == "S*** R***"


def test_a_receipt_recorded_in_the_redemption_renders_on_first_fetch(
        citizen, household, fund, terminal, card_session_at, call_service, client):
    _, _, token, number = _redeem(citizen, household, fund, terminal, card_session_at,
                                  call_service)
    recorded = receipts.issue_for_entry(session(), number)
    session().commit()
    assert recorded.file_sha256 is None
    pdf = client.get(f"/api/v1/receipts/{number}", headers=_auth(token)).data
    session().refresh(recorded)
    import hashlib

    assert recorded.file_sha256 == hashlib.sha256(pdf).hexdigest()


def test_withdrawal_receipt_at_a_counter(citizen, household, fund, card_session,
                                         call_service, client):
    elder = citizen(full_name="Mbah Sarinah", birth_date=dt.date(1950, 1, 1))
    household(head=elder, welfare_decile=1)
    fund("elderly", "allowance", elder, 600_000)
    token = card_session(elder, assurance="pin", terminal_kind="counter")
    answer = call_service(token, "elderly", "withdraw", {"amount": 250_000})
    assert answer.status_code == 200, answer.json
    words = pdftools.text(client.get(f"/api/v1/receipts/{answer.json['receipt']}",
                                     headers=_auth(token)).data)
    for expected in ("Penarikan tunai", "Rp 250.000", "Rp 350.000", "M*** S***"):
        assert expected in words, expected


def test_a_redemption_signs_its_receipt_as_it_commits_stating_that_moments_balance(
        citizen, household, fund, terminal, card_session_at, call_service):
    holder, shop, token, number = _redeem(citizen, household, fund, terminal,
                                          card_session_at, call_service)
    session().expire_all()
    signed = receipts.find_for_entry(session(), number)
    assert signed is not None and signed.signature  # before anyone asked for it
    eggs = {"items": [BASKET["items"][1] | {"quantity": 1}], "amount": 28_000}
    later = call_service(card_session_at(holder, shop), "food", "redeem", eggs)
    assert later.status_code == 200, later.json
    session().refresh(signed)
    assert json.loads(signed.content)["balance_after"] == 76_000  # as it committed
