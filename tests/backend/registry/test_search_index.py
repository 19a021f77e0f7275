"""Citizen search at scale: the statements the search runs are ones PostgreSQL's indexes
serve (their speed on a million citizens: bench/bench_citizen_search.py), and the search
key behind them drops Latin accents and keeps Thai."""

import pytest

from backend.db import make_engine
from backend.registry import service
from backend.registry.names import fold_name

pytestmark = pytest.mark.postgres
URL = "/api/v1/citizens"


@pytest.fixture
def pg(pg_url):
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def _plan(conn, **search):
    """EXPLAIN of the search's own statement, with its parameters bound as the hub binds
    them."""
    statement = service.search_statement("postgresql", page=1, per_page=20, **search)
    compiled = statement.compile(dialect=conn.dialect)
    return "\n".join(conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
                     .scalars())


@pytest.fixture
def only_an_index_on_the_condition(pg):
    """Neither a sequential scan nor a walk along the id order: what is left is a bitmap
    scan of an index that serves the search's condition (a condition no index serves
    falls back to the disabled sequential scan), whatever the table holds."""
    pg.exec_driver_sql("SET enable_seqscan = off")
    pg.exec_driver_sql("SET enable_indexscan = off")
    return pg


def test_a_name_search_is_served_by_the_trigram_index(only_an_index_on_the_condition):
    plan = _plan(only_an_index_on_the_condition, number=None, name="Nguyễn")
    assert "ix_citizens_name_trgm" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_a_search_of_two_words_is_served_by_the_index_of_the_joined_key(
        only_an_index_on_the_condition):
    plan = _plan(only_an_index_on_the_condition, number=None, name="Dewi Hasibuan")
    assert "ix_citizens_name_joined_trgm" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_a_search_of_two_words_finds_them_side_by_side_only(client, clerk, citizen):
    citizen(full_name="Dewi Dewi")
    citizen(full_name="Dew Idewi")
    citizen(full_name="Dewi Sari Dewi")
    assert _search(client, clerk, "dewi dewi") == ["Dewi Dewi"]
    assert _search(client, clerk, "wi de") == ["Dewi Dewi"]


def test_a_number_search_is_a_lookup_in_the_unique_index(only_an_index_on_the_condition):
    plan = _plan(only_an_index_on_the_condition, number="3578085705900003", name=None)
    assert "uq_citizens_national_number" in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.parametrize(("name", "key"), [
    ("Nguyễn Văn Đức", "nguyen van duc"),
    ("Trần  Thị Hương", "tran thi huong"),
    ("Phạm Ưng Ơn", "pham ung on"),
    ("Siti Nurhaliza", "siti nurhaliza"),
    ("สมศักดิ์ ใจดี", "สมศักดิ์ ใจดี"),
])
def test_the_search_key_drops_latin_accents_and_keeps_thai_marks(name, key):
    assert fold_name(name) == key


def _search(client, headers, name):
    answer = client.get(URL, query_string={"purpose": "find the applicant", "name": name},
                        headers=headers)
    assert answer.status_code == 200, answer.json
    return [item["full_name"] for item in answer.json["items"]]


def test_a_vietnamese_name_typed_without_accents_is_found(client, clerk, citizen):
    citizen(full_name="Nguyễn Văn An", sex="M")
    citizen(full_name="Trần Thị Hương")
    assert _search(client, clerk, "nguyen van") == ["Nguyễn Văn An"]
    assert _search(client, clerk, "Tran Thi Huong") == ["Trần Thị Hương"]


def test_a_name_typed_with_accents_still_finds_it(client, clerk, citizen):
    citizen(full_name="Nguyễn Văn An", sex="M")
    assert _search(client, clerk, "NGUYỄN văn") == ["Nguyễn Văn An"]


def test_any_part_of_a_thai_name_finds_it(client, clerk, citizen):
    citizen(full_name="สมศักดิ์ ใจดี", sex="M", language="th")
    citizen(full_name="สมชาย แสงทอง", sex="M", language="th")
    assert _search(client, clerk, "ศักดิ์ ใจ") == ["สมศักดิ์ ใจดี"]


@pytest.mark.parametrize("walk", [40, 10], ids=["second walk", "index"])
@pytest.mark.parametrize(("part", "limit"), [("dewi kartika", "JOINED_WALK"),
                                             ("kartika", "SEARCH_WALK")],
                         ids=["two words", "one word"])
def test_a_page_found_by_a_longer_walk_or_by_the_index_is_the_same(
        client, clerk, citizen, monkeypatch, walk, part, limit):
    monkeypatch.setattr(service, "SEARCH_WINDOW", 4)
    monkeypatch.setattr(service, limit, walk)
    people = [citizen(full_name="Dewi Kartika" if n % 2 else "Budi Santoso", sex="F")
              for n in range(24)]
    dewis = [person.id for person in people if person.full_name == "Dewi Kartika"]
    answer = client.get(URL, query_string={"purpose": "find the applicant",
                                           "name": part, "per_page": 5},
                        headers=clerk)
    assert [item["id"] for item in answer.json["items"]] == dewis[:5]
    assert answer.json["has_more"] is True
