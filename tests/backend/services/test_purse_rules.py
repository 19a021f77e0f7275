"""Purse rules are programme data: read from the services files at start, checked strictly."""

import pytest

from backend.config import ConfigError
from backend.services import PurseRule, ServiceModule
from backend.services.catalogue import load_modules
from tests.backend.services.test_loader import dist_info


@pytest.fixture
def city_file(tmp_path):
    """Write the city's services file; returns the config that points the hub at it."""

    def write(text: str) -> dict:
        path = tmp_path / "city-services.toml"
        path.write_text(text)
        return {"SERVICES": ("food",), "SERVICES_FILE": str(path)}

    return write


def test_the_default_file_gives_every_programme_its_purses():
    found = load_modules({"SERVICES": ()}, environ={})
    assert found["food"].purses == {"groceries": PurseRule(
        holder="household", cashable=False, carry_over=False,
        categories=frozenset({"rice", "eggs", "protein", "vegetables", "fruit", "tubers"}))}
    assert found["education"].purses["stipend"] == PurseRule(holder="citizen", cashable=True)
    assert found["family_hope"].purses["cash"] == PurseRule(holder="household", cashable=True)
    assert found["transport"].purses["transit"] == PurseRule(holder="citizen",
                                                             carry_over=False)
    assert found["elderly"].purses["allowance"] == PurseRule(holder="citizen", cashable=True)
    assert found["health"].purses == {} and found["civil_documents"].purses == {}


def test_the_citys_file_changes_only_the_keys_it_sets(city_file):
    config = city_file('[food.purses.groceries]\ndaily_cap = 50000\nmonthly_cap = 180000\n'
                       'agent_categories = ["e-warong"]\n')
    rule = load_modules(config, environ={})["food"].purses["groceries"]
    assert (rule.daily_cap, rule.monthly_cap) == (50_000, 180_000)
    assert rule.agent_categories == frozenset({"e-warong"})
    assert rule.holder == "household" and not rule.carry_over and "rice" in rule.categories


def test_the_citys_file_keeps_its_parameters_beside_the_purses(city_file):
    config = city_file("[food]\nmonthly_amount = 250000\n\n"
                       "[food.purses.groceries]\ndaily_cap = 50000\n")
    food = load_modules(config, environ={})["food"]
    assert food.config["monthly_amount"] == 250_000
    assert food.purses["groceries"].daily_cap == 50_000


def test_an_admins_rebuilt_module_keeps_the_files_rules(city_file):
    from backend.services.catalogue import load_catalogue

    catalogue = load_catalogue(city_file("[food.purses.groceries]\ndaily_cap = 50000\n"),
                               environ={})
    rebuilt = catalogue.build("food", {"monthly_amount": "1000"})
    assert rebuilt.purses["groceries"].daily_cap == 50_000


@pytest.mark.parametrize(("text", "named"), [
    ("[food.purses.groceries]\ndaily_limit = 5\n",
     "food.purses.groceries: unknown key 'daily_limit'"),
    ("[food.purses.groceries]\ndaily_cap = '5'\n", "food.purses.groceries.daily_cap: must be"),
    ("[food.purses.groceries]\ndaily_cap = 0\n", "food.purses.groceries.daily_cap: must be"),
    ("[food.purses.groceries]\ncashable = 1\n", "food.purses.groceries.cashable: must be"),
    ("[food.purses.groceries]\nagent_categories = []\n", "agent_categories: must be"),
    ("[food.purses.groceries]\nholder = 'family'\n", "food.purses.groceries.holder: must be"),
    ("[lottery.purses.tickets]\nholder = 'citizen'\n", "lottery: purses for a programme that"),
    ("[food.purses.snacks]\ncashable = true\n", "food.purses.snacks: no holder"),
    ("[food]\npurses = 3\n", "food.purses: must be"),
    ("[food.purses.groceries\n", "Expected ']'"),
])
def test_a_malformed_city_file_stops_the_hub_naming_the_file_and_key(city_file, text, named):
    config = city_file(text)
    with pytest.raises(ConfigError, match="city-services.toml") as stopped:
        load_modules(config, environ={})
    assert named in str(stopped.value)


def test_a_missing_city_file_stops_the_hub(tmp_path):
    with pytest.raises(ConfigError, match="none.toml: .*No such file"):
        load_modules({"SERVICES": ("food",), "SERVICES_FILE": str(tmp_path / "none.toml")},
                     environ={})


class PythonPurses(ServiceModule):
    key = "oldstyle"
    purses = {"points": PurseRule()}


OLDSTYLE = PythonPurses()


def test_a_module_declaring_purses_in_python_stops_the_hub(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    dist_info(tmp_path, "oldstyle", {"oldstyle": f"{__name__}:OLDSTYLE"})
    with pytest.raises(ConfigError, match="declares purses in Python"):
        load_modules({"SERVICES": ("oldstyle",)}, environ={})


def test_a_module_whose_allocated_purse_is_in_no_file_stops_the_hub(tmp_path, monkeypatch):
    """The food module's code is installed a second time under another key, with no
    services file declaring that key's purses."""
    monkeypatch.syspath_prepend(str(tmp_path))
    package = tmp_path / "food_copy"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import copy\nfrom services.food import module as food\n"
        "module = copy.copy(food)\nmodule.key = 'food_copy'\n")
    dist_info(tmp_path, "food_copy", {"food_copy": "food_copy:module"})
    with pytest.raises(ConfigError, match=r"no \[food_copy.purses.groceries\]"):
        load_modules({"SERVICES": ("food_copy",)}, environ={})


def test_a_plugins_file_declares_only_its_own_programme(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    package = tmp_path / "greedy"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from backend.services import ServiceModule\n"
        "class Greedy(ServiceModule):\n    key = 'greedy'\nmodule = Greedy()\n")
    (package / "services.toml").write_text(
        "[greedy.purses.points]\nholder = 'citizen'\n\n"
        "[food.purses.groceries]\ncashable = true\n")
    dist_info(tmp_path, "greedy", {"greedy": "greedy:module"})
    with pytest.raises(ConfigError, match=r"greedy/services.toml: food: a plugin's file "
                                          r"declares only its own programme"):
        load_modules({"SERVICES": ("greedy",)}, environ={})


def test_a_plugins_file_holds_purses_not_parameters(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    package = tmp_path / "chatty"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from backend.services import ServiceModule\n"
        "class Chatty(ServiceModule):\n    key = 'chatty'\nmodule = Chatty()\n")
    (package / "services.toml").write_text(
        "[chatty]\nmonthly_amount = 5\n\n[chatty.purses.points]\nholder = 'citizen'\n")
    dist_info(tmp_path, "chatty", {"chatty": "chatty:module"})
    with pytest.raises(ConfigError, match=r"chatty/services.toml: chatty: unknown key "
                                          r"'monthly_amount'"):
        load_modules({"SERVICES": ("chatty",)}, environ={})


def test_a_plugins_own_file_gives_it_its_purses(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    package = tmp_path / "points"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from backend.services import ServiceModule\n"
        "class Points(ServiceModule):\n    key = 'points'\nmodule = Points()\n")
    (package / "services.toml").write_text(
        "[points.purses.stars]\nholder = 'citizen'\ndaily_cap = 10\n")
    dist_info(tmp_path, "points", {"points": "points:module"})
    found = load_modules({"SERVICES": ("points",)}, environ={})
    assert found["points"].purses == {"stars": PurseRule(holder="citizen", daily_cap=10)}
