"""The clerks' review queue: registration and import flag look-alikes, clerks decide."""

import csv
import datetime as dt
import io

from sqlalchemy import func, select

from backend.db import session
from backend.reasons import Reason
from backend.registry import importer
from backend.registry.dedup.models import DuplicateCandidate
from backend.registry.models import Citizen
from backend.registry.national_ids import make_nik
from tests.backend.registry.conftest import audit_records, new_citizen_body
from tests.backend.registry.test_import import _city, engine, pg_engine, sqlite_engine  # noqa: F401

BORN = dt.date(1984, 3, 21)
REGION = "3578081010"
PURPOSE = {"purpose": "review possible duplicates"}


def _register(client, headers, name, seq, born=BORN, region=REGION):
    return client.post("/api/v1/citizens", headers=headers, json=new_citizen_body(
        national_number=make_nik(region, born, "M", seq), full_name=name, sex="M",
        birth_date=born.isoformat(), region_code=region))


def _flagged(citizen, client, clerk):
    existing = citizen(full_name="Budi Hartono Siregar", sex="M", birth_date=BORN,
                       region_code=REGION)
    answer = _register(client, clerk, "Siregar Budi Hartono", 9001)
    assert answer.status_code == 201
    return existing, answer.json


def test_a_look_alike_is_registered_and_flagged_for_review(client, clerk, citizen):
    existing, new = _flagged(citizen, client, clerk)
    assert new["pending_review"] is True and new["duplicate_of"] is None
    row = session().scalars(select(DuplicateCandidate)).one()
    assert (row.new_citizen_id, row.existing_citizen_id) == (new["id"], existing.id)
    assert (row.status, row.source) == ("open", "registration")
    assert audit_records("registry.duplicate.flag", citizen_id=new["id"])


def test_a_different_person_is_registered_without_a_flag(client, clerk, citizen):
    citizen(full_name="Budi Santoso", sex="M", birth_date=dt.date(1991, 8, 2),
            region_code="3578221004")
    answer = _register(client, clerk, "Budi Santoso", 9002)
    assert answer.status_code == 201 and answer.json["pending_review"] is False
    assert session().scalar(select(func.count()).select_from(DuplicateCandidate)) == 0


def test_a_registered_national_number_is_refused_not_queued(client, clerk, citizen):
    existing = citizen(full_name="Budi Hartono Siregar", sex="M", birth_date=BORN,
                       region_code=REGION)
    answer = client.post("/api/v1/citizens", headers=clerk, json=new_citizen_body(
        national_number=existing.national_number, full_name="Budi Hartono Siregar",
        sex="M", birth_date=BORN.isoformat(), region_code=REGION))
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == Reason.DUPLICATE_NATIONAL_NUMBER
    assert session().scalar(select(func.count()).select_from(DuplicateCandidate)) == 0


def test_a_clerk_lists_both_records_side_by_side_and_the_read_is_audited(
        client, clerk, citizen):
    existing, new = _flagged(citizen, client, clerk)
    answer = client.get("/api/v1/duplicates", headers=clerk, query_string=PURPOSE)
    assert answer.status_code == 200
    [item] = answer.json["items"]
    assert (item["new"]["id"], item["existing"]["id"]) == (new["id"], existing.id)
    assert "address" not in item["new"]
    for person in (new["id"], existing.id):
        [read] = [r for r in audit_records(citizen_id=person) if r.action.endswith(".read")]
        assert read.purpose == PURPOSE["purpose"]


def test_the_queue_needs_a_purpose_and_a_clerk(client, clerk, as_role):
    assert client.get("/api/v1/duplicates", headers=clerk).status_code == 400
    answer = client.get("/api/v1/duplicates", headers=as_role("agent"), query_string=PURPOSE)
    assert answer.status_code == 403


def test_same_person_marks_the_new_record_a_duplicate_of_the_existing(client, clerk, citizen):
    existing, new = _flagged(citizen, client, clerk)
    row = session().scalars(select(DuplicateCandidate)).one()
    answer = client.post(f"/api/v1/duplicates/{row.id}/decision", headers=clerk,
                         json={"decision": "same_person", "note": "same mother's name"})
    assert answer.status_code == 200 and answer.json["status"] == "same_person"
    assert answer.json["decided_by"]
    record = client.get(f"/api/v1/citizens/{new['id']}", headers=clerk, query_string=PURPOSE)
    assert record.json["duplicate_of"] == existing.id
    assert record.json["pending_review"] is False


def test_different_people_clears_the_flag(client, clerk, citizen):
    _existing, new = _flagged(citizen, client, clerk)
    row = session().scalars(select(DuplicateCandidate)).one()
    answer = client.post(f"/api/v1/duplicates/{row.id}/decision", headers=clerk,
                         json={"decision": "different_people"})
    assert answer.status_code == 200
    record = client.get(f"/api/v1/citizens/{new['id']}", headers=clerk, query_string=PURPOSE)
    assert (record.json["pending_review"], record.json["duplicate_of"]) == (False, None)
    assert audit_records("registry.duplicate.decide")


def test_a_pair_is_decided_once(client, clerk, citizen):
    _flagged(citizen, client, clerk)
    row = session().scalars(select(DuplicateCandidate)).one()
    path = f"/api/v1/duplicates/{row.id}/decision"
    client.post(path, headers=clerk, json={"decision": "different_people"})
    again = client.post(path, headers=clerk, json={"decision": "same_person"})
    assert again.status_code == 409
    assert again.json["error"]["reason"] == Reason.DUPLICATE_ALREADY_DECIDED


def _look_alike(lines):
    """A new household head: the first head's name swapped, another national number and
    family card (a household of one)."""
    [fields] = csv.reader([lines[1]])
    born = dt.date.fromisoformat(fields[2])
    fields[0] = make_nik(fields[4], born, fields[3], 9999)
    fields[1] = " ".join(reversed(fields[1].split()))
    fields[9] = fields[9][:-4] + "9999"
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    lines.append(out.getvalue())


def test_an_import_puts_a_look_alike_in_the_queue_and_imports_both(engine, tmp_path):  # noqa: F811
    report = importer.import_csv(engine, _city(tmp_path, edit=_look_alike), formats=["nik"])
    assert report.citizens == 301 and report.duplicates >= 1
    with engine.connect() as conn:
        pairs = conn.execute(select(DuplicateCandidate.new_citizen_id,
                                    DuplicateCandidate.existing_citizen_id,
                                    DuplicateCandidate.status, DuplicateCandidate.source)).all()
        names = dict(conn.execute(select(Citizen.id, Citizen.full_name)).all())
    assert any(names[new] == " ".join(reversed(names[old].split()))
               and (status, source) == ("open", "import") for new, old, status, source in pairs)
