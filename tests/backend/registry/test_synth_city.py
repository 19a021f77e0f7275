"""`satukartu registry synth` into the database: households, cards that authenticate,
the month's balances, and refusals that write nothing."""

import datetime as dt
import json
import random

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from backend.app import create_app
from backend.audit.sequencer import settle
from backend.cards import ca
from backend.cards.synthetic import CardMaker, card_secret
from backend.cli import main
from backend.db import database
from backend.ledger.allocation import registry_tables
from backend.services.catalogue import modules
from backend.testing.cards import SoftCard, authenticate
from backend.testing.identity import make_terminal

DAY = "2026-11-26"
ORIGIN = "https://hub.test.satukartu"


@pytest.fixture
def hub(fresh_pg_url, instance_dir):
    app = create_app(DATABASE_URL=fresh_pg_url, INSTANCE_DIR=str(instance_dir),
                     SECRET_KEY="cli-test-key", ORIGIN=ORIGIN)
    yield app
    app.extensions["satukartu.db"].engine.dispose()


@pytest.fixture
def run(fresh_pg_url, instance_dir):
    env = {"SATUKARTU_DATABASE_URL": fresh_pg_url, "SATUKARTU_INSTANCE_DIR": str(instance_dir),
           "SATUKARTU_SECRET_KEY": "cli-test-key", "SATUKARTU_ORIGIN": ORIGIN}
    return lambda *args: CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def with_ca(hub):
    return ca.init_ca(hub.config["CA_DIR"], "Kota Uji")


def count(hub, table, where="TRUE"):
    with hub.extensions["satukartu.db"].engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one()


@pytest.fixture
def city(run, with_ca):
    answer = run("registry", "synth", "--citizens", "400", "--seed", "3", "--as-of", DAY,
                 "--jobs", "2", "--progress")
    assert answer.exit_code == 0, answer.output
    return answer


def test_the_city_has_households_and_a_card_for_every_living_citizen(hub, city):
    citizens = count(hub, "citizens")
    assert citizens == 400
    assert count(hub, "households") > 50
    assert count(hub, "household_members") == citizens
    living = count(hub, "citizens", "died_on IS NULL")
    assert count(hub, "cards", "status = 'active'") == living
    assert count(hub, "cards", "issued_at < expires_at") == living
    assert f"cards: {living} issued" in city.output


def test_a_synthetic_card_drawn_anywhere_authenticates_with_either_key(hub, city, with_ca):
    maker = CardMaker(with_ca, card_secret(hub.config["CA_DIR"]))
    with hub.app_context(), database().transaction() as tx:
        rows = tx.execute(text(
            "SELECT k.citizen_id, c.national_number, k.card_uuid, k.issued_at, k.expires_at, "
            "k.cert_9a_sha256, k.cert_9e_sha256 FROM cards k "
            "JOIN citizens c ON c.id = k.citizen_id ORDER BY k.id")).all()
    terminal = make_terminal(hub, "kiosk").token
    client = hub.test_client()
    for row in random.Random(7).sample(rows, 3) + [rows[-1]]:
        made = maker.rebuild(row[0], row[1], row[2], row[3], row[4], (row[5], row[6]))
        card = SoftCard(made.serial, made.card_uuid, row[1], row[0], dict(made.keys),
                        dict(made.certificates))
        for key_ref in ("9A", "9E"):
            answer = authenticate(client, terminal, card, ORIGIN, key_ref)
            assert answer.status_code == 200, answer.json


def test_balances_are_what_the_months_allocations_grant(hub, city):
    with hub.app_context(), database().transaction() as tx:
        monthly = [(module, a) for module in modules().values() for a in module.allocations
                   if a.cadence == "monthly"]
        assert monthly
        for module, allocation in monthly:
            period = allocation.due_period(dt.date.fromisoformat(DAY))
            expected = {str(row.beneficiary_id): row.amount for row in tx.execute(
                allocation.beneficiaries(registry_tables(), period, module.config, 0,
                                         10**9)) if row.amount > 0}
            holder = module.purses[allocation.purse].holder
            balances = dict(tx.execute(text(
                "SELECT owner_ref, balance FROM ledger_accounts WHERE programme = :p AND "
                "purse = :purse AND owner_type = :holder"),
                {"p": module.key, "purse": allocation.purse, "holder": holder}).all())
            assert expected, f"{module.key}: no one eligible in a city of 400"
            assert balances == expected, module.key
            assert f"balances: {module.key}/{allocation.purse} {period.key}: " \
                   f"{len(expected)} grants" in city.output


def test_each_phase_shows_progress_and_its_time(city):
    for label in ("generating", "importing synthetic-3-400.csv", "cards",
                  "food/groceries 2026-11"):
        assert label in city.output
    assert "phases: generate" in city.output and "cards" in city.output


def test_no_progress_bars_unless_asked_off_a_terminal(run, hub):
    answer = run("registry", "synth", "--citizens", "30", "--as-of", DAY)
    assert answer.exit_code == 0, answer.output
    assert "generating" not in answer.output
    assert "no cards:" in answer.output  # no CA here: the city gets none, and says so
    assert count(hub, "cards") == 0


def test_a_rerun_is_refused_and_writes_nothing(run, hub, city):
    before = [count(hub, table) for table in ("citizens", "cards", "ledger_grants")]
    answer = run("registry", "synth", "--citizens", "400", "--seed", "3", "--as-of", DAY)
    assert answer.exit_code == 1
    assert "already holds 400 citizens" in answer.output
    assert "nothing was written" in answer.output
    assert [count(hub, table) for table in ("citizens", "cards", "ledger_grants")] == before


@pytest.mark.parametrize("args, says", [
    (("--citizens", "0"), "--citizens"),
    (("--citizens", "10", "--cards"), "cards need the issuing CA"),
    (("--citizens", "10", "--jobs", "0"), "--jobs"),
])
def test_a_bad_argument_is_refused_before_anything_is_written(run, hub, args, says):
    answer = run("registry", "synth", *args)
    assert answer.exit_code != 0
    assert says in answer.output
    assert count(hub, "citizens") == 0 and count(hub, "cards") == 0


def test_cards_and_balances_can_be_left_out(run, hub, with_ca):
    answer = run("registry", "synth", "--citizens", "50", "--no-cards", "--no-balances")
    assert answer.exit_code == 0, answer.output
    assert count(hub, "citizens") == 50
    assert count(hub, "cards") == 0 and count(hub, "ledger_accounts") == 0


def test_synthetic_cards_go_in_one_audit_record(hub, city):
    with hub.app_context():
        settle(database().engine)  # chain what synth queued, as the hub's readers do
    with hub.app_context(), database().transaction() as tx:
        records = tx.execute(text("SELECT details FROM audit_records "
                                  "WHERE action = 'card.synthetic_issue'")).scalars().all()
        assert len(records) == 1
        details = records[0] if isinstance(records[0], dict) else json.loads(records[0])
        assert details["cards"] == tx.scalar(select(func.count()).select_from(text("cards")))
