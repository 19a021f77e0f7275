"""What the database itself refuses, whatever code writes to it."""

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import migrations
from backend.db import make_engine
from backend.registry.models import Citizen, Household, HouseholdMember
from backend.registry.national_ids import make_nik


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request, tmp_path):
    if request.param == "postgresql":
        url = request.getfixturevalue("fresh_pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'constraints.db'}"
        migrations.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _person(sess, sequence):
    born = dt.date(1980, 1, 2)
    person = Citizen(national_number=make_nik("357808", born, "M", sequence),
                     full_name="Budi", name_search="budi", birth_date=born, sex="M",
                     address="", region_code="3578081010", language="id")
    sess.add(person)
    sess.flush()
    return person


def test_a_household_whose_head_is_not_a_member_cannot_commit(engine):
    with Session(engine) as sess:
        head, other = _person(sess, 1), _person(sess, 2)
        family = Household(family_card_number="3578081510120001", head_citizen_id=head.id,
                           region_code="3578081010", welfare_decile=2)
        sess.add(family)
        sess.flush()
        sess.add(HouseholdMember(household_id=family.id, citizen_id=other.id,
                                 relationship="other"))
        with pytest.raises(IntegrityError):
            sess.commit()


def test_a_household_and_its_heads_membership_commit_together(engine):
    with Session(engine) as sess:
        head = _person(sess, 1)
        family = Household(family_card_number="3578081510120001", head_citizen_id=head.id,
                           region_code="3578081010")
        sess.add(family)
        sess.flush()
        sess.add(HouseholdMember(household_id=family.id, citizen_id=head.id,
                                 relationship="head"))
        sess.commit()


def test_a_decile_outside_one_to_ten_cannot_be_stored(engine):
    with Session(engine) as sess:
        head = _person(sess, 1)
        sess.add(Household(family_card_number="3578081510120001", head_citizen_id=head.id,
                           region_code="3578081010", welfare_decile=0))
        with pytest.raises(IntegrityError):
            sess.flush()


def test_name_search_can_use_the_trigram_index_on_postgresql(pg_url):
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        plan = "\n".join(conn.execute(text(
            "EXPLAIN SELECT id FROM citizens WHERE name_search LIKE '%nurhal%'")).scalars())
    engine.dispose()
    assert "ix_citizens_name_trgm" in plan
