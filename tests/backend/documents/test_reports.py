"""The monthly programme report: its numbers are the ledger's, its PDF shows them."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from backend.db import session
from backend.documents import monthly_report, reports
from backend.reasons import Reason
from tests.backend.documents import pdftools

DISTRICT_A, DISTRICT_B = "3171010001", "3171020005"
BASKET = {"items": [{"name": "Beras 5 kg", "category": "rice", "quantity": 1,
                     "unit_price": 68_000},
                    {"name": "Telur 1 kg", "category": "eggs", "quantity": 2,
                     "unit_price": 28_000}],
          "amount": 124_000}


def this_month():
    return datetime.now(ZoneInfo("Asia/Jakarta")).strftime("%Y-%m")


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def city_month(citizen, household, allocate_now, fund, card_session, call_service):
    """Food credit for three households in two districts, one redemption; an elderly
    allowance funded and partly withdrawn."""
    heads = [citizen(region_code=region) for region in (DISTRICT_A, DISTRICT_A, DISTRICT_B)]
    for head in heads:
        household(head=head, welfare_decile=2)
    household(head=citizen(region_code=DISTRICT_B), welfare_decile=9)  # not eligible
    allocate_now("food")
    redeemed = call_service(card_session(heads[0], terminal_kind="agent"), "food", "redeem",
                            BASKET)
    assert redeemed.status_code == 200, redeemed.json
    elder = citizen(region_code=DISTRICT_B)
    fund("elderly", "allowance", elder, 600_000)
    withdrawn = call_service(card_session(elder, terminal_kind="counter"), "elderly",
                             "withdraw", {"amount": 250_000})
    assert withdrawn.status_code == 200, withdrawn.json
    return this_month()


def test_figures_per_programme_and_district_are_the_ledgers(app, city_month):
    report = reports.monthly(session(), city_month, "Asia/Jakarta")
    assert report.by_region["food"] == {
        "317101": reports.Figures(beneficiaries=2, granted=400_000, spent=124_000,
                                  redeemers=1, transactions=1),
        "317102": reports.Figures(beneficiaries=1, granted=200_000),
    }
    assert report.by_region["elderly"] == {
        "317102": reports.Figures(beneficiaries=1, granted=600_000, spent=250_000,
                                  redeemers=1, transactions=1)}


def test_overall_counts_each_beneficiary_once_and_adds_up(app, city_month):
    report = reports.monthly(session(), city_month, "Asia/Jakarta")
    assert report.overall.beneficiaries == 4
    assert report.overall.granted == 1_200_000 and report.overall.spent == 374_000
    assert report.programme_total("food").redemption_rate == pytest.approx(124 / 600)


def test_granted_less_spent_is_what_beneficiaries_hold(app, city_month):
    report = reports.monthly(session(), city_month, "Asia/Jakarta")
    held = session().execute(text(
        "SELECT coalesce(sum(balance), 0) FROM ledger_accounts "
        "WHERE owner_type IN ('citizen', 'household')")).scalar_one()
    assert report.overall.granted - report.overall.spent - report.overall.expired == held


def test_another_month_has_no_figures(app, city_month):
    year, month = map(int, city_month.split("-"))
    earlier = f"{year - 1}-{month:02d}"
    assert reports.monthly(session(), earlier, "Asia/Jakarta").by_region == {}


def test_village_level_splits_regions_further(app, city_month):
    report = reports.monthly(session(), city_month, "Asia/Jakarta", level="village")
    assert set(report.by_region["food"]) == {DISTRICT_A, DISTRICT_B}


def test_report_pdf_shows_the_programmes_amounts_rates_and_regions(app, city_month, tmp_path):
    _, pdf = monthly_report.build(session(), city_month)
    words = pdftools.text(pdf)
    for expected in ("LAPORAN BULANAN PROGRAM SATUKARTU", "Bantuan Pangan Non Tunai",
                     "Kartu Lansia Jakarta", "Rp 600.000", "Rp 124.000", "Rp 400.000",
                     "20,7 %", "31,0 %", "41,7 %", "Rp 1.200.000", "Rp 374.000",
                     "31.71.01", "31.71.02"):
        assert expected in words, expected
    pages = pdftools.pages(pdf, tmp_path, dpi=60)
    assert pages and all(pdftools.ink_share(page) > 0.01 for page in pages)


def test_admin_downloads_the_report_and_its_figures(client, staff_token, city_month):
    token = staff_token("admin")
    pdf = client.get(f"/api/v1/reports/monthly?month={city_month}", headers=_auth(token))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    figures = client.get(f"/api/v1/reports/monthly/figures?month={city_month}&programme=food",
                         headers=_auth(token)).json
    assert list(figures["programmes"]) == ["food"]
    assert figures["programmes"]["food"]["total"]["granted"] == 600_000


def test_a_clerk_may_not_read_reports(client, staff_token, app):
    answer = client.get(f"/api/v1/reports/monthly?month={this_month()}",
                        headers=_auth(staff_token("clerk")))
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.ROLE_NOT_ALLOWED


def test_a_malformed_month_is_refused_with_a_reason(client, staff_token, app):
    answer = client.get("/api/v1/reports/monthly?month=2026-13",
                        headers=_auth(staff_token("auditor")))
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.VALIDATION_FAILED


def test_month_bounds_follow_the_city_zone():
    start, end = reports.month_bounds("2026-03", "Asia/Jakarta")
    assert (start.isoformat(), end.isoformat()) == ("2026-02-28T17:00:00+00:00",
                                                    "2026-03-31T17:00:00+00:00")
