"""Civil documents from the registry: a domicile letter and a family-card extract.

The content of each comes from the integrated registry at the moment of issue, never
from the caller, so a citizen cannot have the city sign words of their choosing;
the only free text is the stated purpose of the letter, printed as such.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.documents import formats, render
from backend.documents.issuing import Issued, Kind, Page, issue
from backend.errors import ApiError
from backend.reasons import Reason
from backend.registry.models import Citizen, Household, HouseholdMember

OFFICE = "DINAS KEPENDUDUKAN DAN PENCATATAN SIPIL"
RELATION_ORDER = {"head": 0, "spouse": 1, "child": 2, "parent": 3, "other": 4}


def _person(citizen: Citizen) -> dict[str, Any]:
    return {"full_name": citizen.full_name, "national_number": citizen.national_number,
            "birth_date": citizen.birth_date.isoformat(), "sex": citizen.sex,
            "address": citizen.address, "region_code": citizen.region_code}


def _living(session: Session, citizen_id: int) -> Citizen:
    citizen = session.get(Citizen, citizen_id)
    if citizen is None:
        raise ApiError(Reason.NOT_FOUND, "no such citizen in the registry", 404)
    if citizen.died_on is not None:
        raise ApiError(Reason.CITIZEN_DECEASED, "the registry records this citizen's death",
                       422)
    return citizen


def domicile_content(session: Session, citizen_id: int, purpose: str) -> dict[str, Any]:
    """What a domicile letter certifies: the person and their registered address."""
    person = _person(_living(session, citizen_id))
    return {"holder": {"full_name": person["full_name"]}, "citizen": person,
            "purpose": purpose}


def family_content(session: Session, citizen_id: int) -> dict[str, Any]:
    """The family card the citizen belongs to, with every member, head first."""
    requester = _living(session, citizen_id)
    household = session.scalars(
        select(Household).join(HouseholdMember, HouseholdMember.household_id == Household.id)
        .where(HouseholdMember.citizen_id == citizen_id)).first()
    if household is None:
        raise ApiError(Reason.NOT_ELIGIBLE, "the citizen is on no family card", 422,
                       {"eligibility": "no_household"})
    rows = sorted(session.execute(
        select(Citizen, HouseholdMember.relationship)
        .join(HouseholdMember, HouseholdMember.citizen_id == Citizen.id)
        .where(HouseholdMember.household_id == household.id)).all(),
        key=lambda r: (RELATION_ORDER.get(r[1], 9), r[0].birth_date, r[0].id))
    members = [{**_person(c), "relationship": rel} for c, rel in rows]
    head = next((m for m in members if m["relationship"] == "head"), members[0])
    return {
        "holder": {"full_name": requester.full_name},
        "household": {"family_card_number": household.family_card_number,
                      "region_code": household.region_code, "head_name": head["full_name"],
                      "address": head["address"]},
        "members": members,
    }


def _heading(k: render.Kit, title: str, english: str, number: str) -> list[Flowable]:
    return [render.letterhead(k, OFFICE), render.gap(6), k.p(title, k.title, bold=True),
            k.p(english, k.centre), k.p(f"Nomor: {number}", k.centre), render.gap(6)]


def _closing(k: render.Kit, c: Mapping[str, Any], page: Page) -> Flowable:
    lines = [f"{page.city}, {formats.moment(c['issued_at'], page.zone)}",
             "Ditandatangani secara elektronik oleh", f"Pemerintah {c['issuer']}",
             "Keaslian dokumen dapat diperiksa dengan memindai kode QR di bawah."]
    return KeepTogether([render.gap(10)] + [k.p(line, k.right) for line in lines])


def render_domicile(c: Mapping[str, Any], page: Page) -> bytes:
    k = render.kit(page.city, page.font_dirs)
    person = c["citizen"]
    story = _heading(k, "SURAT KETERANGAN DOMISILI", "Certificate of domicile", c["number"])
    story += [
        k.p(f"Pemerintah {c['issuer']} menerangkan bahwa:"), render.gap(3),
        render.fields(k, [
            ("Nama lengkap", person["full_name"]),
            ("NIK", person["national_number"]),
            ("Tanggal lahir", formats.day(person["birth_date"])),
            ("Jenis kelamin", formats.SEXES_ID.get(person["sex"], person["sex"])),
            ("Alamat", person["address"]),
            ("Kode wilayah", formats.region(person["region_code"])),
        ]),
        render.gap(3),
        k.p("benar berdomisili di alamat tersebut di atas menurut data kependudukan terpadu "
            f"{c['issuer']} pada tanggal surat ini."),
        render.gap(2),
        k.p(f"Surat keterangan ini dibuat untuk keperluan: {c['purpose']}."),
        _closing(k, c, page),
    ]
    return render.build(story, k=k, title=f"Surat Keterangan Domisili {c['number']}",
                        footer=_footer(page))


def render_family(c: Mapping[str, Any], page: Page) -> bytes:
    k = render.kit(page.city, page.font_dirs)
    family = c["household"]
    story = _heading(k, "PETIKAN KARTU KELUARGA", "Family card extract", c["number"])
    story += [
        render.fields(k, [
            ("Nomor Kartu Keluarga", family["family_card_number"]),
            ("Kepala keluarga", family["head_name"]),
            ("Alamat", family["address"]),
            ("Kode wilayah", formats.region(family["region_code"])),
        ]),
        render.gap(4),
        render.grid(k, ["No", "Nama lengkap", "NIK", "Jenis kelamin", "Tanggal lahir",
                        "Hubungan"],
                    [[i, m["full_name"], m["national_number"],
                      formats.SEXES_ID.get(m["sex"], m["sex"]), formats.day(m["birth_date"]),
                      formats.RELATIONSHIPS_ID.get(m["relationship"], m["relationship"])]
                     for i, m in enumerate(c["members"], start=1)],
                    widths=[10 * mm, None, 36 * mm, 22 * mm,
                            27 * mm, 27 * mm],
                    style=k.small, numeric=(0,)),
        render.gap(3),
        k.p(f"Petikan ini sesuai dengan data kependudukan terpadu {c['issuer']} pada "
            "tanggal surat ini."),
        _closing(k, c, page),
    ]
    return render.build(story, k=k, title=f"Petikan Kartu Keluarga {c['number']}",
                        footer=_footer(page))


def _footer(page: Page) -> render.Footer:
    return render.Footer(page.verify_url, "Periksa keaslian / verify this document:",
                         page.fingerprint)


DOMICILE = Kind("domicile_letter", "DOM", "Surat Keterangan Domisili", render_domicile,
                keep_file=True)
FAMILY_EXTRACT = Kind("family_card_extract", "KK", "Petikan Kartu Keluarga", render_family,
                      keep_file=True)
KINDS = {kind.key: kind for kind in (DOMICILE, FAMILY_EXTRACT)}


def issue_civil(session: Session, kind: str, citizen_id: int, *, purpose: str = "",
                terminal_id: str | None = None) -> Issued:
    """Issue `kind` for the citizen from the registry as it stands now."""
    if kind == DOMICILE.key:
        content = domicile_content(session, citizen_id, purpose or "umum")
    elif kind == FAMILY_EXTRACT.key:
        content = family_content(session, citizen_id)
    else:
        raise ApiError(Reason.VALIDATION_FAILED, f"no civil document of kind {kind!r}", 400)
    return issue(session, KINDS[kind], content, citizen_id=citizen_id,
                 terminal_id=terminal_id)
