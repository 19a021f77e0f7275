"""Secrets from files, as container secrets are mounted: SATUKARTU_<NAME>_FILE for a secret
setting, and a password file that completes the database's or broker's URL."""

import pytest
from click.testing import CliRunner

from backend import config
from backend.cli import main
from backend.config import ConfigError


def secret_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_secret_comes_from_its_file_first_line(tmp_path):
    path = secret_file(tmp_path, "key", "s3cret-signing-key\nignored\n")
    loaded = config.load({"SATUKARTU_SECRET_KEY_FILE": path,
                          "SATUKARTU_INSTANCE_DIR": str(tmp_path)})
    assert loaded["SECRET_KEY"] == "s3cret-signing-key"


def test_a_setting_that_is_not_secret_has_no_file_variant(tmp_path):
    path = secret_file(tmp_path, "city", "Kota Berkas\n")
    loaded = config.load({"SATUKARTU_CITY_NAME_FILE": path,
                          "SATUKARTU_INSTANCE_DIR": str(tmp_path)})
    assert loaded["CITY_NAME"] == "Kota Contoh"


def test_both_the_variable_and_its_file_is_refused(tmp_path):
    path = secret_file(tmp_path, "key", "one\n")
    with pytest.raises(ConfigError, match="SATUKARTU_SECRET_KEY and SATUKARTU_SECRET_KEY_FILE"):
        config.load({"SATUKARTU_SECRET_KEY": "two", "SATUKARTU_SECRET_KEY_FILE": path})


def test_an_unreadable_file_names_its_variable(tmp_path):
    with pytest.raises(ConfigError, match="SATUKARTU_OIDC_CLIENT_SECRET_FILE: cannot read"):
        config.load({"SATUKARTU_OIDC_CLIENT_SECRET_FILE": str(tmp_path / "missing")})


def test_a_password_file_completes_the_database_url(tmp_path):
    path = secret_file(tmp_path, "db-password", "p@ss:word/1\n")
    loaded = config.load({
        "SATUKARTU_DATABASE_URL": "postgresql://satukartu_app@db:5432/satukartu",
        "SATUKARTU_DATABASE_PASSWORD_FILE": path, "SATUKARTU_INSTANCE_DIR": str(tmp_path)})
    assert loaded["DATABASE_URL"] == ("postgresql://satukartu_app:p%40ss%3Aword%2F1"
                                      "@db:5432/satukartu")


def test_a_password_file_for_a_url_without_a_user_is_refused(tmp_path):
    path = secret_file(tmp_path, "broker-password", "guest\n")
    with pytest.raises(ConfigError, match="SATUKARTU_BROKER_PASSWORD_FILE: the URL"):
        config.load({"SATUKARTU_BROKER_URL": "amqp://broker:5672//",
                     "SATUKARTU_BROKER_PASSWORD_FILE": path})


def test_config_show_never_prints_a_secret_from_a_file(tmp_path):
    key = secret_file(tmp_path, "key", "never-print-me\n")
    password = secret_file(tmp_path, "broker-password", "never-print-this-either\n")
    shown = CliRunner().invoke(main, ["config", "show"], env={
        "SATUKARTU_SECRET_KEY_FILE": key, "SATUKARTU_INSTANCE_DIR": str(tmp_path),
        "SATUKARTU_BROKER_URL": "amqp://satukartu@broker:5672//",
        "SATUKARTU_BROKER_PASSWORD_FILE": password})
    assert shown.exit_code == 0, shown.output
    assert "never-print" not in shown.output
    assert "SATUKARTU_SECRET_KEY=***" in shown.output
    assert "SATUKARTU_BROKER_URL=amqp://satukartu:***@broker:5672//" in shown.output


def test_a_password_file_completes_the_listen_url(tmp_path):
    path = secret_file(tmp_path, "listen-password", "listen-pass\n")
    loaded = config.load({
        "SATUKARTU_DATABASE_LISTEN_URL": "postgresql://satukartu_app@db:5432/satukartu",
        "SATUKARTU_DATABASE_LISTEN_PASSWORD_FILE": path, "SATUKARTU_INSTANCE_DIR": str(tmp_path)})
    assert loaded["DATABASE_LISTEN_URL"] == "postgresql://satukartu_app:listen-pass@db:5432/satukartu"


def test_a_listen_url_that_is_not_postgresql_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="SATUKARTU_DATABASE_LISTEN_URL"):
        config.load({"SATUKARTU_DATABASE_LISTEN_URL": f"sqlite:///{tmp_path}/x.db",
                     "SATUKARTU_INSTANCE_DIR": str(tmp_path)})
