"""A value the database refuses (PostgreSQL stores no NUL in text) is the caller's
input: a 400 with nothing written, and the requests after it are served as usual."""

import pytest

pytestmark = pytest.mark.postgres
postgresql_only = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
ENROLMENT = {"school_name": "SD Negeri 1", "level": "primary", "school_code": "SD01",
             "grade": 3, "academic_year": "2026/2027"}


def _enrol(client, headers, person, **changes):
    return client.post(f"/api/v1/citizens/{person.id}/enrolments",
                       json={**ENROLMENT, **changes}, headers=headers)


@postgresql_only  # SQLite stores a NUL as any other character
def test_a_nul_in_a_stored_text_is_refused_and_the_next_request_is_served(
        client, as_role, citizen):
    admin = as_role("admin")
    person = citizen()
    refused = _enrol(client, admin, person, school_name="SD\x00Negeri")
    assert refused.status_code == 400, refused.json
    assert refused.json["error"]["reason"] == "validation_failed"
    served = _enrol(client, admin, person)
    assert served.status_code in (200, 201), served.json
