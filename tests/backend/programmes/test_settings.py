"""Changing a programme: validated as the module is built, stored with its history and
audit record, refused without approval where amounts or eligibility rules change."""

import json
import logging

import pytest
from sqlalchemy import func, select

from backend.db import session
from backend.errors import ApiError
from backend.programmes import settings
from backend.programmes.models import ProgrammeChange, ProgrammeEpoch, ProgrammeSetting
from backend.reasons import Reason
from backend.services.catalogue import modules
from tests.backend.programmes.conftest import ADMIN, store_override


def stored_rows():
    sess = session()
    return (sess.scalar(select(func.count()).select_from(ProgrammeSetting)),
            sess.scalar(select(func.count()).select_from(ProgrammeChange)),
            sess.scalar(select(ProgrammeEpoch.epoch)))


def refusal(call):
    with pytest.raises(ApiError) as refused:
        call()
    session().rollback()
    return refused.value


def test_an_amount_change_needs_approval(app):
    assert settings.needs_approval("food", None, {"monthly_amount": "250000"})
    assert settings.needs_approval("food", True, {"decile_threshold": "3"})


def test_enabling_or_disabling_alone_needs_no_approval(app):
    assert not settings.needs_approval("food", False, {})
    assert not settings.needs_approval("food", True, {})


def test_an_amount_change_without_approval_is_refused_naming_what_to_submit(app):
    before = stored_rows()
    refused = refusal(lambda: settings.apply_change(
        session(), "food", enabled=None, parameters={"monthly_amount": "250000"},
        principal=ADMIN))
    assert refused.reason == Reason.APPROVAL_REQUIRED
    assert refused.details["kind"] == "programme.change"
    assert refused.details["payload"] == {"key": "food", "enabled": None,
                                          "parameters": {"monthly_amount": "250000"}}
    assert stored_rows() == before


def test_a_value_the_module_refuses_is_refused_per_parameter_and_nothing_is_stored(app):
    before = stored_rows()
    refused = refusal(lambda: settings.apply_change(
        session(), "food", enabled=None, approval_id=41, principal=ADMIN,
        parameters={"monthly_amount": "lots", "max_redemption": "150000"}))
    assert refused.reason == Reason.VALIDATION_FAILED
    assert [e["field"] for e in refused.details["errors"]] == ["parameters.monthly_amount"]
    assert "lots" in refused.details["errors"][0]["problem"]
    assert stored_rows() == before
    assert modules()["food"].config["max_redemption"] == 200_000


def test_an_unknown_parameter_is_refused_by_name(app):
    refused = refusal(lambda: settings.apply_change(
        session(), "food", enabled=None, approval_id=41, principal=ADMIN,
        parameters={"monthly_ammount": "250000"}))
    assert refused.reason == Reason.VALIDATION_FAILED
    assert refused.details["errors"] == [{
        "field": "parameters.monthly_ammount", "problem": "the module has no such parameter",
        "type": "unknown_parameter"}]


def test_a_bad_value_is_refused_even_without_approval(app):
    refused = refusal(lambda: settings.apply_change(
        session(), "food", enabled=None, principal=ADMIN,
        parameters={"monthly_amount": "lots"}))
    assert refused.reason == Reason.VALIDATION_FAILED


def test_an_unknown_programme_is_refused(app):
    refused = refusal(lambda: settings.apply_change(
        session(), "lottery", enabled=True, parameters={}, principal=ADMIN))
    assert refused.reason == Reason.UNKNOWN_SERVICE and refused.status == 404


def test_an_approved_change_runs_at_once_in_this_process(app, approved_change):
    approved_change("food", monthly_amount="250000")
    assert modules()["food"].config["monthly_amount"] == 250_000
    view = settings.describe("food")
    amount = next(p for p in view.parameters if p.name == "monthly_amount")
    assert (amount.value, amount.source, amount.config_value) == ("250000", "database",
                                                                 "200000")
    assert view.version == 1 and view.updated_by == "staff:ratna"


def test_a_change_is_kept_in_the_history_with_its_approval(app, approved_change):
    approved_change("food", monthly_amount="250000")
    approved_change("food", enabled=False)
    newest, oldest = settings.history("food")
    assert (oldest.version, oldest.approval_id) == (1, 41)
    assert oldest.before == {"enabled": True, "parameters": {"monthly_amount": "200000"}}
    assert oldest.after == {"enabled": True, "parameters": {"monthly_amount": "250000"}}
    assert newest.after == {"enabled": False, "parameters": {}}


def test_the_audit_record_holds_before_and_after(app, audit_log, audit_chain_intact):
    settings.apply_change(session(), "transport", enabled=False, parameters={},
                          principal=ADMIN)
    session().commit()
    change = audit_log(action="programme.change")[-1]
    assert (change["subject_type"], change["subject_id"], change["actor"]) == (
        "programme", "transport", "ratna")
    details = json.loads(change["details"])
    assert details["before"] == {"enabled": True, "parameters": {}}
    assert details["after"] == {"enabled": False, "parameters": {}}
    assert details["approval_id"] is None and details["version"] == 1
    audit_chain_intact()


def test_a_reset_parameter_goes_back_to_the_configured_value(app, approved_change):
    approved_change("food", monthly_amount="250000")
    approved_change("food", monthly_amount=None)
    assert modules()["food"].config["monthly_amount"] == 200_000
    amount = next(p for p in settings.describe("food").parameters if p.name == "monthly_amount")
    assert (amount.source, amount.stored) == ("default", None)


def test_an_invalid_stored_override_is_left_out_and_the_hub_runs_on(app, caplog,
                                                                    monkeypatch):
    logger = logging.getLogger("backend.programmes.live")
    # Whatever another test in this process did to the logger (a logging set-up that
    # disables existing loggers), this one is about what the hub says.
    monkeypatch.setattr(logger, "disabled", False)
    monkeypatch.setattr(logger, "handlers", [caplog.handler])
    caplog.set_level(logging.WARNING, logger=logger.name)
    store_override("food", {"monthly_amount": "lots", "basket_size": "3",
                            "max_redemption": "150000"})
    food = modules()["food"]
    assert "programme food: stored parameters left out" in caplog.text
    assert food.config["monthly_amount"] == 200_000  # the configuration's
    assert food.config["max_redemption"] == 150_000  # the good override still applies
    view = settings.describe("food")
    assert set(view.ignored) == {"monthly_amount", "basket_size"}
    amount = next(p for p in view.parameters if p.name == "monthly_amount")
    assert amount.stored == "lots" and "lots" in amount.ignored
    assert amount.value == "200000"


def test_stored_parameters_that_are_not_a_table_are_left_out(app):
    store_override("food", ["monthly_amount", "1"])
    assert modules()["food"].config["monthly_amount"] == 200_000
    assert settings.describe("food").ignored


def test_an_admin_can_correct_an_override_left_out(app, approved_change):
    store_override("food", {"monthly_amount": "lots"})
    approved_change("food", monthly_amount="210000")
    assert modules()["food"].config["monthly_amount"] == 210_000
    assert settings.describe("food").ignored == {}


def test_the_list_shows_every_installed_programme_with_its_sources(app):
    listed = {view.key: view for view in settings.list_programmes()}
    assert {"food", "health", "transport"} <= set(listed)
    food = listed["food"]
    assert food.enabled and food.enabled_source == "config" and food.available
    assert all(p.needs_approval for p in food.parameters)
    assert {p.source for p in food.parameters} == {"default"}
