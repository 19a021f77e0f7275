"""The signals read from the real journal and audit log: API, reports, the daily job."""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backend.audit.models import AuditRecord
from backend.audit.sequencer import settle
from backend.db import database, session
from backend.reasons import Reason
from backend.signals.tasks import signals_daily
from backend.testing.cards import present_token
from tests.backend.ledger.test_patterns import local, redeem

NIGHT = dt.date(2026, 3, 13)


def ask(client, token, day, suffix=""):
    return client.get(f"/api/v1/ledger/signals{suffix}", headers={
        "Authorization": f"Bearer {token}"}, query_string={"since": str(day), "until": str(day)})


def night_shift():
    for n in range(3):
        redeem(f"LATE-{n}", "shop-night", local(NIGHT, 23, 10 * n))
    for n in range(3):
        redeem(f"NOON-{n}", "shop-day", local(NIGHT, 12, 10 * n))


def test_a_days_signals_name_the_agent_and_the_entries_that_tripped_them(
        app, client, staff_token):
    night_shift()
    answer = ask(client, staff_token("auditor"), NIGHT)
    assert answer.status_code == 200, answer.json
    [signal] = answer.json["signals"]
    assert (signal["kind"], signal["subject"], signal["day"]) == (
        "outside_hours", "shop-night", str(NIGHT))
    assert len(signal["evidence"]) == 3 and len(signal["times"]) == 3


def test_card_refusals_at_an_agent_are_read_from_the_audit_log(app, client, staff_token,
                                                              terminal):
    agent = terminal("agent")
    for _ in range(5):
        assert present_token(client, agent.token, b"{not json").status_code == 400
    today = dt.datetime.now(ZoneInfo(app.config["CITY_TIMEZONE"])).date()
    answer = ask(client, staff_token("auditor"), today)
    assert [(s["kind"], s["subject"]) for s in answer.json["signals"]] == [
        ("refusal_cluster", agent.terminal_id)]


def test_the_signals_come_as_csv_and_as_pdf(app, client, staff_token):
    night_shift()
    csv_answer = ask(client, staff_token("auditor"), NIGHT, ".csv")
    assert csv_answer.status_code == 200
    lines = csv_answer.get_data(as_text=True).splitlines()
    assert lines[0].startswith("day,kind,subject_type,subject,summary")
    assert lines[1].startswith(f"{NIGHT},outside_hours,agent,shop-night,")
    pdf = ask(client, staff_token("auditor"), NIGHT, ".pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_the_signals_are_for_auditors_and_admins(app, client, staff_token):
    answer = ask(client, staff_token("clerk"), NIGHT)
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.ROLE_NOT_ALLOWED


def test_reading_the_signals_is_audited(app, client, staff_token):
    ask(client, staff_token("auditor"), NIGHT)
    settle(database().engine)
    actions = session().execute(select(AuditRecord.action)).scalars().all()
    assert "ledger.signals.read" in actions


def test_the_daily_job_writes_the_days_reports_as_csv_and_pdf(app):
    night_shift()
    # the task's body in this test's app (called as a task, it would enter the app its
    # Celery was made from)
    assert signals_daily.run(str(NIGHT)) == {"day": str(NIGHT), "signals": 1}
    folder = Path(app.config["INSTANCE_DIR"]) / "signals"
    assert "shop-night" in (folder / f"signals-{NIGHT}.csv").read_text()
    assert (folder / f"signals-{NIGHT}.pdf").read_bytes().startswith(b"%PDF")
