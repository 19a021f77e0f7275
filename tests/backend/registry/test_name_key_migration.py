"""Migration 0012 re-keys the names whose search key changed (Latin accents off), on
both databases, and its downgrade puts the old keys back."""

import pytest
from sqlalchemy import text

from backend import migrations
from backend.db import make_engine
from backend.testing import databases

PEOPLE = {  # national number: (full name, key before 0012, key from 0012 on)
    "3578085705900003": ("Nguyễn Văn Đức", "nguyễn văn đức", "nguyen van duc"),
    "3578085705900011": ("Siti Nurhaliza", "siti nurhaliza", "siti nurhaliza"),
    "3578085705900029": ("สมศักดิ์ ใจดี", "สมศักดิ์ ใจดี", "สมศักดิ์ ใจดี"),
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url_at_0011(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rekey.db'}"
        name = None
    else:
        name = databases.unique_name("sk_rekey")
        url = databases.create_pg_database(name)
    migrations.upgrade(url, "0011")
    engine = make_engine(url)
    with engine.begin() as conn:
        for number, (full_name, old_key, _new) in PEOPLE.items():
            conn.execute(text(
                "INSERT INTO citizens (national_number, full_name, name_search, birth_date, "
                "sex, address, region_code, language) VALUES (:number, :name, :key, "
                "'1990-05-17', 'F', '', '3578081010', 'id')"),
                {"number": number, "name": full_name, "key": old_key})
    engine.dispose()
    yield url
    if name is not None:
        databases.drop_pg_database(name)


def _keys(url):
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT national_number, name_search FROM citizens")).all()
    engine.dispose()
    return dict(rows)


def test_the_upgrade_rekeys_names_without_their_latin_accents(url_at_0011):
    migrations.upgrade(url_at_0011, "0012")
    assert _keys(url_at_0011) == {number: new for number, (_, _, new) in PEOPLE.items()}


def test_the_downgrade_puts_the_accents_back_in_the_keys(url_at_0011):
    migrations.upgrade(url_at_0011, "0012")
    migrations.downgrade(url_at_0011, "0011")
    assert _keys(url_at_0011) == {number: old for number, (_, old, _) in PEOPLE.items()}
