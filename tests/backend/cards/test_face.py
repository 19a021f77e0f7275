"""The card's printed face: a CR80 page for the card printer, read as a person would
(its size, its text, its QR code, its fonts), and the read of the holder's data
audited."""

import getpass
import io

import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sqlalchemy import select

from backend.audit.models import AuditRecord
from backend.audit.sequencer import settle
from backend.cards import ca as ca_module
from backend.cards import lifecycle
from backend.cli import main
from backend.db import database, session
from backend.reasons import Reason
from backend.testing.cards import make_soft_card, record_soft_card
from backend.testing.identity import bearer, make_staff
from backend.testing.registry import make_citizen
from tests.backend.documents import pdftools

CR80_MM = (85.60, 53.98)
POINTS_PER_MM = 72 / 25.4


@pytest.fixture
def admin(staff_token):
    return bearer(staff_token("admin"))


@pytest.fixture
def dewi_card(citizen, soft_card):
    holder = citizen(full_name="Dewi Kartika Lestari")
    return holder, soft_card(holder)


def _face(client, headers, serial):
    return client.get(f"/api/v1/cards/{serial}/face.pdf", headers=headers)


def _fonts(pdf):
    fonts = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]
    return [str(fonts[name].get_object()["/BaseFont"]) for name in fonts]


def test_the_face_is_one_cr80_page(client, admin, dewi_card):
    answer = _face(client, admin, dewi_card[1].serial)
    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    assert answer.headers["Cache-Control"] == "no-store"
    reader = PdfReader(io.BytesIO(answer.data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    size_mm = (float(box.width) / POINTS_PER_MM, float(box.height) / POINTS_PER_MM)
    assert size_mm == pytest.approx(CR80_MM, abs=0.1)


def test_the_face_shows_the_holders_name_and_number(client, admin, dewi_card):
    holder, card = dewi_card
    printed = pdftools.text(_face(client, admin, card.serial).data)
    assert "Dewi Kartika Lestari" in printed
    assert holder.national_number in printed
    assert card.serial in printed


def test_the_qr_code_on_the_face_reads_as_the_cards_serial(client, admin, dewi_card,
                                                           tmp_path):
    serial = dewi_card[1].serial
    [page] = pdftools.pages(_face(client, admin, serial).data, tmp_path, dpi=300)
    assert pdftools.qr_codes(page) == [serial]


def test_a_thai_name_is_set_in_a_thai_font(client, admin, citizen, soft_card):
    card = soft_card(citizen(full_name="สมศักดิ์ ใจดี", sex="M", language="th"))
    pdf = _face(client, admin, card.serial).data
    assert any("NotoSansThai" in font for font in _fonts(pdf)), _fonts(pdf)
    assert "สมศักดิ์" in pdftools.text(pdf)


def test_printing_the_face_is_an_audited_read_of_the_holders_data(client, admin,
                                                                  dewi_card):
    holder, card = dewi_card
    _face(client, admin, card.serial)
    [read] = session().scalars(select(AuditRecord).where(
        AuditRecord.action == "citizen.data.read", AuditRecord.citizen_id == holder.id))
    assert (read.purpose, read.subject_type, read.subject_id) == (
        "print the card face", "card", card.serial)
    assert read.role == "admin"


def test_only_admins_print_faces(client, staff_token, dewi_card):
    answer = _face(client, bearer(staff_token("clerk")), dewi_card[1].serial)
    assert answer.status_code == 403


def test_a_revoked_card_gets_no_face(client, admin, dewi_card):
    serial = dewi_card[1].serial
    lifecycle.revoke(session(), serial, "keyCompromise", "lost")
    session().commit()
    answer = _face(client, admin, serial)
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == Reason.CARD_STATE_INVALID


def test_an_unknown_serial_is_not_found(client, admin, card_ca):
    answer = _face(client, admin, "AAAA-BBBB-CCCC")
    assert answer.status_code == 404
    assert answer.json["error"]["reason"] == Reason.NOT_FOUND


def test_the_console_writes_the_same_face_and_audits_the_console_user(committing_app,
                                                                      tmp_path):
    app = committing_app  # committed for real: the command is another process's view
    issuing = ca_module.init_ca(app.config["CA_DIR"], "Kota Uji")
    holder = make_citizen(full_name="Dewi Kartika Lestari")
    card = make_soft_card(issuing, holder.national_number, holder.id)
    record_soft_card(card)
    out = tmp_path / "face.pdf"
    env = {"SATUKARTU_DATABASE_URL": app.config["DATABASE_URL"],
           "SATUKARTU_INSTANCE_DIR": app.config["INSTANCE_DIR"],
           "SATUKARTU_SECRET_KEY": app.config["SECRET_KEY"]}
    done = CliRunner().invoke(main, ["card", "face", card.serial, "--out", str(out)], env=env)
    assert done.exit_code == 0, done.output
    admin = bearer(make_staff(app, "admin").token)
    assert out.read_bytes() == _face(app.test_client(), admin, card.serial).data
    session().rollback()
    settle(database().engine)  # chain what the command queued, as the hub's readers do
    actors = [r.actor for r in session().scalars(select(AuditRecord).where(
        AuditRecord.action == "citizen.data.read", AuditRecord.citizen_id == holder.id))]
    assert f"console:{getpass.getuser()}" in actors
