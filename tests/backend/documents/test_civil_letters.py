"""The civil documents open, read right, and carry a QR code to their verification."""

import datetime as dt

import pytest

from backend.db import session
from backend.documents import civil, formats
from backend.errors import ApiError
from backend.reasons import Reason
from tests.backend.documents import pdftools


def test_domicile_letter_shows_the_person_address_region_and_verification_url(
        issue_civil, citizen):
    siti = citizen(full_name="Siti Nurhaliza Rahayu", address="Jl. Kenanga No. 12, RT 004/RW 002",
                   region_code="3273010005", birth_date=dt.date(1987, 8, 17))
    issued = issue_civil("domicile_letter", siti)
    words = pdftools.text(issued.pdf)
    assert "SURAT KETERANGAN DOMISILI" in words
    assert "Siti Nurhaliza Rahayu" in words
    assert siti.national_number in words
    assert "Jl. Kenanga No. 12, RT 004/RW 002" in words
    assert "32.73.01.0005" in words
    assert "17 Agustus 1987" in words
    assert "pembukaan rekening bank" in words
    assert issued.verify_url in words
    assert issued.verify_url.startswith("https://hub.test.satukartu/api/v1/documents/")


def test_domicile_letter_page_is_not_blank_and_its_qr_code_decodes_to_the_verification_url(
        issue_civil, citizen, tmp_path):
    issued = issue_civil("domicile_letter", citizen())
    [page] = pdftools.pages(issued.pdf, tmp_path)
    assert pdftools.ink_share(page) > 0.01
    assert pdftools.qr_codes(page) == [issued.verify_url]


def test_family_card_extract_lists_every_member_with_relationship(issue_civil, citizen,
                                                                  household):
    head = citizen(full_name="Budi Santoso", sex="M", birth_date=dt.date(1980, 1, 2))
    wife = citizen(full_name="Ani Suryani", sex="F", birth_date=dt.date(1983, 3, 4))
    son = citizen(full_name="Dimas Santoso", sex="M", birth_date=dt.date(2012, 5, 6))
    family = household(head=head, members=[(wife, "spouse"), (son, "child")])
    issued = issue_civil("family_card_extract", wife)
    words = pdftools.text(issued.pdf)
    assert "PETIKAN KARTU KELUARGA" in words
    assert family.family_card_number in words
    for person in (head, wife, son):
        assert person.full_name in words
        assert person.national_number in words
    for relation in ("Kepala Keluarga", "Istri/Suami", "Anak"):
        assert relation in words
    assert issued.verify_url in words


def test_family_card_extract_puts_the_head_first(issue_civil, citizen, household):
    head = citizen(full_name="Kepala Utama", sex="M")
    child = citizen(full_name="Anak Pertama", sex="F", birth_date=dt.date(2015, 1, 1))
    household(head=head, members=[(child, "child")])
    words = pdftools.text(issue_civil("family_card_extract", child).pdf)
    assert words.index("Kepala Utama") < words.index("Anak Pertama")


def test_thai_name_is_printed_in_thai(issue_civil, citizen):
    somchai = citizen(full_name="สมชาย ใจดี", sex="M", language="th")
    words = pdftools.text(issue_civil("domicile_letter", somchai).pdf)
    assert "สมชาย" in words


def test_letter_for_a_deceased_citizen_is_refused(app, citizen):
    gone = citizen(died_on=dt.date(2025, 1, 1))
    with pytest.raises(ApiError) as refusal:
        civil.issue_civil(session(), "domicile_letter", gone.id)
    assert refusal.value.reason == Reason.CITIZEN_DECEASED


def test_family_extract_for_a_citizen_without_household_is_refused(app, citizen):
    with pytest.raises(ApiError) as refusal:
        civil.issue_civil(session(), "family_card_extract", citizen().id)
    assert refusal.value.reason == Reason.NOT_ELIGIBLE


def test_the_issued_file_is_the_one_kept(app, issue_civil, citizen):
    from backend.documents.models import DocumentFile

    issued = issue_civil("domicile_letter", citizen())
    assert session().get(DocumentFile, issued.document.id).pdf == issued.pdf


def test_printed_time_is_the_city_local_time(issue_civil, citizen):
    issued = issue_civil("domicile_letter", citizen())
    words = pdftools.text(issued.pdf)
    assert formats.moment(issued.document.issued_at, "Asia/Jakarta") in words
