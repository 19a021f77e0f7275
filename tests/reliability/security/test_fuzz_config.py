"""Hypothesis against the configuration: any environment gives settings or a ConfigError.

Settings come from environment variables only, so whatever text an operator (or a
mistaken deployment file) puts there must either be used or refused with a
ConfigError naming the variable; never a traceback from deep inside a library at
start. First `backend.config.load` on its own, then the whole hub's start
(`create_app`), where the database URL, national number formats, service modules and
their parameters are checked too. Paths stay inside the test's folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend import config
from backend.app import create_app
from backend.config import PREFIX, SETTINGS, ConfigError
from backend.db import normalize_url

# What an environment variable can hold: any text without NUL (execve cannot pass it).
env_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                   max_size=40)
numbers = st.integers(-10**30, 10**30).map(str) | st.sampled_from(
    ["", " 7 ", "٣", "1_000", "0x10", "1e3", "3.0", "9" * 5000])
POSITIVE = ("ALLOCATION_BATCH", "SESSION_TTL", "ACCESS_TOKEN_TTL", "CARD_VALIDITY_DAYS",
            "CHALLENGE_TTL", "CRL_VALIDITY_HOURS")
PATHS = {"INSTANCE_DIR", "CA_DIR", "AUDIT_CHECKPOINT_DIR", "AUDIT_SIGNING_KEY",
         "DOCUMENT_SIGNING_KEY", "SERVICES_FILE", "FONT_DIRS"}
urls = env_text | st.sampled_from([
    "sqlite://", "sqlite:///", "postgresql://", "postgres://u@/db", "mysql://u@h/db",
    "oracle://x", "sqlite:///:memory:", "postgresql://u@127.0.0.1:0/db", "://", "http://x",
    "postgresql+nodriver://u@h/d", "sqlite+pysqlite:///x.db?mode=ro"])
values = {s.name: (numbers | env_text) if s.parse is not str else env_text
          for s in SETTINGS if s.name not in PATHS}
values["DATABASE_URL"] = urls
values["NATIONAL_ID_FORMATS"] = env_text | st.sampled_from(["nik,thai", "generic", " , "])
values["SERVICES"] = env_text | st.sampled_from(["food", "food,nope", "food, health", ","])
values["LOG_LEVEL"] = env_text | st.sampled_from(["DEBUG", "warning", "10", "LOUD"])
values["CITY_TIMEZONE"] = env_text | st.sampled_from(["Asia/Bangkok", "UTC", "America",
                                                     "../../etc/passwd", "Mars/Olympus"])
service_params = st.dictionaries(
    st.sampled_from(["FOOD_MONTHLY_AMOUNT", "FOOD_DECILE_THRESHOLD", "FOOD_NOPE",
                     "TRANSPORT_MIN_AGE", "HEALTH_X", "NOPE_X"]).map(
        lambda name: f"SATUKARTU_SERVICE_{name}"),
    numbers | env_text, max_size=3)
environments = st.fixed_dictionaries(
    {}, optional={PREFIX + name: strategy for name, strategy in values.items()})


def _settings_or_config_error(environ: dict[str, str]) -> None:
    try:
        loaded = config.load(environ)
    except ConfigError as refused:
        assert str(refused).startswith(PREFIX)
    else:
        assert set(loaded) >= {s.name for s in SETTINGS}
        _usable(loaded)


def _usable(loaded: dict) -> None:
    """A value that is accepted can be used: no refusal deferred to the first request."""
    ZoneInfo(loaded["CITY_TIMEZONE"])
    assert loaded["LOG_LEVEL"] in logging.getLevelNamesMapping()
    assert all(loaded[name] >= 1 for name in POSITIVE)
    assert loaded["PROXY_HOPS"] >= 0 and 1 <= loaded["PIN_MAX_TRIES"] <= 10
    assert normalize_url(loaded["DATABASE_URL"]).get_backend_name() in ("sqlite", "postgresql")


@settings(max_examples=1000, deadline=None)
@given(environ=environments)
def test_load_gives_settings_or_a_config_error_naming_the_variable(environ):
    _settings_or_config_error(environ)


@settings(max_examples=300, deadline=None)
@given(environ=environments, paths=st.dictionaries(st.sampled_from(sorted(PATHS)),
                                                     env_text.filter(lambda t: "/" not in t),
                                                     max_size=3))
def test_paths_inside_the_instance_give_settings_or_a_config_error(tmp_path_factory, environ,
                                                                   paths):
    base = tmp_path_factory.mktemp("cfg")
    environ = dict(environ)
    for name, text in paths.items():
        environ[PREFIX + name] = str(base / (text or "x"))
    _settings_or_config_error(environ)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(environ=environments, params=service_params,
       services_file=st.none() | env_text | st.sampled_from(["[food]\nmonthly_amount = 5",
                                                              "[food", "x = = 1"]))
def test_the_hub_starts_or_refuses_with_a_config_error(tmp_path, environ, params,
                                                       services_file):
    instance = tmp_path / "instance"
    environ = {**environ, **params, PREFIX + "INSTANCE_DIR": str(instance),
               PREFIX + "CA_DIR": str(instance / "ca")}
    if services_file is not None:
        path = Path(tmp_path / "services.toml")
        path.write_text(services_file, encoding="utf-8")
        environ[PREFIX + "SERVICES_FILE"] = str(path)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    with mock.patch.dict(os.environ, {**clean, **environ}, clear=True):
        try:
            app = create_app()
        except ConfigError as refused:
            assert str(refused)
        else:
            app.extensions["satukartu.db"].engine.dispose()
