"""The loader: modules through entry points, names and declarations checked, parameters."""

from enum import StrEnum

import pytest

from backend.config import ConfigError
from backend.services import Action, ServiceModule
from backend.services.catalogue import load_modules


def dist_info(site, name, entries):
    """A minimal installed distribution, as pip would leave it, exposing `entries`."""
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "\n".join(f"{key} = {target}" for key, target in entries.items())
    (info / "entry_points.txt").write_text(f"[satukartu.services]\n{lines}\n")
    return site


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_every_city_programme_is_found_through_entry_points():
    found = load_modules({"SERVICES": ()}, environ={})
    assert {"food", "health", "education", "family_hope", "transport", "elderly"} <= set(found)


def test_only_the_enabled_modules_are_loaded():
    assert set(load_modules({"SERVICES": ("food", "health")}, environ={})) == {"food", "health"}


def test_enabling_a_module_not_installed_stops_the_hub():
    with pytest.raises(ConfigError, match="not installed"):
        load_modules({"SERVICES": ("food", "lottery")}, environ={})


def test_a_badly_named_entry_point_stops_the_hub(site):
    dist_info(site, "shady", {"Food-Plus": "services.food:module"})
    with pytest.raises(ConfigError, match="Food-Plus"):
        load_modules({"SERVICES": ("food",)}, environ={})


def test_a_module_calling_itself_by_another_name_stops_the_hub(site):
    dist_info(site, "impostor", {"groceries": "services.food:module"})
    with pytest.raises(ConfigError, match="calls itself 'food'"):
        load_modules({"SERVICES": ("groceries",)}, environ={})


def test_something_else_than_a_module_stops_the_hub(site):
    dist_info(site, "notamodule", {"clock": "datetime:datetime"})
    with pytest.raises(ConfigError, match="ServiceModule"):
        load_modules({"SERVICES": ("clock",)}, environ={})


def test_parameters_come_from_the_file_then_the_environment(tmp_path):
    settings = tmp_path / "services.toml"
    settings.write_text("[food]\nmonthly_amount = 250000\nmax_redemption = 100000\n")
    found = load_modules({"SERVICES": ("food",), "SERVICES_FILE": str(settings)},
                         environ={"SATUKARTU_SERVICE_FOOD_MAX_REDEMPTION": "90000"})
    assert found["food"].config["monthly_amount"] == 250_000
    assert found["food"].config["max_redemption"] == 90_000
    assert found["food"].config["decile_threshold"] == 4


def test_a_key_with_an_underscore_gets_its_own_parameters():
    found = load_modules({"SERVICES": ("family_hope",)},
                         environ={"SATUKARTU_SERVICE_FAMILY_HOPE_SCHOOL_AMOUNT": "400000"})
    assert found["family_hope"].config["school_amount"] == 400_000


def test_an_unknown_parameter_stops_the_hub():
    with pytest.raises(ConfigError, match="unknown parameters"):
        load_modules({"SERVICES": ("food",)},
                     environ={"SATUKARTU_SERVICE_FOOD_MONTHLY_AMMOUNT": "1"})


def test_an_unreadable_parameter_names_itself():
    with pytest.raises(ConfigError, match="monthly_amount"):
        load_modules({"SERVICES": ("food",)},
                     environ={"SATUKARTU_SERVICE_FOOD_MONTHLY_AMOUNT": "lots"})


def test_two_hubs_in_one_process_keep_their_own_parameters():
    cheap = load_modules({"SERVICES": ("food",)},
                         environ={"SATUKARTU_SERVICE_FOOD_MONTHLY_AMOUNT": "1000"})
    plain = load_modules({"SERVICES": ("food",)}, environ={})
    assert cheap["food"].config["monthly_amount"] == 1000
    assert plain["food"].config["monthly_amount"] == 200_000


class Broken(ServiceModule):
    key = "broken"
    actions = {"open": Action(lambda ctx, data: {}, purpose="", terminal_kinds=("atm",))}


BROKEN = Broken()


def test_a_misdeclared_action_stops_the_hub(site):
    dist_info(site, "broken", {"broken": f"{__name__}:BROKEN"})
    with pytest.raises(ConfigError) as stopped:
        load_modules({"SERVICES": ("broken",)}, environ={})
    assert "unknown terminal kinds" in str(stopped.value)
    assert "an audit purpose is required" in str(stopped.value)


class ClashingReason(StrEnum):
    NOT_FOUND = "not_found"


class Clashing(ServiceModule):
    key = "clashing"
    reasons = ClashingReason


CLASHING = Clashing()


def test_a_module_reason_that_is_the_hubs_own_stops_the_hub(site):
    dist_info(site, "clashing", {"clashing": f"{__name__}:CLASHING"})
    with pytest.raises(ConfigError, match="reason 'not_found' is the hub's own"):
        load_modules({"SERVICES": ("clashing",)}, environ={})
